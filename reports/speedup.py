#!/usr/bin/env python3
"""Speedup (baseline / MEM-REC latency) vs batch size and vs table size in LLC
multiples, with the paper's "up to 3.4x" (the paper's speedup figure).

    python reports/speedup.py RESULTS_DIR... -o speedup.pdf   # or .png / .svg

Writes the figure and, beside it, speedup.csv with exactly the data drawn. Reads stored
results only. The drawing lives in harness/report/figures/speedup.py.
"""

import sys
from pathlib import Path

# Run from a checkout without installing: the harness package sits one level up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.report.cli import figure_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(figure_main("speedup"))
