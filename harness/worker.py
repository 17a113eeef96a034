"""Stable entry point of the measured process: ``python -m harness.worker SPEC --result R``.

The worker lives in ``harness.execute.worker``; this name stays so that ``harness ab``
can run the worker of any revision, before or after the code moved into stage folders.
"""

import os
import sys

from harness.execute.worker import main

if __name__ == "__main__":
    status = main()
    # Every result is written (atomically) by now: skip the interpreter's teardown, which
    # took 1-3 s per worker (torch's and numba's exit, freeing GBs of tables page by page).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
