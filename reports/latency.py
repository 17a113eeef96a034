#!/usr/bin/env python3
"""Embedding latency per batch vs batch size, baseline vs MEM-REC and peers, one
panel per thread count (the paper's latency figure).

    python reports/latency.py RESULTS_DIR... -o latency.pdf   # or .png / .svg

Writes the figure and, beside it, latency.csv with exactly the data drawn. Reads stored
results only. The drawing lives in harness/report/figures/latency.py.
"""

import sys
from pathlib import Path

# Run from a checkout without installing: the harness package sits one level up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.report.cli import figure_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(figure_main("latency"))
