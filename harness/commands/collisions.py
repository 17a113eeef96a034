"""Count the ids of a vocabulary that MEM-REC's encoders cannot tell apart: those whose
k token indices (as a multiset) equal another id's, and those still equal once the
k' weight indices are compared too. Exact, by sorting packed signatures in chunks
(40 million ids fit in a few GB); printed beside the uniform-hashing model."""

from __future__ import annotations

import json
import resource
import sys
import time

from harness.errors import UsageError
from harness.machine.detect import available_memory_bytes


def add_arguments(parser) -> None:
    parser.add_argument("--vocab", type=int, required=True, metavar="N",
                        help="ids 0..N-1 (e.g. 40000000, Criteo-TB's largest tables)")
    parser.add_argument("--token-rows", "-d", type=int, required=True, metavar="D",
                        help="d: rows of the token table")
    parser.add_argument("-k", type=int, default=2, help="token hashes per id (default 2)")
    parser.add_argument("--weight-rows", "--dw", type=int, metavar="D'",
                        help="d': entries of the weight table (default: d)")
    parser.add_argument("--k-weight", "--kw", type=int, default=1, metavar="K'",
                        help="weight hashes per id; 0: no weight encoder (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="hash seed (default 0)")
    parser.add_argument("--feature", type=int, default=0,
                        help="feature salt of the shared layout (default 0: none)")
    parser.add_argument("--json", action="store_true", help="print JSON")


MAX_HASHES = 32


def run(args) -> int:
    from kernels.collisions import collisions, model_shared_fraction, pair_probability

    weight_rows = args.weight_rows if args.weight_rows is not None else args.token_rows
    for name, value, low in (("--vocab", args.vocab, 1), ("--token-rows", args.token_rows, 1),
                             ("-k", args.k, 1), ("--weight-rows", weight_rows, 1),
                             ("--k-weight", args.k_weight, 0), ("--seed", args.seed, 0),
                             ("--feature", args.feature, 0)):
        if value < low:
            raise UsageError(f"{name} must be at least {low}, got {value}")
    if max(args.token_rows, weight_rows) > 2**31 - 1:
        raise UsageError("--token-rows and --weight-rows must be below 2**31")
    if max(args.k, args.k_weight) > MAX_HASHES:
        raise UsageError(f"-k and --k-weight must be at most {MAX_HASHES} (the model sums over "
                         f"the partitions of k, which explode beyond that)")
    if args.seed >= 2**64 or args.feature >= 2**31:
        raise UsageError("--seed must be below 2**64 and --feature below 2**31")
    from kernels.collisions import _bits, _words

    words = _words(args.k, _bits(args.token_rows)) + _words(args.k_weight, _bits(weight_rows))
    need = args.vocab * words * 8 * 3  # signatures, a fingerprint and a sorted copy
    available = available_memory_bytes()  # MemAvailable, capped by the cgroup's headroom
    if available is not None and need > available:
        raise UsageError(f"--vocab {args.vocab:,}: needs ~{need / 2**30:.1f} GiB for the "
                         f"signatures, {available / 2**30:.1f} GiB are available")
    t0 = time.perf_counter_ns()
    try:
        report = collisions(args.vocab, args.token_rows, args.k, weight_rows, args.k_weight,
                            args.seed, args.feature)
    except MemoryError:
        raise UsageError(f"--vocab {args.vocab:,}: out of memory counting the signatures") \
            from None
    elapsed_s = (time.perf_counter_ns() - t0) / 1e9
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    q_token = pair_probability(args.token_rows, args.k)
    q_both = q_token * pair_probability(weight_rows, args.k_weight)
    model = {"token_shared_fraction": model_shared_fraction(args.vocab, q_token),
             "both_shared_fraction": model_shared_fraction(args.vocab, q_both),
             "source": "model: uniform independent hashing"}
    if args.json:
        json.dump({"measured": report.to_dict(), "model": model, "elapsed_s": elapsed_s,
                   "peak_rss_bytes": peak}, sys.stdout, indent=1)
        print()
        return 0
    r = report
    print(f"vocabulary: {r.vocab:,} ids (seed {r.seed}, feature salt {r.feature}); token "
          f"encoder d={r.token_rows:,} k={r.k}; weight encoder d'={r.weight_rows:,} "
          f"k'={r.k_weight}")
    print(f"  {'':56s} {'measured':>12s} {'ids':>12s} {'model':>10s}")
    print(f"  {'ids sharing their token signature with another id':56s} "
          f"{r.token_shared_fraction:12.6%} {r.token_shared_ids:12,d} "
          f"{model['token_shared_fraction']:10.4%}")
    label = ("... and their weight signature too (indistinguishable)" if r.k_weight
             else "no weight encoder (k'=0): the same ids")
    print(f"  {label:56s} {r.both_shared_fraction:12.6%} {r.both_shared_ids:12,d} "
          f"{model['both_shared_fraction']:10.4%}")
    print(f"  distinct token signatures {r.distinct_token_signatures:,}; distinct "
          f"(token, weight) signatures {r.distinct_signatures:,}")
    print(f"  ({model['source']}; {elapsed_s:.1f} s, peak RSS {peak / 2**30:.2f} GiB)")
    return 0
