"""Describe this machine: vendor, model, microarchitecture, topology, every cache
level (sysfs), memory, perf, and which counter events perf can count here (each
event of the machine's event set is probed). ``--json`` emits the same as JSON."""

from __future__ import annotations

import json

from harness.machine.detect import describe_machine, format_machine


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="emit JSON instead of text")
    parser.add_argument("--sysfs-root", help="read this tree instead of /sys (tests)")
    parser.add_argument("--procfs-root", help="read this tree instead of /proc (tests)")
    parser.add_argument("--no-probe", action="store_true",
                        help="do not probe which counter events perf supports")


def run(args) -> int:
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
