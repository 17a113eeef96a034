#!/usr/bin/env python3
"""Kernels against the machine's limits: each kernel's ns per row gathered and the
fraction of the measured gather limit it achieves (a roofline for gathers).

    python reports/limits.py RESULTS_DIR... LIMITS_DIR -o limits.pdf   # or .png / .svg

LIMITS_DIR is a `python -m harness limits` result of the same machine. Writes the
figure and, beside it, limits.csv with exactly the data drawn. Reads stored results
only. The drawing lives in harness/report/figures/limits.py.
"""

import sys
from pathlib import Path

# Run from a checkout without installing: the harness package sits one level up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.report.cli import figure_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(figure_main("limits"))
