"""The speedup a machine allows a compressed kernel over the baseline, from its limits.

A compressed embedding cannot beat the machine's own gather loop: per lookup the
baseline must fetch one row of ``dim x 4`` bytes from its (large) table, MEM-REC k token
rows from its (small) token table plus k' 4-byte weights from its weight table, and
both must write the output row of each bag. With ``G(ws, r)`` the cheapest cost that
``harness limits`` measured for gathering r random rows at working set ``ws`` and
writing their sum to an output row (its gather-and-write curves, ``bag`` r = 1, 2, 4 of
kernels/microbench.py ``Gather``; the lower of the prefetching and demand curves, each
log-log interpolated in ``ws``, linear in r between and beyond the measured bags), and
``P`` the ids per bag (pooling, x features in the shared layout):

    baseline floor   = G(baseline tables' bytes, P) / P
    compressed floor = G(token tables' bytes, k * P) / P  +  k' * g(64 B, weight bytes)
    speedup_ceiling  = baseline floor / compressed floor
    ceiling_fraction = measured speedup / speedup_ceiling

where ``g(bytes, ws)`` is the gather alone (the 8-row probe, no output). A limits result
from before the gather-and-write curves prices the write as a stream overlapped with the
gathers (``max(k * g(row, token ws), write) + k' * g(64 B, weight ws)``, ``write`` = g at
the output's bytes / P), and its ceilings say that they may be too high.

Choices, and why:
- ``g`` is a floor only if no kernel fetches rows faster. The probe
  (kernels/microbench.py ``Gather``) sums 8 rows per pass over its output row, so its
  loads overlap as much as any kernel's; the k rows of one id are k random rows like
  any others, so k * g prices them overlapped too. Until issue 17 the probe summed one
  row per pass, and the kernels matched or beat it (2-vCPU Zen 4 VM, 1 thread: fused
  MEM-REC k = 2 at 14.9 ns/row against its 14.5 at 4 MiB; torch's baseline 97.6 against
  101 at 2 GiB) while 8 rows per pass cost 1.5-2x less: a limits result from that probe
  (``gather_step`` absent or 1) still prices a ceiling, with a note saying it may be
  too low. Prefetching does not always pay (8 rows per pass already keep many
  loads in flight), so ``g`` is the cheaper of the two curves at each working set.
- The output row is written in the same loop as the rows are gathered, and it is not
  free: on the 2-vCPU Zen 4 VM (1 thread, token table 4 MiB, batch 2048, 512-byte rows)
  the fused kernel (k = 2) took 25.1 ns per id, 18.9 with its output write removed,
  and the minimal kernel (indices given, 2 rows summed, the row written) 21.7 ns, against
  17.0 for the 8-row probe's two rows alone (``benchmarks/results/2026-12-04-write-floor.md``).
  A write priced as an overlapped stream (the maximum of the terms, as until issue 17's
  second round) let the ceiling assume a kernel that writes nothing; priced apart and
  added, it is not a floor either (the core overlaps a part: probe + write came to
  0.8-1.3x the minimal kernel). So the gather and the write are measured together.
- The weight reads are added, as the issue's formula has them ("k row gathers plus k'
  scalar reads and the output write"), not overlapped. They compete with the token
  rows for the same miss handling, and they cost the fused kernel time at the speed
  target's batch: k' = 2 against k' = 0 (``benchmarks/write_floor.py``, 2-vCPU Zen 4
  VM, batch 2048, token table 4 MiB) took 25.1 / 25.2 against 23.2 / 23.2 ns per id at
  1 thread and 13.6 / 15.0 against 12.8 / 13.8 at 2 threads (two days, 12-04 and
  12-05). Until 12-05 the ceiling took the maximum instead, on a misreading of those
  same numbers ("nothing measurable": at batch 16384 the difference was -0.6 to +0.9
  ns). Priced at the weight table's working set (below), a read costs what its line
  costs in a throughput-bound gather there: 0.69-0.74 ns at 1 thread, 0.37-0.44 at 2,
  for a 300 KB table (the 256-512 KiB probe, 12-05), so k' = 2 adds 1.4 / 0.8 ns,
  below the 1.9-2.1 / 0.8-1.1 ns the reads cost the kernel at batch 2048. At batch
  16384 the sum may exceed the reads' cost by up to ~0.6 ns (2-5 % of the floor).
- A k'-weight read touches one cache line, so it costs what one 64-byte row costs at the
  weight table's working set; without a 64 B curve, the smallest measured row's cost
  scaled by 64 / its row bytes (said in ``notes``).
- The output row is written once per bag (pooling x features ids share it in the shared
  layout, ``pooling`` ids per feature otherwise), on both sides: the baseline writes the
  same output, and leaving it off the baseline's side (issue 17's wording) would make
  the ceiling lower than the machine allows and flatter every kernel. The probe writes
  into an output of a 2048-lookup batch's rows (1 MiB of 512-byte rows) whatever the
  kernel's batch: the write cost hardly changes with it (1 and 8 MiB: 7.0 and 6.0 ns
  per row, 1 thread).
- Both sides use the same curve (the measured row size nearest ``dim x 4``, at the
  point's thread count, else one thread): the ratio needs the same yardstick, not an
  exact one.
- A kernel that runs more than ``EXPLAIN_ABOVE`` faster than its modelled floor has
  shown a cheaper way to do its side's job than the probe: its own time becomes that
  side's floor, and the note says so (``judge``; torch's baseline beat the 1-row probe
  at 2 GiB, 1 thread, on the 2-vCPU VM). A ceiling is the best known floors' ratio.
- A fraction above 1 is possible and means the baseline ran slower than its own gather
  floor (e.g. no prefetching), not that the compressed kernel beat the machine. Above
  ``EXPLAIN_ABOVE`` the note says which side left its floor (``fraction_note``, from
  the measured ns against the modelled floors), so the reason given is checked, not
  assumed.
- A doubtful limits result (harness/limits/doubt.py) still prices a ceiling, but the
  note says it is doubtful: its curves may not be this machine's floor.
- Kernels the formula does not describe (QR, ROBE-Z, TT-Rec, spin) get no ceiling and
  a reason; so does a point without a limits result. Nothing is invented.

Pure: dicts in, dicts out (points.csv rows or pandas rows, and a limits.json dict).
"""

