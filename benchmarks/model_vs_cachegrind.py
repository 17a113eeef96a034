"""How well the LRU ``model`` and valgrind's ``cachegrind`` agree on LLC misses per lookup.

Runs the harness (``python -m harness run``, numpy kernels, one thread) with
``--counters cachegrind,model`` on tables of 0.25x, 1x, 4x and 64x a simulated
LLC, for the baseline and for MEM-REC with a token table of the same size, and
prints both figures per point with the analytic expectation for the baseline
under uniform ids (lines per row x (1 - LLC/table), and 0 below the LLC).

    python benchmarks/model_vs_cachegrind.py                       # a 4 MiB 16-way LLC
    python benchmarks/model_vs_cachegrind.py --llc 32MiB --ratios 0.25,1,4

Both backends replay the same index stream (same seed, same batches) against
the same LL geometry; they differ in what else they see (cachegrind: every
access of the process, through a simulated L1; model: table reads only).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.store.reader import read_result

SCENARIO = """\
name: model-vs-cachegrind
threads: [1]
tables: {{sizes: [{sizes}], dim: {dim}}}
batch_sizes: [{batch}]
kernels:
{kernels}
measure: {{warmups: {warmups}, batches: {batches}, repeats: 1, seed: 1, timeout_s: 3600}}
counters:
  backends: [cachegrind, model]
  simulated_batches: {batches}
  simulated_warmups: {warmups}
  simulated_llc: {{size: {llc}, ways: {ways}}}
"""


def mib(nbytes: float) -> str:
    return f"{nbytes / 2**20:g}MiB"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--llc", default="4MiB", help="simulated LLC size (default 4MiB)")
    parser.add_argument("--ways", type=int, default=16)
    parser.add_argument("--ratios", default="0.25,1,4,64")
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--warmups", type=int, default=5)
    parser.add_argument("--no-memrec", action="store_true")
    parser.add_argument("--out", type=Path, help="result directory (default: a temporary one)")
    args = parser.parse_args(argv)

    from harness.scenario.sizes import parse_size

    llc = parse_size(args.llc).to_bytes(0, 1)
    ratios = [float(r) for r in args.ratios.split(",")]
    runs = [("baseline", ", ".join(f'"{mib(r * llc)}"' for r in ratios),
             "  - {kernel: baseline, backend: numpy}")]
    if not args.no_memrec:
        # MEM-REC's misses depend on its token table, not on the id range: one id range,
        # token tables of every size.
        runs.append(("memrec", f'"{mib(min(ratios) * llc)}"', "\n".join(
            f"  - {{kernel: memrec, token_rows: \"{mib(r * llc)}\", k: 2, weight_rows: 4096, "
            f"k_weight: 1, backend: numpy, label: memrec-{r:g}x}}" for r in ratios)))
    work = Path(tempfile.mkdtemp(prefix="model-vs-cg-"))
    out = args.out or work / "results"
    started = time.monotonic()
    for name, sizes, kernels in runs:
        scenario = work / f"{name}.yaml"
        scenario.write_text(SCENARIO.format(
            sizes=sizes, dim=args.dim, batch=args.batch, kernels=kernels, warmups=args.warmups,
            batches=args.batches, llc=args.llc, ways=args.ways))
        proc = subprocess.run([sys.executable, "-m", "harness", "run", str(scenario), "--out",
                               str(out / name)], text=True)
        if proc.returncode not in (0, 1):
            return proc.returncode
    elapsed = time.monotonic() - started

    lines_per_row = args.dim * 4 / 64
    print(f"\nsimulated LLC {args.llc} {args.ways}-way, dim {args.dim} ({lines_per_row:g} "
          f"lines/row), batch {args.batch}, {args.batches} timed batches; {elapsed:.0f} s")
    print(f"{'kernel':<10} {'table/LLC':>9} {'token/LLC':>9} {'model':>8} {'cachegrind':>10} "
          f"{'cg-model':>9} {'expected':>9}")
    points = [row for name, _s, _k in runs for row in read_result(out / name).rows]
    for row in points:
        if row["status"] != "ok":
            print(f"{row['point_id']}: {row['status']} {row['reason']}")
            continue
        ratio = float(row["table_bytes"]) / llc
        model = float(row["llc_misses_per_lookup_model"] or "nan")
        cg = float(row["llc_misses_per_lookup_cachegrind"] or "nan")
        token = ""
        expected = ""
        if row["kernel"] == "baseline":
            expected = f"{lines_per_row * max(0.0, 1 - 1 / ratio):9.3f}"
        else:
            token = f"{float(row['label'].split('-')[1].rstrip('x')):9g}"
        print(f"{row['kernel']:<10} {ratio:9g} {token:>9} {model:8.3f} {cg:10.3f} "
              f"{cg - model:9.3f} {expected:>9}")
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
