"""The look shared by every page: an A4-landscape page with a title, the slice drawn,
axes, a legend column (kernels by colour, machines by line style and marker), notes
on what is missing and why, and a provenance footer naming machine, date and pinning.

Colour says which kernel (baseline dark grey, MEM-REC highlighted in warm colours,
peers in cool ones); line style and marker say which machine, so several machines
overlay on one axis. Pages are ``matplotlib.figure.Figure`` objects built without
pyplot, so nothing global is touched and no display is needed.
"""

from __future__ import annotations

import textwrap
from contextlib import contextmanager

import matplotlib
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from harness.report.load import MachineInfo, Results
from harness.report.select import display_label, role, series_order

PAGE_SIZE = (11.69, 8.27)  # A4 landscape, inches
RC = {
    "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
    "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.grid": True, "grid.alpha": 0.3,
    "grid.linewidth": 0.5, "axes.spines.top": False, "axes.spines.right": False,
    "pdf.fonttype": 42, "ps.fonttype": 42,   # TrueType: selectable, searchable text
    "svg.fonttype": "none", "figure.dpi": 100, "savefig.dpi": 150,
}
BASELINE_COLOR = "#333333"
MEMREC_COLORS = ("#d62728", "#ff7f0e", "#8c1c13", "#e377c2", "#bc5a00", "#f4a582")
PEER_COLORS = ("#1f77b4", "#2ca02c", "#9467bd", "#17becf", "#8c564b", "#7f7f7f",
               "#bcbd22", "#393b79")
MACHINE_STYLES = (("-", "o"), ("--", "s"), (":", "^"), ("-.", "D"), ((0, (5, 1, 1, 1)), "v"),
                  ((0, (1, 1)), "P"))
ERRORBAR_NOTE = {
    "iqr": "Error bars: interquartile range (p25-p75) of per-batch latency",
    "ci": "Error bars: 95% bootstrap confidence interval of the ratio of medians",
}
# Noisy or unstable points (harness.report.quality): drawn, but open, and never a headline.
HOLLOW_NOTE = "hollow marker: noisy or unstable point (title page: why); no headline"
HOLLOW_STYLE = {"color": "#444444", "linestyle": "none", "marker": "o",
                "markerfacecolor": "white"}
MAX_NOTE_LINES = 7
NOTE_WIDTH = 180  # characters of 7.5 pt text across the page
LEGEND_WRAP = 31


@contextmanager
def report_style():
    """Apply the report's matplotlib settings for drawing and saving, then restore."""
    with matplotlib.rc_context(RC):
        yield


class Palette:
    """A stable colour per (kernel, label) across every page of one report."""

    def __init__(self, results: Results):
        self.machines = results.machines
        self.colors: dict[tuple[str, str], str] = {}
        pairs = series_order(results.points)
        for r, fixed, cmap in (("memrec", MEMREC_COLORS, "autumn"), ("peer", PEER_COLORS, "winter")):
            mine = [kl for kl in pairs if role(kl[0]) == r]
            colors = list(fixed)
            if len(mine) > len(colors):  # more series than distinct fixed colours
                sample = matplotlib.colormaps[cmap]
                colors = [matplotlib.colors.to_hex(sample(i / max(1, len(mine) - 1) * 0.85))
                          for i in range(len(mine))]
            self.colors.update({kl: colors[i] for i, kl in enumerate(mine)})
        self.colors.update({kl: BASELINE_COLOR for kl in pairs if role(kl[0]) == "baseline"})

    def each_series(self, frame):
        """(kernel, label, rows, style): one line per series and machine, in report order."""
        for kernel, label in series_order(frame):
            rows = frame[(frame["kernel"] == kernel) & (frame["label"] == label)]
            for key, s in rows.groupby("machine", sort=False):
                yield kernel, label, s, self.line(kernel, label, self.machines[key])

    def line(self, kernel: str, label: str, machine: MachineInfo) -> dict:
        """Keyword arguments for ``ax.errorbar``/``ax.plot`` of one series."""
        linestyle, marker = MACHINE_STYLES[machine.index % len(MACHINE_STYLES)]
        highlighted = role(kernel) == "memrec"
        return {"color": self.colors.get((kernel, label), "#000000"),
                "linestyle": linestyle, "marker": marker,
                "linewidth": 2.2 if highlighted else 1.4,
                "markersize": 5.5 if highlighted else 4.5,
                "zorder": 3 if highlighted else 2}


