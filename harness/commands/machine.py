"""Describe this machine: vendor, model, microarchitecture, topology, every cache
level (sysfs), memory, perf, and which counter events perf can count here (each
event of the machine's event set is probed). ``--json`` emits the same as JSON.
``--check`` instead checks whether the machine is fit to measure on now (load, busy
processes on the CPUs, governor, turbo, THP), as `run` does before its first point;
exit 0 either way (it reports, it does not judge; `run --strict` refuses)."""

from __future__ import annotations

import json

from harness.machine.detect import describe_machine, format_machine


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="emit JSON instead of text")
    parser.add_argument("--sysfs-root", help="read this tree instead of /sys (tests)")
    parser.add_argument("--procfs-root", help="read this tree instead of /proc (tests)")
    parser.add_argument("--no-probe", action="store_true",
                        help="do not probe which counter events perf supports")
    parser.add_argument("--check", action="store_true",
                        help="check load, busy processes, governor, turbo and THP as `run` "
                             "does before its first point (like `pyperf system show`)")
    parser.add_argument("--cpus", metavar="LIST",
                        help="with --check: the CPUs to check, e.g. 0-3 (default: all this "
                             "process may run on)")


def _check(args) -> int:
    from harness.errors import UsageError
    from harness.machine.check import check_machine, format_check
    from harness.machine.cpulist import parse_cpulist

    machine = describe_machine(args.sysfs_root, args.procfs_root)
    try:
        cpus = parse_cpulist(args.cpus) if args.cpus else parse_cpulist(machine.usable_cpus)
    except ValueError as exc:
        raise UsageError(f"--cpus: {exc}") from None
    if not cpus:
        raise UsageError(f"--cpus: expected a CPU list such as 0-3, got {args.cpus!r}")
    check = check_machine(cpus, args.sysfs_root or "/sys", args.procfs_root or "/proc")
    print(json.dumps(check.to_dict(), indent=2) if args.json else format_check(check))
    return 0


def run(args) -> int:
    if args.check:
        return _check(args)
    from harness.counters.support import counter_support, format_counter_support

    machine = describe_machine(args.sysfs_root, args.procfs_root)
    support = None if args.no_probe else counter_support(machine, args.procfs_root,
                                                         args.sysfs_root)
    if args.json:
        print(json.dumps(machine.to_dict() | {"counters": support}, indent=2))
    else:
        print(format_machine(machine))
        if support:
            print(format_counter_support(support))
    return 0
