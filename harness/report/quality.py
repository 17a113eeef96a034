"""Which points a report may make claims from, and the one claim the speedup page makes.

A point's ``quality`` (points.csv) is ``ok``, ``noisy`` (interference above the
threshold while it was timed) or ``unstable`` (its batches or repeats spread too
much); empty means "not assessed" (results written before the harness judged its own
numbers). Every measured point is drawn, flagged ones hollow, but a headline number
comes only from pairs whose two points are both ``ok``.

The headline is not the largest measured ratio: the maximum of many noisy ratios is
biased upward (the winner's curse), and one descheduled baseline thread makes it
hundreds. It is the best lower bound of the pairs' 95% bootstrap intervals
(``harness.report.spread``): "at least this much, at this configuration". Pure
functions of tables, so every choice can be tested without drawing.
"""

from __future__ import annotations

import pandas as pd

CLEAN = "ok"
FLAGGED = ("noisy", "unstable")
NOT_ASSESSED = "not assessed"


def quality_of(points: pd.DataFrame, column: str = "quality") -> pd.Series:
    """Each point's quality: ok, noisy, unstable, or "not assessed" (empty, missing, or
    anything else: a value the harness cannot vouch for is not clean)."""
    if column not in points:
        return pd.Series(NOT_ASSESSED, index=points.index, dtype=object)
    text = points[column].fillna("").astype(str).str.strip()
    return text.where(text.isin((CLEAN, *FLAGGED)), NOT_ASSESSED)


def flagged(points: pd.DataFrame, column: str = "quality") -> pd.Series:
    """True where a point was measured but is noisy or unstable (drawn hollow)."""
    return quality_of(points, column).isin(FLAGGED)


def flagged_lines(points: pd.DataFrame) -> list[str]:
    """One line per measured noisy or unstable point, with its reason, for title pages;
    and one line counting measured points whose quality was not assessed."""
    ok = points[points["status"] == "ok"]
    quality = quality_of(ok)
    reasons = ok.get("quality_reason", pd.Series("", index=ok.index)).fillna("").astype(str)
    lines = [f"{q}: {pid}: {why or 'no reason recorded'}" for pid, q, why in
             zip(ok["point_id"], quality, reasons) if q in FLAGGED]
    unassessed = int((quality == NOT_ASSESSED).sum())
    if unassessed:
        lines.append(f"{unassessed} measured point(s) without a quality assessment (an older "
                     f"harness): drawn, but no headline is taken from them")
    return lines


def _where(row) -> str:
    from harness.report.select import display_label

    threads = int(row["threads"])
    return (f"{display_label(row['label'], row['kernel'])}, {row['table_size']}, batch "
            f"{int(row['batch_size'])}, {threads} thread{'s' if threads != 1 else ''}")


def headline_pair(pairs: pd.DataFrame) -> pd.Series | None:
    """The matched pair the headline names: among pairs whose two points are both ``ok``
    and that have an interval, the one with the highest 95% lower bound (ties: the
    smaller interval). ``pairs`` has ``clean``, ``speedup``, ``ci95_lo``, ``ci95_hi``."""
    usable = pairs[pairs["clean"] & pairs["ci95_lo"].notna() & pairs["ci95_hi"].notna()]
    if usable.empty:
        return None
    width = usable["ci95_hi"] - usable["ci95_lo"]
    order = usable.assign(_width=width).sort_values(["ci95_lo", "_width"],
                                                     ascending=[False, True])
    return order.iloc[0]


def headline(pairs: pd.DataFrame, paper: float) -> str:
    """The speedup page's one claim, saying what kind of figure it is."""
    pairs = pairs.drop_duplicates(["machine", "point_id", "baseline_point_id"])
    best = headline_pair(pairs)
    if best is None:
        quality = pd.concat([pairs["quality"], pairs["baseline_quality"]])
        counts = ", ".join(f"{n} {q}" for q, n in quality.value_counts().items()
                           if q != CLEAN)
        return (f"No headline figure: none of the {len(pairs)} matched pair(s) has both "
                f"points ok with an interval (points: {counts or 'no intervals'}); "
                f"the paper: up to {paper}x.")
    clean = int(pairs["clean"].sum())
    left_out = (f" ({len(pairs) - clean} pair(s) with a noisy, unstable or unassessed point "
                f"left out)" if clean < len(pairs) else "")
    return (f"Headline (robust): at least {best['ci95_lo']:.2f}x, the best lower bound of a "
            f"95% interval over {clean} matched pair(s) of ok points{left_out} "
            f"({_where(best)}: {best['speedup']:.2f}x [{best['ci95_lo']:.2f}, "
            f"{best['ci95_hi']:.2f}]); not the largest ratio, which noise inflates. "
            f"The paper: up to {paper}x.")
