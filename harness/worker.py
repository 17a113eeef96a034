"""Stable entry point of the measured process: ``python -m harness.worker SPEC --result R``.

The worker lives in ``harness.execute.worker``; this name stays so that ``harness ab``
can run the worker of any revision, before or after the code moved into stage folders.
"""

from harness.execute.worker import main

if __name__ == "__main__":
    raise SystemExit(main())