from __future__ import annotations

import json
import math

from harness.limits.analysis import GATHER_STEP, curve_key, gather_cost_at
from harness.limits.doubt import doubts
from harness.store.models import MATCH_COLUMNS

LINE_BYTES = 64
# Kernels whose cost is k rows of a token table (+ k' scalar weights): the formula's.
TOKEN_KERNELS = ("memrec", "bloom", "hashing_trick")
# A ceiling_fraction above this is more than noise: the note says why (fraction_note).
EXPLAIN_ABOVE = 1.05


def _params(row) -> dict:
    params = row.get("params")
    if isinstance(params, str):
        try:
            params = json.loads(params or "{}")
        except ValueError:
            return {}
    return params if isinstance(params, dict) else {}


def _int(row, key: str) -> int | None:
    try:
        value = float(row.get(key))
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else int(value)


def _curves(limits: dict, threads: int) -> tuple[int, dict[int, str]] | None:
    """(threads used, {row_bytes: curve key}) of the gather curves measured."""
    measured: dict[int, dict[int, str]] = {}
    for key in limits.get("gather") or {}:
        try:
            row, t = curve_key(key)
        except ValueError:
            continue
        measured.setdefault(t, {})[row] = key
    for t in (threads, 1):
        if measured.get(t):
            return t, measured[t]
    return None


def _compressed_tables(kernel: str, params: dict, dim: int, kernel_bytes: int):
    """(k, token table bytes, k', weight table bytes) over all of the kernel's tables."""
    row_bytes = dim * 4
    if kernel == "memrec":
        k, kw = int(params["k"]), int(params["k_weight"])
        token, weight = int(params["token_rows"]) * row_bytes, int(params["weight_rows"]) * 4
    elif kernel == "bloom":
        k, kw, token, weight = int(params["k"]), 0, int(params["token_rows"]) * row_bytes, 0
    else:  # hashing_trick: one row from a smaller table
        k, kw, token, weight = 1, 0, int(params["rows"]) * row_bytes, 0
    # One set of tables for the shared layout, one per feature otherwise: the stored
    # kernel_bytes says how many there are.
    copies = max(1, round(kernel_bytes / (token + weight))) if token + weight else 1
    return k, token * copies, kw, weight * copies


