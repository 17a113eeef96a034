"""Counted, simulated and modelled cache/DRAM figures for the timed region only.

Three backends, each labelled in the results by its name:

- ``perf``: ``perf stat`` wraps the worker, events start disabled (``--delay=-1``)
  and the worker enables them around the timed batches through perf's control
  fifo (``region.py``). Events come from a per-microarchitecture data file
  (``events/<uarch>.yaml``, loaded by ``eventsets.py``), each probed before the
  run (``perf.py``); perf's output is parsed by a pure function (``perfstat.py``).
- ``cachegrind``: valgrind's cache simulator (callgrind ``--cache-sim=yes``) with
  this machine's cache geometry, on a reduced number of batches, collecting only
  inside the timed region (``cachegrind.py``).
- ``model``: a trace-driven set-associative LRU model of the table lines the
  worker's exact index stream touches (``model.py``): cheap and deterministic.

``summary.py`` turns a run's counts into per-lookup metrics with their source,
and a counter that was not counted into its status, never into 0.
"""

# What a counter value can be instead of a number.
NOT_SUPPORTED = "not-supported"   # the machine (or perf, or the VM) cannot count it
NOT_PERMITTED = "not-permitted"   # it could, but perf_event_paranoid / capabilities forbid it
NOT_COUNTED = "not-counted"       # it was asked for but never ran (or the region failed)
COUNTED = "counted"
STATUSES = (COUNTED, NOT_SUPPORTED, NOT_PERMITTED, NOT_COUNTED)

BACKENDS = ("perf", "cachegrind", "model")
