"""Title pages: one per result directory, saying where the numbers came from (machine,
LLC, cores pinned, SMT, perf and counter status, scenario, commit, dates) and what was
skipped or failed and why, and which measured points are noisy or unstable and why
(drawn hollow, never a headline). The first also lists the report's figures."""

from __future__ import annotations

from collections import Counter

import pandas as pd
from matplotlib.figure import Figure

from harness.report.load import Results, Source
from harness.report.quality import flagged_lines
from harness.report.style import PAGE_SIZE, footer_lines, pinning_text, wrap
from harness.scenario.sizes import format_bytes

COUNTER_COLUMNS = {"llc_misses_per_lookup": "LLC misses", "dram_bytes_per_lookup": "DRAM bytes"}
LINE = 0.0225
MAX_PROBLEM_LINES = 12


def _caches(machine: dict) -> str:
    parts = []
    for c in machine.get("caches", []):
        if c.get("type") == "Instruction":
            continue
        name = f"L{c['level']}{'d' if c.get('type') == 'Data' else ''}"
        parts.append(f"{name} {format_bytes(c['size_bytes'])}"
                     + (f" x{c['instances']}" if c.get("instances", 1) > 1 else ""))
    return ", ".join(parts) or "unknown"


def machine_lines(machine: dict) -> list[tuple[str, str]]:
    llc = machine.get("llc_bytes")
    smt = machine.get("smt_siblings")
    perf = machine.get("perf") or {}
    perf_text = (f"{perf.get('version') or 'not found'}"
                 + (f", perf_event_paranoid {perf['paranoid']}"
                    if perf.get("paranoid") is not None else "")
                 + (f" ({perf['error']})" if perf.get("error") else ""))
    return [
        ("CPU", f"{machine.get('model_name', '?')} ({machine.get('codename') or '?'}, "
                f"uarch {machine.get('uarch', '?')})"
                + (", virtual machine" if machine.get("hypervisor") else "")),
        ("Cores", f"{machine.get('sockets', '?')} socket(s), {machine.get('physical_cores', '?')}"
                  f" physical cores, {machine.get('logical_cpus', '?')} logical CPUs"),
        ("SMT", "off or absent (1 thread per core)" if smt == 1
         else f"{smt} threads per core" if smt else "unknown"),
        ("LLC", (f"{format_bytes(llc)}, {machine.get('llc_ways', '?')}-way, "
                 f"{machine.get('line_bytes', '?')} B lines, shared by CPUs "
                 f"{machine.get('llc_shared_cpus', '?')} ({machine.get('llc_instances', '?')} "
                 f"instance(s))") if llc else "unknown"),
        ("Caches", _caches(machine)),
        ("Memory", format_bytes(machine["mem_total_bytes"])
         if machine.get("mem_total_bytes") else "unknown"),
        ("Frequency", f"governor {machine.get('governor', '?')}; turbo {machine.get('turbo', '?')}"),
        ("Huge pages", f"transparent huge pages: {machine.get('transparent_hugepages', '?')}"),
        ("OS kernel", str(machine.get("kernel", "?"))),
        ("perf", perf_text),
    ]


def counter_status(points: pd.DataFrame) -> list[tuple[str, str]]:
    """Per counter column: how many points have a value from each source, or a status."""
    lines = []
    for column, name in COUNTER_COLUMNS.items():
        if column not in points:
            lines.append((name, f"not recorded (points.csv has no {column} column)"))
            continue
        ok = points[points["status"] == "ok"]
        source = ok.get(f"{column}_source", pd.Series("", index=ok.index))
        counts = Counter(s or "empty" for s in source.fillna(""))
        lines.append((name, ", ".join(f"{n} points {s}" for s, n in counts.most_common())
                      or "no measured points"))
    return lines


def run_lines(src: Source) -> list[tuple[str, str]]:
    m = src.manifest
    scenario = m.get("scenario", {}) or {}
    git = m.get("git", {}) or {}
    versions = m.get("versions", {}) or {}
    requested = m.get("requested", {}) or {}
    effective = m.get("effective", {}) or {}
    pinning = pinning_text(m)
    notes = "; ".join(effective.get("pinning_notes") or [])
    return [
        ("Scenario", f"{scenario.get('name', '?')}" + (" (--quick)" if scenario.get("quick")
                                                       else "")
                     + f", {scenario.get('path', '?')}"),
        ("Threads", f"requested {', '.join(map(str, requested.get('threads') or [])) or '?'};"
                    f" runnable {', '.join(map(str, effective.get('threads_runnable') or []))}"),
        ("Pinning", pinning + (f"; {notes}" if notes else "")),
        ("Commit", f"{git.get('commit', 'unknown')}"
                   + (" (uncommitted changes)" if git.get("dirty") else "")
                   + (f" ({git['reason']})" if git.get("reason") else "")),
        ("Harness", f"{m.get('harness_version', '?')}, result format {m.get('format_version')}"),
        ("Libraries", f"python {versions.get('python', '?')}, torch "
                      f"{versions.get('torch', '?')}, numpy {versions.get('numpy', '?')}"),
        ("Dates (UTC)", f"started {m.get('started', '?')}, finished "
                        f"{m.get('finished', 'not finished')}"),
        ("State", str(m.get("state", "?")) + ("" if m.get("complete") else
                                              " (incomplete: some points never ran)")),
        ("Results", str(src.path)),
    ]


