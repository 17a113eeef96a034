#!/usr/bin/env python3
"""MEM-REC sensitivity: time per lookup vs k, k' and token-table size.

    python reports/sensitivity.py RESULTS_DIR... -o sensitivity.pdf   # or .png / .svg

Writes the figure and, beside it, sensitivity.csv with exactly the data drawn. Reads stored
results only. The drawing lives in harness/report/figures/sensitivity.py.
"""

import sys
from pathlib import Path

# Run from a checkout without installing: the harness package sits one level up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.report.cli import figure_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(figure_main("sensitivity"))
