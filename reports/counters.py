#!/usr/bin/env python3
"""LLC misses and DRAM bytes per lookup, each series labelled with its source
(perf, cachegrind, model), or a panel saying why none were counted.

    python reports/counters.py RESULTS_DIR... -o counters.pdf   # or .png / .svg

Writes the figure and, beside it, counters.csv with exactly the data drawn. Reads stored
results only. The drawing lives in harness/report/figures/counters.py.
"""

import sys
from pathlib import Path

# Run from a checkout without installing: the harness package sits one level up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.report.cli import figure_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(figure_main("counters"))
