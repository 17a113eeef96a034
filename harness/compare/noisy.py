"""Points whose numbers the harness itself does not vouch for are not judged.

A point the worker flagged ``noisy`` (interference above the threshold while it was
timed) or ``unstable`` (its batches or repeats spread too much) in points.csv's
``quality`` column, on either side, is ``incomparable (noisy)``: a slowdown measured
while another process held the CPU is the other process's, and so is a speedup. The
CI gate therefore neither passes nor fails on it; it lists it. ``--include-noisy``
judges such points anyway and says so in their reason. An empty ``quality`` (results
written before the harness assessed itself) is judged as before.
"""

from __future__ import annotations

FLAGGED = ("noisy", "unstable")
INCOMPARABLE_NOISY = "incomparable (noisy)"


def quality_problem(side: str, point) -> str | None:
    """'noisy in NEW: <reason>' when ``point`` (a PointData) is flagged, else None."""
    row = point.row or {}
    quality = (row.get("quality") or "").strip()
    if quality not in FLAGGED:
        return None
    reason = (row.get("quality_reason") or "").strip()
    return f"{quality} in {side} ({point.point_id})" + (f": {reason}" if reason else "")


def noisy_problems(sides: list[tuple[str, object | None]]) -> list[str]:
    """The quality problems of every (side, point) that goes into one comparison (the
    point itself, and for a speedup the baselines it is divided by)."""
    return [why for side, p in sides if p is not None
            for why in [quality_problem(side, p)] if why]


def judged_anyway(problems: list[str]) -> str:
    """The note a point judged under --include-noisy carries in its reason."""
    return f" (judged despite: {'; '.join(problems)}; --include-noisy)"