def band(ax, x, y, lower, upper, style: dict) -> None:
    """Draw ``y`` against ``x`` with a bar from ``lower`` to ``upper`` at each point (an
    interquartile range or an interval); a missing bound draws no bar there."""
    ax.errorbar(x, y, yerr=[(y - lower).clip(lower=0), (upper - y).clip(lower=0)],
                capsize=2.5, elinewidth=0.9, **style)


def hollow(ax, x, y, style: dict) -> None:
    """Redraw the markers at ``x``, ``y`` open (white inside, the series' colour and
    marker around): the points whose numbers the harness cannot vouch for."""
    ax.plot(x, y, linestyle="none", marker=style["marker"], color=style["color"],
            markerfacecolor="white", markeredgewidth=1.3,
            markersize=style.get("markersize", 4.5) + 1, zorder=style.get("zorder", 2) + 1)


def hollow_flagged(ax, page, s, x: str, y: str, style: dict) -> None:
    """Open markers over the rows of series ``s`` whose ``hollow`` column is true, and
    the legend line that says what they mean."""
    mask = s["hollow"].fillna(False).astype(bool) if "hollow" in s else None
    if mask is None or not mask.any():
        return
    hollow(ax, s.loc[mask, x], s.loc[mask, y], style)
    page.reference(HOLLOW_NOTE, HOLLOW_STYLE)


def wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width, break_long_words=False,
                                   break_on_hyphens=False)) or text


def _run_date(manifest: dict) -> str:
    stamp = manifest.get("finished") or manifest.get("started") or manifest.get("created", "")
    return stamp.replace("T", " ").replace("+00:00", " UTC")[:20].strip() or "date unknown"


def pinning_text(manifest: dict) -> str:
    """'pinned CPUs 0-1 (socket 0, SMT off); threads run 1, 2'."""
    requested = manifest.get("requested", {}).get("pinning", {}) or {}
    effective = manifest.get("effective", {}) or {}
    cpus = effective.get("pinning_cpus", "?")
    smt = requested.get("smt")
    where = []
    if requested.get("socket") is not None:
        where.append(f"socket {requested['socket']}")
    if smt is not None:
        where.append(f"SMT {'on' if smt else 'off'}")
    threads = effective.get("threads_runnable") or []
    text = f"pinned CPUs {cpus}" + (f" ({', '.join(where)})" if where else "")
    if threads:
        text += f"; threads run {', '.join(map(str, threads))}"
    return text


def footer_lines(results: Results) -> list[str]:
    """One provenance line per result directory: machine, date, pinning, scenario, commit."""
    lines = []
    for src in results.sources:
        m = src.manifest
        info = results.machines[src.machine_key]
        scenario = m.get("scenario", {}) or {}
        name = scenario.get("name", "?") + (" --quick" if scenario.get("quick") else "")
        git = m.get("git", {}) or {}
        commit = str(git.get("commit", "unknown"))[:10] + ("+dirty" if git.get("dirty") else "")
        lines.append(f"{info.label} | run {_run_date(m)} | {pinning_text(m)} | "
                     f"scenario {name} | commit {commit}")
    return lines


def log_axis(ax, axis: str, base: int = 10, values=None) -> None:
    """Log scale; with ``values`` (e.g. batch sizes), ticks at exactly those values."""
    getattr(ax, f"set_{axis}scale")("log", base=base)
    target = ax.xaxis if axis == "x" else ax.yaxis
    if values is not None and len(values):
        target.set_ticks(sorted(set(values)))
        target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        target.set_minor_formatter(NullFormatter())
    elif base == 10:  # 1, 2, 5 per decade, written plainly: easier to read off than 10^k
        target.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        target.set_major_formatter(FuncFormatter(_plain))
        target.set_minor_formatter(NullFormatter())


def _plain(value: float, _pos=None) -> str:
    """Tick label without exponents: 0.02, 5, 200, 5k, 2M, 1G."""
    for threshold, scale, suffix in ((1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e5, 1e3, "k")):
        if abs(value) >= threshold:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


def ratio_formatter() -> FuncFormatter:
    return FuncFormatter(lambda v, _: f"{v:g}x")


def ratio_axis(ax, axis: str = "y") -> None:
    """Log scale for ratios, labelled 0.1x 0.2x 0.5x 1x 2x 5x ..."""
    getattr(ax, f"set_{axis}scale")("log")
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    target.set_major_formatter(ratio_formatter())
    target.set_minor_formatter(NullFormatter())


def no_data(ax, lines: list[str], title: str | None = None) -> None:
    """Turn an axis into a panel that says why it has nothing to draw."""
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_color("#bbbbbb")
    if title:
        ax.set_title(title)
    width_in = ax.get_position().width * ax.figure.get_figwidth()
    text = "\n".join(wrap(line, max(30, int(width_in * 13))) for line in lines)
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes,
            fontsize=9, color="#444444", linespacing=1.4)