def speedup_ceiling(limits: dict | None, baseline, compressed) -> dict:
    """The speedup this machine allows ``compressed`` over ``baseline`` (matched points).

    Returns ``{"speedup_ceiling": float | None, "reason": str, "notes": [...], "parts":
    {...}}``: the ceiling with its parts (ns per lookup of each term), or None and why.
    """
    def none(reason: str) -> dict:
        return {"speedup_ceiling": None, "reason": reason, "notes": [], "parts": {}}

    if not limits or not limits.get("gather"):
        return none("no limits result for this machine (run `python -m harness limits`)")
    kernel = compressed.get("kernel")
    if kernel not in TOKEN_KERNELS:
        return none(f"no gather-floor model for kernel {kernel!r} (only "
                    f"{', '.join(TOKEN_KERNELS)})")
    dim, threads = _int(compressed, "dim"), _int(compressed, "threads")
    base_bytes, comp_bytes = _int(baseline, "kernel_bytes"), _int(compressed, "kernel_bytes")
    batch, pooling = _int(compressed, "batch_size"), _int(compressed, "pooling")
    features = _int(compressed, "features") or 1
    if None in (dim, threads, base_bytes, comp_bytes, batch, pooling):
        return none("the point lacks dim, threads, kernel_bytes, batch_size or pooling")
    try:
        k, token_ws, kw, weight_ws = _compressed_tables(kernel, _params(compressed), dim,
                                                        comp_bytes)
    except (KeyError, TypeError, ValueError) as exc:
        return none(f"the point's params lack {exc}")
    found = _curves(limits, threads)
    if found is None:
        return none("the limits result has no gather curve")
    t, by_row = found
    row_bytes = dim * 4
    curve_row = min(by_row, key=lambda r: (abs(r - row_bytes), r))
    notes = []
    if t != threads:
        notes.append(f"no {threads}-thread gather curve: the 1-thread one is used")
    if curve_row != row_bytes:
        notes.append(f"rows of {row_bytes} B priced on the {curve_row} B gather curve")

    def gather(row: int, ws: int) -> float:
        costs = [gather_cost_at(limits, row, t, max(1, ws), kind)
                 for kind in ("gather", "gather_demand")]
        return min(c for c in costs if c is not None)

    shared = str(compressed.get("layout") or "") == "shared"
    ids_per_bag = pooling * features if shared else pooling
    output_ws = int(batch * (1 if shared else features) * row_bytes)
    write = gather(curve_row, output_ws) / ids_per_bag
    scalar = 0.0
    if kw:
        line_row = min(by_row)
        scalar = gather(line_row, weight_ws) * LINE_BYTES / line_row
        if line_row != LINE_BYTES:
            notes.append(f"a weight read priced as {LINE_BYTES}/{line_row} of a {line_row} B "
                         f"row (no {LINE_BYTES} B gather curve)")
    notes += limits_notes(limits)
    parts = {"curve": f"{curve_row}B/{t}t",
             "baseline_row_ns": gather(curve_row, base_bytes),
             "token_row_ns": gather(curve_row, token_ws), "k": k,
             "weight_read_ns": scalar, "k_weight": kw, "output_write_ns": write,
             "baseline_working_set_bytes": base_bytes, "token_working_set_bytes": token_ws,
             "weight_working_set_bytes": weight_ws, "output_working_set_bytes": output_ws}
    bags = _bag_sizes(limits, curve_row, t)
    if len(bags) >= 2:
        # Rows gathered and output rows written, measured together (the module docstring
        # says why): a bag of ids_per_bag ids reads ids_per_bag rows on the baseline's
        # side, k times that on MEM-REC's, and writes one row on each.
        def bag_ns(ws: int, rows: int) -> float:
            return _bag_cost(limits, curve_row, t, ws, rows, bags, notes) / ids_per_bag

        parts["baseline_floor_ns"] = bag_ns(base_bytes, ids_per_bag)
        # The weight reads add to the token rows' gather-and-write (docstring: why).
        parts["compressed_floor_ns"] = bag_ns(token_ws, k * ids_per_bag) + kw * scalar
        parts["priced_by"] = "gather and write"
    else:
        notes.append("no gather-and-write curves (a limits result from before they were "
                     "measured): the output write priced as a stream overlapped with the "
                     "gathers, which it is not: the ceiling may be too high (measure the "
                     "limits again)")
        # Overlapped streams: the slowest one is the floor; the weight reads add to it.
        parts["baseline_floor_ns"] = max(parts["baseline_row_ns"], write)
        parts["compressed_floor_ns"] = max(k * parts["token_row_ns"], write) + kw * scalar
        parts["priced_by"] = "gather, write overlapped"
    return {"speedup_ceiling": parts["baseline_floor_ns"] / parts["compressed_floor_ns"],
            "reason": "", "notes": list(dict.fromkeys(notes)), "parts": parts}


def _bag_sizes(limits: dict, row: int, threads: int) -> list[int]:
    """The bag sizes (rows per output row) whose gather-and-write curve was measured."""
    prefix = f"{row}B/{threads}t/"
    return sorted(int(key[len(prefix):]) for key in limits.get("gather_bag") or {}
                  if key.startswith(prefix) and key[len(prefix):].isdigit())


