"""Join result directories (the shards of one sweep, from `run --shard I/N`) into one
result. Refuses to mix machines whose CPU model or LLC differ, unless told to keep
them apart, in which case each machine's points become their own result under
OUT/<hostname>/. Refuses shards of different scenarios and points measured twice."""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

from harness.errors import UsageError
from harness.execute.plan import Plan, Point
from harness.machine.detect import Machine
from harness.store.lock import DirectoryLock
from harness.store.reader import points_of, read_manifest, stored_plan
from harness.store.results import ResultStore, ResultWriteError, new_result_dir, utc_now


def add_arguments(parser) -> None:
    parser.add_argument("dirs", nargs="+", metavar="DIR", type=Path, help="result directories")
    parser.add_argument("-o", "--out", required=True, type=Path, metavar="DIR",
                        help="where to write the merged result")
    parser.add_argument("--keep-hosts-apart", action="store_true",
                        help="merge each machine's shards separately into OUT/<hostname>/")


def _machine_key(manifest: dict) -> tuple:
    identity = Machine.from_dict(manifest["machine"]).identity()
    return tuple(sorted(identity.items()))


def _check_same_sweep(manifests: list[tuple[Path, dict]]) -> None:
    first_dir, first = manifests[0]
    problems = []
    for d, m in manifests[1:]:
        if m["scenario"].get("effective") != first["scenario"].get("effective") or \
                m["scenario"].get("quick") != first["scenario"].get("quick"):
            problems.append(f"{d}: a different scenario (or --quick) from {first_dir}")
    if problems:
        raise UsageError(problems)


def _check_same_points(manifests: list[tuple[Path, dict]]) -> None:
    """The shards of one machine's sweep split one list of points. Nodes can resolve a
    scenario to different points (tables scaled to their free memory, 'all' threads,
    their own effective LLC); then the split neither covers the sweep nor matches it."""
    first_dir, first = manifests[0]
    problems = []

    def sweep_ids(m):
        meta = m.get("plan_meta") or {}
        return [p["point_id"] for p in meta.get("unsharded") or m["plan"]]

    def shard_count(m):
        return ((m.get("plan_meta") or {}).get("shard") or {}).get("count")

    for d, m in manifests[1:]:
        if shard_count(m) and shard_count(first) and sweep_ids(m) != sweep_ids(first):
            problems.append(f"{d}: its machine resolved the scenario to other points than "
                            f"{first_dir}'s (scale_to_fit, 'all' threads or the effective LLC "
                            f"differ between the nodes); run every shard on alike nodes")
        elif shard_count(m) != shard_count(first):
            problems.append(f"{d}: shard of {shard_count(m) or 'no'} split, {first_dir} of "
                            f"{shard_count(first) or 'no'} split")
    if problems:
        raise UsageError(problems)


def merge_group(manifests: list[tuple[Path, dict]], out: Path) -> str:
    """Merge directories measured on one machine into ``out``; return its state."""
    _check_same_points(manifests)
    points: dict[str, tuple[Point, Path]] = {}
    for d, m in manifests:
        for point in points_of(m):
            if point.point_id in points:
                raise UsageError(f"{d}: point {point.point_id} is also in "
                                 f"{points[point.point_id][1]}: the same shard given twice?")
            points[point.point_id] = (point, d)
    first = stored_plan(manifests[0][1], manifests[0][0])
    meta = first.meta()
    meta.pop("unsharded", None)
    # The whole sweep, in its order: from any shard's manifest, else what was given.
    sweep = first.unsharded or [p for p, _ in points.values()]
    missing = [p for p in sweep if p.point_id not in points]
    if missing:
        print(f"note: {out}: {len(missing)} of the sweep's {len(sweep)} points are in no "
              f"given directory (a shard missing?); they are recorded as pending",
              file=sys.stderr)
    meta["shard"] = None
    plan = Plan.from_stored(meta, [p.to_dict() for p in sweep])

    manifest = dict(manifests[0][1])
    manifest.update({
        "created": utc_now(),
        "plan": [p.to_dict() for p in plan.points],
        "plan_meta": plan.meta(),
        "merged_from": [{"dir": str(d), "hostname": m["machine"]["hostname"],
                         "shard": m.get("plan_meta", {}).get("shard"),
                         "state": m.get("state")} for d, m in manifests],
        "hosts": sorted({m["machine"]["hostname"] for _, m in manifests}),
        "command": sys.argv,
    })
    new_result_dir(out, "choose another -o")
    with DirectoryLock(out):
        try:
            store = ResultStore(out, plan, manifest)
            by_id = {p.point_id: p for p in plan.points}
            for d, _ in manifests:
                store.load_recorded(d)
                store.copy_set_aside(d)  # reruns' set-aside attempts are kept too
            for point_id, runs in list(store.runs.items()):
                for repeat, outcome in runs.items():
                    store.record(by_id[point_id], repeat, outcome)
            store.write("complete")
        except ResultWriteError as exc:
            raise UsageError(str(exc)) from None
    return store.manifest["state"]


def run(args) -> int:
    manifests = [(d, read_manifest(d)) for d in args.dirs]
    for d, m in manifests:
        stored_plan(m, d)  # a shard without a readable stored plan cannot be merged
    _check_same_sweep(manifests)
    groups: dict[tuple, list] = defaultdict(list)
    for d, m in manifests:
        groups[_machine_key(m)].append((d, m))
    if len(groups) > 1 and not args.keep_hosts_apart:
        lines = [f"the directories come from {len(groups)} different machines; merge each "
                 f"machine's shards separately, or pass --keep-hosts-apart:"]
        for key, members in groups.items():
            ident = dict(key)
            lines.append(f"  {ident['model_name']} (LLC {ident['llc_bytes']} bytes): "
                         + ", ".join(str(d) for d, _ in members))
        raise UsageError(lines)
    if len(groups) == 1:
        state = merge_group(manifests, args.out)
        print(f"merged {len(manifests)} directories into {args.out} ({state})", file=sys.stderr)
        return 0
    for members in groups.values():
        host = members[0][1]["machine"]["hostname"]
        state = merge_group(members, args.out / host)
        print(f"merged {len(members)} directories of {host} into {args.out / host} ({state})",
              file=sys.stderr)
    return 0