class Page:
    """One report page: title, subtitle, a grid of axes, legends, notes and footer."""

    LEGEND_LEFT = 0.755

    def __init__(self, title: str, subtitle: str, results: Results, *,
                 notes: list[str] = (), legend: bool = True):
        self.results = results
        self.fig = Figure(figsize=PAGE_SIZE)
        self.fig.text(0.5, 0.965, title, ha="center", va="top", fontsize=15,
                      fontweight="bold")
        subtitle = wrap(subtitle, 165) if subtitle else ""
        if subtitle:
            self.fig.text(0.5, 0.925, subtitle, ha="center", va="top", fontsize=9,
                          color="#333333", linespacing=1.3)
        self.top = 0.925 - 0.0195 * (subtitle.count("\n") + 1 if subtitle else 0) - 0.045
        self.legend = legend
        self.notes = list(notes)
        self.footer = footer_lines(results)
        self.entries: dict[str, tuple[str, dict]] = {}   # legend label -> (kind, style)

    def note_lines(self) -> list[str]:
        """The notes wrapped to the page, at most MAX_NOTE_LINES of them."""
        lines = [part for note in self.notes for part in wrap(note, NOTE_WIDTH).split("\n")]
        if len(lines) > MAX_NOTE_LINES:
            more = len(lines) - MAX_NOTE_LINES + 1
            lines = lines[:MAX_NOTE_LINES - 1] + [
                f"... and {more} more lines (the title page lists every skipped and "
                "failed point)"]
        return lines

    @property
    def bottom(self) -> float:
        return 0.075 + 0.018 * (len(self.footer) + len(self.note_lines()))

    def axes(self, nrows: int = 1, ncols: int = 1, *, below: float = 0.0,
             **gridspec) -> list:
        """A grid of axes between subtitle and notes; ``below`` reserves room under it
        (a fraction of the page) for per-panel legends."""
        right = self.LEGEND_LEFT - 0.035 if self.legend else 0.97
        gs = self.fig.add_gridspec(nrows, ncols, left=0.075, right=right, top=self.top,
                                   bottom=self.bottom + 0.045 + below, hspace=0.45,
                                   wspace=0.28, **gridspec)
        return [self.fig.add_subplot(gs[i, j]) for i in range(nrows) for j in range(ncols)]

    def series(self, kernel: str, label: str, style: dict) -> None:
        """Name a kernel series in the legend (colour only; machines have their own)."""
        name = wrap(display_label(label, kernel), LEGEND_WRAP)
        self.entries.setdefault(name, ("kernel", {"color": style["color"],
                                                  "linewidth": style["linewidth"]}))

    def reference(self, name: str, style: dict) -> None:
        self.entries.setdefault(wrap(name, LEGEND_WRAP), ("reference", style))

    def finish(self) -> Figure:
        if self.legend:
            self._legends()
        y = 0.018 * len(self.footer) + 0.03
        for line in reversed(self.note_lines()):
            self.fig.text(0.02, y, line, fontsize=7.5, color="#8a1f11")
            y += 0.018
        y = 0.012
        for line in reversed(self.footer):
            self.fig.text(0.02, y, line, fontsize=7, color="#555555")
            y += 0.018
        return self.fig

    def _legends(self) -> None:
        """One legend column: kernels (colour), machines (line style), references."""
        handles, labels, headers = [], [], []

        def section(title, items):
            if not items:
                return
            if handles:
                handles.append(Line2D([], [], linestyle="none"))
                labels.append("")
            headers.append(len(labels))
            handles.append(Line2D([], [], linestyle="none"))
            labels.append(title)
            for name, style in items:
                handles.append(Line2D([], [], **style))
                labels.append(name)

        section("Kernel", [(n, s) for n, (kind, s) in self.entries.items() if kind == "kernel"])
        section("Machine", [(wrap(m.label, LEGEND_WRAP),
                             {"color": "#555555",
                              "linestyle": MACHINE_STYLES[m.index % len(MACHINE_STYLES)][0],
                              "marker": MACHINE_STYLES[m.index % len(MACHINE_STYLES)][1]})
                            for m in self.results.machines.values()])
        section("Reference", [(n, s) for n, (kind, s) in self.entries.items()
                              if kind == "reference"])
        leg = self.fig.legend(handles, labels, loc="upper left", frameon=False,
                              bbox_to_anchor=(self.LEGEND_LEFT, self.top + 0.01), handlelength=2.2,
                              borderaxespad=0.0)
        for i in headers:
            leg.get_texts()[i].set_fontweight("bold")