def _bag_cost(limits: dict, row: int, threads: int, ws: int, rows: int, bags: list[int],
              notes: list[str]) -> float:
    """ns to gather ``rows`` rows at working set ``ws`` and write one output row: the
    measured bag curves at ``ws``, linear in the rows between measured bag sizes (a
    fixed write plus a cost per row), extended beyond them by the last two's slope."""
    def cost(bag: int) -> float:
        costs = [gather_cost_at(limits, row, threads, max(1, ws), kind, bag)
                 for kind in ("gather_bag", "gather_bag_demand")]
        return min(c for c in costs if c is not None) * bag  # per output row

    if rows in bags:
        return cost(rows)
    lo = max([b for b in bags if b < rows], default=bags[0])
    hi = min([b for b in bags if b > rows], default=bags[-1])
    if lo == hi:  # beyond the measured bags: extend by the last two's slope
        lo, hi = (bags[0], bags[1]) if rows < bags[0] else (bags[-2], bags[-1])
        notes.append(f"{rows} rows per output row extrapolated from the bags of {lo} and "
                     f"{hi} rows")
    per_row = (cost(hi) - cost(lo)) / (hi - lo)
    if per_row <= 0:  # curves noisier than the rows' cost: scale the nearest bag instead
        near = hi if abs(hi - rows) <= abs(lo - rows) else lo
        return cost(near) * rows / near
    return cost(lo) + (rows - lo) * per_row


def limits_notes(limits: dict) -> list[str]:
    """Why a ceiling from ``limits`` may not bound the kernels: a doubtful result, or
    one measured by the one-row gather probe of before issue 17."""
    notes = []
    reasons = limits.get("doubtful_reasons")
    if reasons is None:  # a limits.json from before the doubts were stored
        reasons = doubts(limits)
    if reasons:
        notes.append(f"doubtful limits result ({len(reasons)} reason(s), listed in its "
                     f"limits.json): its curves may not be this machine's floor")
    if (limits.get("gather_step") or 1) < GATHER_STEP:
        notes.append("gathers priced by the one-row probe of before issue 17, up to 2x "
                     "dearer than the machine's floor: the ceiling may be too low "
                     "(measure the limits again)")
    return notes


def fraction_note(parts: dict, baseline_ns: float | None, compressed_ns: float | None,
                  fraction: float | None) -> str:
    """Why a ceiling_fraction is above ``EXPLAIN_ABOVE`` (empty when it is not): the side
    that ran slower than its floor, or the side that beat its floor, with the ns."""
    if fraction is None or fraction <= EXPLAIN_ABOVE or not parts:
        return ""
    # A fraction above 1 needs one of the two (rounding aside, hence the 1e-9).
    base_floor, comp_floor = parts["baseline_floor_ns"], parts["compressed_floor_ns"]
    said = []
    if baseline_ns is not None and baseline_ns > base_floor * (1 + 1e-9):
        said.append(f"the baseline ran slower than its gather floor ({baseline_ns:.3g} "
                    f"against {base_floor:.3g} ns/lookup)")
    if compressed_ns is not None and compressed_ns < comp_floor * (1 - 1e-9):
        said.append(f"the compressed kernel beat its modelled floor ({compressed_ns:.3g} "
                    f"against {comp_floor:.3g} ns/lookup): the limits curves are not this "
                    f"machine's floor here")
    return (f"{fraction:.2f} of the ceiling: " + " and ".join(said)) if said else ""


def judge(c: dict, baseline_ns: float | None, compressed_ns: float | None,
          speedup: float | None) -> dict:
    """A priced ceiling (``speedup_ceiling``'s result) against what the two kernels did:
    ``{"speedup_ceiling", "ceiling_fraction", "why"}``.

    A floor is the cheapest known way to do a side's job. A kernel that ran more than
    ``EXPLAIN_ABOVE`` faster than its modelled floor showed a cheaper way than the probe
    (torch's 64x-LLC baseline, 1 thread, on the 2-vCPU Zen 4 VM: 69.5 ns per lookup
    against the 1-row gather-and-write probe's 80.3, median of 5 rounds): its own time
    becomes that side's floor, and ``why`` says so with both numbers. Otherwise a
    fraction above ``EXPLAIN_ABOVE`` gets ``fraction_note``'s reason.
    """
    if c.get("speedup_ceiling") is None:
        return {"speedup_ceiling": None, "ceiling_fraction": None, "why": ""}
    parts, said = dict(c["parts"]), []
    for side, ns in (("baseline", baseline_ns), ("compressed", compressed_ns)):
        floor = parts[f"{side}_floor_ns"]
        if ns is not None and ns * EXPLAIN_ABOVE < floor:
            parts[f"{side}_floor_ns"] = ns
            said.append(f"the {side} kernel ran faster than its modelled floor ({ns:.3g} "
                        f"against {floor:.3g} ns/lookup): its own time is that side's floor")
    ceiling = parts["baseline_floor_ns"] / parts["compressed_floor_ns"]
    fraction = ceiling_fraction(speedup, ceiling)
    why = fraction_note(parts, baseline_ns, compressed_ns, fraction)
    return {"speedup_ceiling": ceiling, "ceiling_fraction": fraction,
            "why": "; ".join(said + ([why] if why else []))}