def problem_lines(points: pd.DataFrame, superseded: list[str]) -> list[str]:
    """What did not run or failed, grouped by reason, most common first."""
    counts = Counter(points["status"])
    lines = [", ".join(f"{counts[s]} {s}" for s in ("ok", "failed", "skipped", "pending")
                       if counts[s])]
    if "partial" in points and points["partial"].any():  # a run stopped early
        sub = points[points["partial"].fillna(False).astype(bool)]
        lines.append(f"{len(sub)} of the ok points are partial (fewer runs than planned: "
                     f"the run was stopped early), e.g. {sub['point_id'].iloc[0]}: "
                     f"{sub['reason'].iloc[0]}")
    for status in ("skipped", "failed", "pending"):
        sub = points[points["status"] == status]
        if status == "failed":
            lines += [f"failed: {pid}: {reason}" for pid, reason in
                      zip(sub["point_id"], sub["reason"])]
        else:
            lines += [f"{n} {status}: {reason or 'no reason recorded'}"
                      for reason, n in Counter(sub["reason"]).most_common()]
    if superseded:
        lines.append(f"{len(superseded)} point(s) here were measured again in a later run; "
                     "the later figures are drawn")
    if len(lines) > MAX_PROBLEM_LINES:
        extra = len(lines) - MAX_PROBLEM_LINES + 1
        lines = lines[:MAX_PROBLEM_LINES - 1] + [f"... and {extra} more lines: see points.csv"]
    return lines


def quality_lines(points: pd.DataFrame) -> list[str]:
    """The measured points a headline may not use, with their reasons (or that none)."""
    lines = flagged_lines(points) or ["every measured point ok: no interference or spread "
                                      "above the thresholds"]
    if len(lines) > MAX_PROBLEM_LINES:
        extra = len(lines) - MAX_PROBLEM_LINES + 1
        lines = lines[:MAX_PROBLEM_LINES - 1] + [f"... and {extra} more: see the quality "
                                                 f"and quality_reason columns of points.csv"]
    return lines


def _block(fig: Figure, x: float, y: float, title: str, rows, width: int) -> float:
    """A heading and key/value lines from ``y`` down; returns where the next block goes."""
    fig.text(x, y, title, fontsize=11.5, fontweight="bold", va="top")
    y -= LINE * 1.5
    for key, value in rows:
        wrapped = wrap(str(value), width).split("\n")
        fig.text(x, y, key, fontsize=9, fontweight="bold", color="#333333", va="top")
        for line in wrapped:
            fig.text(x + 0.1, y, line, fontsize=9, va="top")
            y -= LINE
    return y - LINE * 0.9


def title_page(results: Results, src: Source, contents: list[tuple[str, str]] | None,
               number: int, total: int) -> Figure:
    """The title page for one result directory; ``contents`` lists (title, summary)."""
    fig = Figure(figsize=PAGE_SIZE)
    info = results.machines[src.machine_key]
    heading = ("MEM-REC vs baseline embedding lookups" if number == 1
               else f"Results {number} of {total}")
    fig.text(0.5, 0.955, heading, ha="center", va="top", fontsize=18, fontweight="bold")
    fig.text(0.5, 0.905, f"{info.label}", ha="center", va="top", fontsize=11)
    fig.text(0.5, 0.875, "Regenerated from stored results only (manifest.json, points.csv, "
             "pyperf.json); nothing was rerun.", ha="center", va="top", fontsize=8.5,
             color="#555555")
    points = results.points[results.points["source"] == str(src.path)]
    if src.superseded:
        points = pd.concat([points, src.points[src.points["point_id"].isin(src.superseded)]])
    y_left = _block(fig, 0.04, 0.84, "Machine", machine_lines(src.manifest["machine"]), 60)
    y_left = _block(fig, 0.04, y_left, "Counters (per lookup)", counter_status(points), 60)
    y = _block(fig, 0.52, 0.84, "Run", run_lines(src), 56)
    y = _block(fig, 0.52, y, "Points: what ran, what was skipped or failed, and why",
               [("", line) for line in problem_lines(points, src.superseded)], 56)
    y = _block(fig, 0.52, y, "Quality: noisy or unstable points (drawn hollow) and why",
               [("", line) for line in quality_lines(points)], 56)
    if contents:
        rows = [(f"page {i}", f"{title}: {summary}") for i, (title, summary) in
                enumerate(contents, start=total + 1)]
        _block(fig, 0.04, min(y_left, y), "Figures", rows, 135)
    y = 0.012
    for line in reversed(footer_lines(results)):
        fig.text(0.02, y, line, fontsize=7, color="#555555")
        y += 0.018
    return fig
