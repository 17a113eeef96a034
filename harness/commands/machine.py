"""Describe this machine: vendor, model, microarchitecture, topology, every cache
level (sysfs), memory, and perf. ``--json`` emits the same as JSON."""

from __future__ import annotations

import json

from harness.machine import describe_machine, format_machine


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="emit JSON instead of text")
    parser.add_argument("--sysfs-root", help="read this tree instead of /sys (tests)")
    parser.add_argument("--procfs-root", help="read this tree instead of /proc (tests)")


def run(args) -> int:
    machine = describe_machine(args.sysfs_root, args.procfs_root)
    if args.json:
        print(json.dumps(machine.to_dict(), indent=2))
    else:
        print(format_machine(machine))
    return 0
