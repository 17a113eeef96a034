#!/usr/bin/env python3
"""Footprint table: bytes and compression ratio per kernel, with Criteo-TB's
96.14 GB and the paper's 2900x.

    python reports/footprint.py RESULTS_DIR... -o footprint.pdf   # or .png / .svg

Writes the figure and, beside it, footprint.csv with exactly the data drawn. Reads stored
results only. The drawing lives in harness/report/figures/footprint.py.
"""

import sys
from pathlib import Path

# Run from a checkout without installing: the harness package sits one level up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.report.cli import figure_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(figure_main("footprint"))
