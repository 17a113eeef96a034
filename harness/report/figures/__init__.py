"""The report's figures, in page order. Each module defines ``FIGURE``, a FigureSpec:
``data(results)`` returns a table of exactly what is drawn (it becomes the figure's
CSV), and ``draw(data, results)`` turns that table into a page.

Adding a figure: write ``harness/report/figures/<name>.py`` with a ``FIGURE``, add
its name to ``FIGURE_MODULES``, and add a two-line ``reports/<name>.py``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

import pandas as pd
from matplotlib.figure import Figure

from harness.errors import UsageError
from harness.report.load import Results

FIGURE_MODULES = ("latency", "speedup", "cliff", "counters", "limits", "scaling",
                  "sensitivity", "footprint")


@dataclass(frozen=True)
class FigureSpec:
    name: str       # file stem and command-line name
    title: str      # printed on the page; tests look for it in the PDF's text
    summary: str    # one line for the title page's list of figures
    data: Callable[[Results], pd.DataFrame]
    draw: Callable[[pd.DataFrame, Results], Figure]


def all_figures() -> list[FigureSpec]:
    return [importlib.import_module(f"{__name__}.{name}").FIGURE for name in FIGURE_MODULES]


def figure(name: str) -> FigureSpec:
    if name not in FIGURE_MODULES:
        raise UsageError(f"no figure {name!r}; figures are {', '.join(FIGURE_MODULES)}")
    return importlib.import_module(f"{__name__}.{name}").FIGURE
