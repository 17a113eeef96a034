#!/usr/bin/env python3
"""A stand-in for ``perf`` (``HARNESS_PERF=tests/fake_perf.py``), like pmu-tools' fake-perf.

Understands what the harness asks of perf: ``--version`` and ``stat`` with
``-x,``/``-j``, ``-o FILE``, ``-e EVENT`` (repeated), ``--delay=-1`` and
``--control fifo:CTL,ACK``, then ``-- COMMAND``. Environment:

- FAKE_PERF_EVENTS: JSON mapping an event (its full -e spelling, else as printed: its
  ``name=`` term or its spelling) to a count, to {"value": v, "pcnt": p} (multiplexed), or to one of
  "not-supported", "not-counted" (printed as such), "unknown" or "not-permitted"
  (perf refuses the command line, as the real one does). Unlisted events count 1000.
  A key "#N" sets the N-th -e event's count (0-based), whatever its name.
- FAKE_PERF_VERSION: the version to report (default 6.1.0).
- FAKE_PERF_LOG: a file to append each control command received to.
- FAKE_PERF_NO_ACK=1: read control commands but never acknowledge them.
"""

import json
import os
import re
import select
import subprocess
import sys
import threading


def printed(spelling):
    m = re.search(r"name=([^,/]+)", spelling)
    return m.group(1) if m else spelling


def serve_control(ctl, ack, stop):
    fd = os.open(ctl, os.O_RDWR | os.O_NONBLOCK)
    ack_fd = os.open(ack, os.O_RDWR | os.O_NONBLOCK)
    buf = b""
    while not stop.is_set():
        ready, _, _ = select.select([fd], [], [], 0.05)
        if not ready:
            continue
        buf += os.read(fd, 256)
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if os.environ.get("FAKE_PERF_LOG"):
                with open(os.environ["FAKE_PERF_LOG"], "a") as log:
                    log.write(line.decode() + "\n")
            if not os.environ.get("FAKE_PERF_NO_ACK"):
                os.write(ack_fd, b"ack\n\0")


def main(argv):
    if argv[:1] == ["--version"]:
        print(f"perf version {os.environ.get('FAKE_PERF_VERSION', '6.1.0')}")
        return 0
    if argv[:1] != ["stat"]:
        print(f"fake perf: unsupported command {argv[:1]}", file=sys.stderr)
        return 129
    args, command = argv[1:], []
    if "--" in args:
        command = args[args.index("--") + 1:]
        args = args[:args.index("--")]
    events, out, fmt, control = [], None, "csv", None
    i = 0
    while i < len(args):
        a = args[i]
        if a == "-e":
            events.append(args[i + 1]); i += 1
        elif a == "-o":
            out = args[i + 1]; i += 1
        elif a == "-j":
            fmt = "json"
        elif a == "--control":
            control = args[i + 1].removeprefix("fifo:").split(","); i += 1
        i += 1
    config = json.loads(os.environ.get("FAKE_PERF_EVENTS", "{}"))
    for e in events:
        what = config.get(e, config.get(printed(e)))  # a full spelling first, then the name
        if what == "unknown":
            print(f"event syntax error: '{e}'\n \\___ Cannot find PMU", file=sys.stderr)
            return 129
        if what == "not-permitted":
            print(f"Error:\nNo permission to enable {e} event.\n\nAccess to performance "
                  f"monitoring and observability operations is limited.", file=sys.stderr)
            return 255
    stop = threading.Event()
    thread = None
    if control:
        thread = threading.Thread(target=serve_control, args=(*control, stop), daemon=True)
        thread.start()
    rc = subprocess.call(command) if command else 0
    stop.set()
    if thread:
        thread.join()
    lines = ["# started on Thu Jan  1 00:00:00 2026", ""]
    for i, e in enumerate(events):
        name, what = printed(e), config.get(f"#{i}", config.get(printed(e), 1000))
        value, pcnt = (what.get("value"), what.get("pcnt", 100.0)) if isinstance(what, dict) \
            else (what, 100.0)
        text = {"not-supported": "<not supported>", "not-counted": "<not counted>"}.get(
            value, f"{float(value):.2f}" if not isinstance(value, str) else value)
        unit = "msec" if name == "task-clock" else ""
        if fmt == "json":
            lines.append(json.dumps({"counter-value": text, "unit": unit, "event": name,
                                     "event-runtime": 1000000, "pcnt-running": pcnt}))
        else:
            lines.append(f"{text},{unit},{name},1000000,{pcnt:.2f},,")
    with open(out, "w") if out else sys.stderr as f:
        f.write("\n".join(lines) + "\n")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
