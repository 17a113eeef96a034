"""The machine's limits: gather cost, load latency and streaming bandwidth per working set.

``analysis`` is pure: curves, the effective-LLC knee and the gather cost at a working set
from the rows of a limits run; ``ceiling`` prices the speedup a machine allows a
compressed kernel over the baseline from those curves; ``stored`` finds and loads the
newest limits result of a machine (through the store); ``measure`` plans a limits run
(microbenchmark points through the one execution path).
"""
