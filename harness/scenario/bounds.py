"""The range of every number a scenario can hold, in one place.

Python's integers are unbounded and YAML hands them over as written, so without a
bound a typo (``prefetch:`` with 300 digits) reaches point ids, file names, array
sizes and loop counts, and fails late with a traceback. Each bound is far beyond
any real experiment and well inside what the code handles. They show in the
schema (``Scenario.model_json_schema()``: minimum/maximum), except kernel parameters
(``KERNEL_PARAM_RANGES``), and a test checks that every integer and float of the
schema has both or is a kernel parameter listed there.

    threads, pinning CPUs     1..8192 / 0..8191 (Linux's NR_CPUS ceiling)
    batch size                1..2**24          pooling          1..65536
    cardinalities (rows)      1..2**40          (sizes: ``harness.scenario.sizes``)
    warmups                   0..1,000,000      batches          1..10,000,000
    repeats                   1..10,000         seed             0..2**63-1
    timeout_s                 (0, 604800]       (a week)         zipf alpha (0, 100]
    prefetch (ids ahead)      0..4096           spin ns_per_lookup 0..10,000,000
    qr collisions (m)         1..2**31-1        robez z          1..65536
    ttrec rank                1..1024           k 1..64, k_weight 0..64
    gather step               1..8 (1 or 8)
    counters: simulated_batches/model_batches 1..1,000,000, simulated_warmups
    0..1,000,000, ack_timeout_s (0, 3600], simulated LLC ways 1..1024, line 1..4096
    measure (batches: auto): min/max_batches 1..10,000,000, precision (0, 1],
    budget_s (0, 604800], min_time_s [0, 604800]; retries 0..100; max_interference, max_steal [0, 1],
    max_spread [0, 100]
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from harness.machine.cpulist import MAX_CPUS
from harness.scenario.sizes import MAX_ROWS

MAX_THREADS = MAX_CPUS
MAX_BATCH_SIZE = 2**24
MAX_POOLING = 2**16
MAX_PREFETCH_IDS = 4096
MAX_SPIN_NS = 10_000_000      # 10 ms per id: a batch of 64 already takes 0.6 s
MAX_KERNEL_ROWS = 2**31 - 1   # kernels.hashing.MAX_ROWS (int32 indices)
MAX_BLOCK = 2**16             # robez z: at most dim's own bound
MAX_RANK = 1024               # tt-rec cores grow with rank**2
WEEK_S = 7 * 24 * 3600.0

# Kernel parameters live in each kernel's own model (kernels/ knows nothing of the
# harness); their ranges are checked by name here, for every kernel that has them, after
# the model has validated types (``harness.scenario.schema.kernel_param_ranges``).
KERNEL_PARAM_RANGES = {
    "prefetch": (0, MAX_PREFETCH_IDS),
    "ns_per_lookup": (0, MAX_SPIN_NS),
    "collisions": (1, MAX_KERNEL_ROWS),
    "z": (1, MAX_BLOCK),
    "rank": (1, MAX_RANK),
    "k": (1, 64),
    "k_weight": (0, 64),
    "step": (1, 8),  # gather rows per pass over the output row (kernels/microbench.py)
    "bag": (0, 4),   # gather rows per output row written (kernels/microbench.py)
}

CpuNumber = Annotated[int, Field(ge=0, le=MAX_CPUS - 1)]
CpuCount = Annotated[int, Field(ge=1, le=MAX_CPUS)]
BatchSize = Annotated[int, Field(ge=1, le=MAX_BATCH_SIZE)]
Pooling = Annotated[int, Field(ge=1, le=MAX_POOLING)]
Cardinality = Annotated[int, Field(ge=1, le=MAX_ROWS)]
Warmups = Annotated[int, Field(ge=0, le=1_000_000)]
Batches = Annotated[int, Field(ge=1, le=10_000_000)]
Precision = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]
Retries = Annotated[int, Field(ge=0, le=100)]
Fraction01 = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
SpreadLimit = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
Repeats = Annotated[int, Field(ge=1, le=10_000)]
Seed = Annotated[int, Field(ge=0, le=2**63 - 1)]
TimeoutS = Annotated[float, Field(gt=0, le=WEEK_S, allow_inf_nan=False)]
MinTimeS = Annotated[float, Field(ge=0, le=WEEK_S, allow_inf_nan=False)]
ZipfAlpha = Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)]
SimulatedBatches = Annotated[int, Field(ge=1, le=1_000_000)]
SimulatedWarmups = Annotated[int, Field(ge=0, le=1_000_000)]
AckTimeoutS = Annotated[float, Field(gt=0, le=3600, allow_inf_nan=False)]
CacheWays = Annotated[int, Field(ge=1, le=1024)]
LineBytes = Annotated[int, Field(ge=1, le=4096)]
