"""Per-rate latency figures and the highest offered load within the bound (pure).

Percentiles use numpy's ``higher`` method: each is a latency some request really
had, at or above the quantile, never an interpolation below it. p99.9 needs 1000
requests and p99 100; with fewer the figure is absent with the reason, not guessed.
"""

from __future__ import annotations

import numpy as np

MIN_REQUESTS = {"p50_ns": 2, "p99_ns": 100, "p999_ns": 1000}
QUANTILES = {"p50_ns": 50.0, "p99_ns": 99.0, "p999_ns": 99.9}


def rate_figures(rate_qps: float, latency_ns, span_ns: int, batch_sizes: list[int],
                 service_ns: list[int], start_lag_ns: list[int], stopped: str = "",
                 slo_ns: int | None = None) -> dict:
    """One rate's summary: status, percentiles, achieved rate, batching facts.

    A rate whose serving stopped early is ``overloaded``: its percentiles would be
    of the lucky requests only, so they are left out and the reason stands instead.
    One served more slowly than offered, its last request waiting beyond ``slo_ns``,
    is ``overloaded`` too, its percentiles kept but never counted within the bound.
    """
    latency = np.asarray(latency_ns, dtype=np.int64)
    served = latency[latency >= 0]
    out = {"rate_qps": rate_qps, "requests": int(latency.shape[0]), "served": int(served.size),
           "status": "overloaded" if stopped else "ok", "reason": stopped}
    for key, q in QUANTILES.items():
        enough = served.size >= MIN_REQUESTS[key] and not stopped
        out[key] = int(np.percentile(served, q, method="higher")) if enough else None
    out["mean_ns"] = float(served.mean()) if served.size and not stopped else None
    out["max_ns"] = int(served.max()) if served.size else None
    out["achieved_qps"] = served.size / (span_ns / 1e9) if span_ns > 0 else None
    # Served slower than offered (beyond a Poisson count's 3 sigma) and left with a
    # backlog over the bound (the last request waited longer than slo_ns): the queue
    # grew through the schedule, so its percentiles depend on how long it was. (A
    # short stall at the end alone lowers the achieved rate of a short schedule.)
    last_waited = int(latency[latency >= 0][-1]) if served.size else 0
    if not stopped and out["achieved_qps"] is not None and served.size and \
            out["achieved_qps"] < rate_qps * (1 - 3 / np.sqrt(served.size) - 0.02) and \
            (slo_ns is None or last_waited > slo_ns):
        out["status"] = "overloaded"
        out["reason"] = (f"served {out['achieved_qps']:.4g} of {rate_qps:.4g} requests/s "
                         f"offered: the queue grew throughout; its percentiles depend on "
                         f"the schedule's length")
    out["batches"] = len(batch_sizes)
    out["mean_batch"] = float(np.mean(batch_sizes)) if batch_sizes else None
    out["service_p50_ns"] = int(np.median(service_ns)) if service_ns else None
    out["start_lag_p99_ns"] = (int(np.percentile(start_lag_ns, 99, method="higher"))
                               if start_lag_ns else None)
    if not stopped and served.size < MIN_REQUESTS["p999_ns"]:
        out["note"] = f"p99.9 needs {MIN_REQUESTS['p999_ns']} requests, {served.size} served"
    return out


def max_rate_within(rates: list[dict], slo_ns: int) -> dict:
    """The highest offered rate whose p99 is within ``slo_ns``, and whether it is clean.

    ``clean`` is False when some lower rate missed the bound (noise, or a machine
    shared with other work): the figure is then not a knee but a lucky point.
    """
    within = [r for r in rates if r.get("status") == "ok" and r.get("p99_ns") is not None
              and r["p99_ns"] <= slo_ns]
    if not within:
        return {"max_qps": None, "clean": False,
                "reason": "no rate kept its p99 within the bound"}
    best = max(within, key=lambda r: r["rate_qps"])
    missed_below = [r["rate_qps"] for r in rates if r["rate_qps"] < best["rate_qps"]
                    and r not in within]
    out = {"max_qps": best["rate_qps"], "p99_ns": best["p99_ns"], "clean": not missed_below}
    if missed_below:
        out["reason"] = f"lower rates {missed_below} missed the bound"
    elif best is rates[-1]:
        out["reason"] = "the highest rate swept: the knee lies beyond the sweep"
    return out
