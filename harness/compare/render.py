"""Render a comparison: a plain table for terminals and logs, Markdown for CI comments,
JSON for machines. Pure functions of a ``Report``; the commands decide where they go."""

from __future__ import annotations

import json
import math

from harness.compare.noisy import INCOMPARABLE_NOISY
from harness.compare.verdict import VERDICTS, Change, Report


def format_value(value: float | None, unit: str) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    if unit == "ns":
        for scale, name in ((1e9, "s"), (1e6, "ms"), (1e3, "us")):
            if abs(value) >= scale:
                return f"{value / scale:.4g} {name}"
        return f"{value:.4g} ns"
    if unit == "ns/lookup":
        return f"{value:.4g} ns"
    if unit == "x":
        return f"{value:.3g}x"
    return f"{value:.4g}"


def format_change(c: Change) -> str:
    if c.ratio is None:
        return "-"
    text = f"{(c.ratio - 1) * 100:+.1f}%"
    if c.ci_low is not None and c.ci_high is not None:
        text += f" [{(c.ci_low - 1) * 100:+.1f}%, {(c.ci_high - 1) * 100:+.1f}%]"
    return text


def verdict_text(c: Change) -> str:
    return INCOMPARABLE_NOISY if c.noisy else c.verdict


def noisy_line(report: Report) -> str:
    """The points the gate neither passes nor fails, or '' when there are none."""
    if not report.noisy:
        return ""
    return (f"{len(report.noisy)} point(s) {INCOMPARABLE_NOISY}, neither passed nor failed "
            f"(--include-noisy judges them): {', '.join(c.point_id for c in report.noisy)}")


def format_p(c: Change) -> str:
    return "-" if c.p_value is None else f"{c.p_value:.2g}"


def summary_line(report: Report) -> str:
    counts = ", ".join(f"{report.count(v)} {v}" for v in VERDICTS)
    if report.regressions:
        failures = sum(c.new_failure for c in report.regressions)
        verdict = (f"REGRESSION: {report.count('slower')} point(s) significantly slower "
                   f"beyond the factor" + (f", {failures} now failing" if failures else ""))
    elif not report.comparable:
        verdict = "NOTHING COMPARED: no point could be compared (see why)"
    else:
        verdict = "no regression"
    noisy = f"; {len(report.noisy)} of the incomparable noisy or unstable" \
        if report.noisy else ""
    return f"{verdict} ({counts}{noisy})"


def _header(report: Report, base: dict, new: dict) -> list[str]:
    m = report.metric
    direction = "higher is better" if m.higher_is_better else "lower is better"
    lines = [f"metric: {m.title} ({m.name}; {direction}); factor {report.factor:g}, "
             f"alpha {report.alpha:g}"]
    for name, side in (("BASE", base), ("NEW", new)):
        git = side.get("git") or {}
        commit = (git.get("commit") or "unknown")[:12] + (" (dirty)" if git.get("dirty") else "")
        lines.append(f"{name}: {side['directory']} ({side['scenario']}, {side['hostname']}, "
                     f"commit {commit})")
    return lines


def _footer(report: Report) -> list[str]:
    lines = []
    if report.only_in_base:
        lines.append(f"only in BASE (not compared): {', '.join(report.only_in_base)}")
    if report.only_in_new:
        lines.append(f"only in NEW (not compared): {', '.join(report.only_in_new)}")
    lines += [f"note: {n}" for n in report.notes]
    if report.noisy:
        lines.append(noisy_line(report))
    return lines


def format_ceiling(c: Change) -> str:
    """The speedup NEW's machine allows, or '-' (the why column says why none)."""
    return "-" if c.ceiling is None else f"{c.ceiling:.3g}x"


def _why(c: Change, speedup: bool) -> str:
    """The verdict's reason; for a speedup without a ceiling, also why there is none."""
    if speedup and c.ceiling is None and c.ceiling_note:
        return f"{c.why}; no ceiling: {c.ceiling_note}" if c.why else c.ceiling_note
    return c.why


def render_text(report: Report, base: dict, new: dict) -> str:
    unit = report.metric.unit
    speedup = report.metric.kind == "speedup"
    table = [("verdict", "change [CI]", "p", "BASE", "NEW")
             + (("NEW ceiling", "of ceiling") if speedup else ()) + ("point", "why")]
    for c in report.changes:
        extra = (format_ceiling(c), format_value(c.ceiling_fraction, "")) if speedup else ()
        table.append((verdict_text(c), format_change(c), format_p(c), format_value(c.base, unit),
                      format_value(c.new, unit)) + extra + (c.point_id, _why(c, speedup)))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    lines = _header(report, base, new) + [""]
    for row in table:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
    return "\n".join(lines + [""] + _footer(report) + [summary_line(report)]) + "\n"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


MARKS = {"slower": ":red_circle: slower", "faster": ":green_circle: faster",
         "same": "same", "incomparable": ":grey_question: incomparable"}


def _md_verdict(c: Change) -> str:
    return f":grey_question: {INCOMPARABLE_NOISY}" if c.noisy else MARKS[c.verdict]


def render_markdown(report: Report, base: dict, new: dict) -> str:
    unit = report.metric.unit
    lines = [f"### Performance: {summary_line(report)}", ""]
    lines += [f"- {_md_cell(line)}" for line in _header(report, base, new)]
    speedup = report.metric.kind == "speedup"
    extra_head = ["NEW ceiling", "of ceiling"] if speedup else []
    head = ["verdict", "change [CI]", "p", "BASE", "NEW", *extra_head, "point", "why"]
    lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in report.changes:
        extra = (format_ceiling(c), format_value(c.ceiling_fraction, "")) if speedup else ()
        cells = (_md_verdict(c) + (" (now failing)" if c.new_failure else ""),
                 format_change(c), format_p(c), format_value(c.base, unit),
                 format_value(c.new, unit)) + extra + (f"`{c.point_id}`", _why(c, speedup))
        lines.append("| " + " | ".join(_md_cell(x) for x in cells) + " |")
    footer = _footer(report)
    if footer:
        lines += [""] + [f"- {_md_cell(line)}" for line in footer]
    return "\n".join(lines) + "\n"


def report_dict(report: Report, base: dict, new: dict) -> dict:
    m = report.metric
    return {
        "metric": {"name": m.name, "title": m.title, "unit": m.unit,
                   "higher_is_better": m.higher_is_better},
        "factor": report.factor, "alpha": report.alpha,
        "base": base, "new": new,
        "summary": {v: report.count(v) for v in VERDICTS}
        | {"new_failures": sum(c.new_failure for c in report.changes),
           "noisy": len(report.noisy)},
        "noisy": [c.point_id for c in report.noisy],
        "exit_status": report.exit_status,
        "changes": [c.to_dict() for c in report.changes],
        "only_in_base": report.only_in_base, "only_in_new": report.only_in_new,
        "notes": report.notes,
    }


def render_json(report: Report, base: dict, new: dict) -> str:
    return json.dumps(report_dict(report, base, new), indent=1) + "\n"