def ceiling_fraction(measured_speedup: float | None, ceiling: float | None) -> float | None:
    """How much of the allowed speedup was reached (1.0: at the machine's floor)."""
    if measured_speedup is None or not ceiling or math.isnan(measured_speedup):
        return None
    return measured_speedup / ceiling


def ns_per_lookup(row) -> float | None:
    """A row's measured ns per lookup (points.csv text or a pandas row), None if absent."""
    try:
        value = float(row.get("ns_per_lookup"))
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def _match_key(row) -> tuple:
    return tuple(str(row.get(c, "")) for c in MATCH_COLUMNS)


def ceiling_columns(rows: list[dict], limits: dict | None,
                    no_limits_reason: str = "") -> dict[str, dict]:
    """{point_id: {speedup_ceiling, ceiling_fraction, ceiling_note}} for every ok
    compressed row with an ok baseline row at the same MATCH_COLUMNS (table, dim,
    batch, pooling, features, threads, distribution, pages, layout, placement).

    Where several baselines match (backends), the first in ``rows`` is used and the note
    says which. ``no_limits_reason`` replaces the generic reason when ``limits`` is None.
    """
    bases: dict[tuple, list[dict]] = {}
    for r in rows:
        if r.get("kernel") == "baseline" and r.get("status") == "ok":
            bases.setdefault(_match_key(r), []).append(r)
    out = {}
    for r in rows:
        if r.get("kernel") == "baseline" or r.get("status") != "ok":
            continue
        partners = bases.get(_match_key(r))
        if not partners:
            out[r["point_id"]] = {"speedup_ceiling": None, "ceiling_fraction": None,
                                  "ceiling_note": "no ok baseline point at the same sizes"}
            continue
        b = partners[0]
        c = speedup_ceiling(limits, b, r)
        reason = no_limits_reason if limits is None and no_limits_reason else c["reason"]
        notes = c["notes"] + ([f"against {b['point_id']}"] if len(partners) > 1 else [])
        try:
            measured = float(b["latency_p50_ns"]) / float(r["latency_p50_ns"])
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            measured = None
        j = judge(c, ns_per_lookup(b), ns_per_lookup(r), measured)
        out[r["point_id"]] = {
            "speedup_ceiling": j["speedup_ceiling"], "ceiling_fraction": j["ceiling_fraction"],
            "ceiling_note": reason or "; ".join(
                [f"curve {c['parts']['curve']}", *notes, *([j["why"]] if j["why"] else [])])}
    return out


def ceiling_of(row: dict, partner_row: dict, speedup: float | None,
               limits: dict | None = None) -> dict:
    """A compared point's ceiling: from ``limits`` when given, else as its points.csv
    row stored it (text cells), with the share ``speedup`` reached and a note."""
    if limits is not None:
        c = speedup_ceiling(limits, partner_row, row)
        j = judge(c, ns_per_lookup(partner_row), ns_per_lookup(row), speedup)
        ceiling = j["speedup_ceiling"]
        note = c["reason"] or "; ".join(["from the given limits result", *c["notes"],
                                         *([j["why"]] if j["why"] else [])])
    elif "speedup_ceiling" not in row:
        ceiling, note = None, "NEW's points.csv has no speedup_ceiling (an older harness)"
    else:
        text = str(row.get("speedup_ceiling") or "").strip()
        try:
            ceiling = float(text) if text else None
        except ValueError:
            ceiling = None
        note = str(row.get("ceiling_note") or "").strip() or (
            "" if ceiling else "no ceiling stored")
    return {"ceiling": ceiling, "ceiling_fraction": ceiling_fraction(speedup, ceiling),
            "ceiling_note": note}
