"""Train a small DLRM once per embedding kind (baseline, MEM-REC, Bloom, hashing trick,
QR, ROBE-Z, TT-Rec) at equal memory and store train/test log loss and AUC per epoch
beside the best AUC the data allows: the quality half of "faster at the same AUC".
Exit 0 when every model trained, 1 when some failed (stored with the reason), 2 for
bad input, 130 when interrupted (resume with --resume DIR)."""

from __future__ import annotations

import sys
from pathlib import Path


def add_arguments(parser) -> None:
    parser.add_argument("scenario", type=Path, metavar="FILE",
                        help="accuracy scenario, e.g. scenarios/accuracy.yaml")
    parser.add_argument("--quick", action="store_true",
                        help="apply the scenario's quick: block (minutes on 2 CPUs)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="result directory (default results/accuracy-<name>/<host>-<time>)")
    parser.add_argument("--data", type=Path, metavar="PATH",
                        help="Criteo Kaggle/Terabyte text file (.gz too) instead of the "
                             "scenario's data")
    parser.add_argument("--resume", type=Path, metavar="DIR",
                        help="finish an interrupted run: train only the models not done")


def run(args) -> int:
    from harness.accuracy.session import Request, run_accuracy
    from harness.errors import UsageError

    if args.resume is not None and args.out is not None:
        raise UsageError("--out and --resume: give one (--resume writes into its DIR)")
    request = Request(args.scenario, args.quick, args.out, args.data, args.resume)
    return run_accuracy(request, say=lambda text: print(text, file=sys.stderr, flush=True))
