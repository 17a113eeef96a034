#!/usr/bin/env python3
"""One figure of the report from stored results (nothing is rerun):

    python reports/figure.py FIGURE RESULTS_DIR... -o OUT.pdf   # or .png / .svg

FIGURE is one of latency, speedup, cliff, counters, limits, scaling, sensitivity,
footprint (the figures `python -m harness report` puts in its PDF). Writes the figure
and, beside it, OUT.csv with exactly the data drawn. ``python reports/FIGURE.py
RESULTS_DIR... -o OUT`` is the same (one alias per figure). The drawing lives in
harness/report/figures/FIGURE.py; the command line in harness/report/cli.py.
"""

import sys
from pathlib import Path

# Run from a checkout without installing: the harness package sits one level up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.report.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
