#!/usr/bin/env python3
"""Alias: ``python reports/NAME.py ARGS`` runs ``python reports/figure.py NAME ARGS``,
NAME being this file's name (one such file per figure; see reports/README.md)."""

import runpy
import sys
from pathlib import Path

sys.argv.insert(1, Path(__file__).stem)
runpy.run_path(str(Path(__file__).with_name("figure.py")), run_name="__main__")
