#!/usr/bin/env python3
"""Throughput (lookups per second) vs threads, with linear scaling for comparison.

    python reports/scaling.py RESULTS_DIR... -o scaling.pdf   # or .png / .svg

Writes the figure and, beside it, scaling.csv with exactly the data drawn. Reads stored
results only. The drawing lives in harness/report/figures/scaling.py.
"""

import sys
from pathlib import Path

# Run from a checkout without installing: the harness package sits one level up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.report.cli import figure_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(figure_main("scaling"))
