"""Serving under load: Poisson arrivals, a batching policy, latency from scheduled arrival.

``config`` is the scenario's ``serve:`` block; ``loadgen`` the schedule and the
serving loop (pure, clock injected); ``worker`` the pinned process that runs it;
``analysis`` percentiles and the highest rate within the bound; the files are
``harness.store.serving``'s.
"""
