"""The machine's limits: gather cost, load latency and streaming bandwidth per working set.

``analysis`` is pure: curves, the effective-LLC knee and the gather cost at a working set
from the rows of a limits run; ``stored`` finds and loads the newest limits result of a
machine; ``measure`` plans a limits run (microbenchmark points through the normal
execution path).
"""
