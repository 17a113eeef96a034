#!/usr/bin/env python3
"""The cache cliff: ns per lookup vs table size / LLC, with the LLC boundary and
MEM-REC's token-table size marked.

    python reports/cliff.py RESULTS_DIR... -o cliff.pdf   # or .png / .svg

Writes the figure and, beside it, cliff.csv with exactly the data drawn. Reads stored
results only. The drawing lives in harness/report/figures/cliff.py.
"""

import sys
from pathlib import Path

# Run from a checkout without installing: the harness package sits one level up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.report.cli import figure_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(figure_main("cliff"))
