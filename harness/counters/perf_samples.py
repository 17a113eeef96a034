"""Sample ``perf stat`` output of every shape ``perfstat.parse_perf_stat`` accepts.

Each sample: where it came from, the text, and what the parser must return for
it as (event, value, unit, status, running_fraction). Samples marked "recorded"
were captured with perf 6.1 on a Zen 3 KVM guest; the others are written from
perf's printing code (tools/perf/util/stat-display.c) for the versions named.
tests/test_perfstat.py runs the parser over all of them.
"""

from __future__ import annotations

from harness.counters import COUNTED, NOT_COUNTED, NOT_SUPPORTED

SAMPLES = [
    {
        "name": "perf 6.1 CSV, region-controlled (recorded)",
        "text": """\
# started on Thu Nov 26 08:42:39 2026

16.92,msec,task-clock,16921627,100.00,0.069,CPUs utilized
0,,page-faults,16921627,100.00,0.000,/sec
51214538,,cycles,16921627,100.00,3.027,GHz
1364,,ls_any_fills_from_sys.mem_io_local,16921627,100.00,80.607,K/sec
""",
        "expect": [("task-clock", 16.92, "msec", COUNTED, 1.0),
                   ("page-faults", 0.0, "", COUNTED, 1.0),
                   ("cycles", 51214538.0, "", COUNTED, 1.0),
                   ("ls_any_fills_from_sys.mem_io_local", 1364.0, "", COUNTED, 1.0)],
    },
    {
        "name": "perf 6.1 CSV, multiplexed: more events than counters (recorded)",
        "text": """\
646662459,,cycles,229042674,67.00,,
1621804543,,instructions,206452701,63.00,2.51,insn per cycle
0,,r412e,173578561,55.00,,
""",
        "expect": [("cycles", 646662459.0, "", COUNTED, 0.67),
                   ("instructions", 1621804543.0, "", COUNTED, 0.63),
                   ("r412e", 0.0, "", COUNTED, 0.55)],
    },
    {
        "name": "perf 6.1 CSV, a group that could not be scheduled (recorded)",
        "text": """\
<not counted>,,cycles,0,100.00,,
<not counted>,,instructions,0,100.00,,
""",
        "expect": [("cycles", None, "", NOT_COUNTED, None),
                   ("instructions", None, "", NOT_COUNTED, None)],
    },
    {
        "name": "perf 6.x CSV, hardware events in a VM without a vPMU",
        "text": """\
<not supported>,,cycles,0,100.00,,
<not supported>,,instructions,0,100.00,,
1.02,msec,task-clock,1023441,100.00,0.512,CPUs utilized
""",
        "expect": [("cycles", None, "", NOT_SUPPORTED, None),
                   ("instructions", None, "", NOT_SUPPORTED, None),
                   ("task-clock", 1.02, "msec", COUNTED, 1.0)],
    },
    {
        "name": "perf 6.x CSV, metric on a continuation line and a user-only fallback",
        "text": """\
1230,,cycles:u,5000,100.00,,
,,,,,0.41,frontend cycles idle
""",
        "expect": [("cycles:u", 1230.0, "", COUNTED, 1.0)],
    },
    {
        "name": "perf 6.x CSV, uncore IMC CAS counts scaled to MiB by sysfs",
        "text": """\
12.50,MiB,uncore_imc/cas_count_read/,2001002003,100.00,,
3.25,MiB,uncore_imc/cas_count_write/,2001002003,100.00,,
""",
        "expect": [("uncore_imc/cas_count_read/", 12.5, "MiB", COUNTED, 1.0),
                   ("uncore_imc/cas_count_write/", 3.25, "MiB", COUNTED, 1.0)],
    },
    {
        "name": "perf 5.x/6.x CSV: an unnamed raw PMU event's commas break the fields",
        "text": "2211000,,cpu/event=0x2e,umask=0x41/,1503000,48.21,,\n",
        # Refused, not misread: perf.py names every PMU-style event (name=...) for this.
        "raises": True,
    },
    {
        "name": "perf 5.x CSV (5.4 to 5.19): raw and named events, multiplexed",
        "text": """\
# started on Mon Jan  1 00:00:00 2024

2211000,,r412e,1503000,48.21,,
1800,,llc_misses,1503000,48.21,,
<not supported>,,uncore_imc/cas_count_read/,0,100.00,,
""",
        "expect": [("r412e", 2211000.0, "", COUNTED, 0.4821),
                   ("llc_misses", 1800.0, "", COUNTED, 0.4821),
                   ("uncore_imc/cas_count_read/", None, "", NOT_SUPPORTED, None)],
    },
    {
        "name": "perf 4.x CSV: value,unit,event only",
        "text": "123456,,instructions\n",
        "expect": [("instructions", 123456.0, "", COUNTED, None)],
    },
    {
        "name": "perf 6.1 JSON, region-controlled (recorded)",
        "text": """\
# started on Thu Nov 26 08:42:39 2026

{"counter-value" : "17.547428", "unit" : "msec", "event" : "task-clock", "event-runtime" : 17547428, "pcnt-running" : 100.00, "metric-value" : 0.071115, "metric-unit" : "CPUs utilized"}
{"counter-value" : "53406832.000000", "unit" : "", "event" : "cycles", "event-runtime" : 17547428, "pcnt-running" : 100.00, "metric-value" : 3.043570, "metric-unit" : "GHz"}
""",
        "expect": [("task-clock", 17.547428, "msec", COUNTED, 1.0),
                   ("cycles", 53406832.0, "", COUNTED, 1.0)],
    },
    {
        "name": "perf 6.1 JSON, multiplexed and not counted (recorded)",
        "text": """\
{"counter-value" : "667916235.000000", "unit" : "", "event" : "cycles", "event-runtime" : 168595670, "pcnt-running" : 56.00, "metric-value" : 0.000000, "metric-unit" : "Ghz"}
{"counter-value" : "0.000000", "unit" : "", "event" : "r412e", "event-runtime" : 166494932, "pcnt-running" : 60.00, "metric-value" : 0.000000, "metric-unit" : "(null)"}
{"counter-value" : "<not counted>", "unit" : "", "event" : "instructions", "event-runtime" : 0, "pcnt-running" : 100.00, "metric-value" : 0.000000, "metric-unit" : ""}
""",
        "expect": [("cycles", 667916235.0, "", COUNTED, 0.56),
                   ("r412e", 0.0, "", COUNTED, 0.60),
                   ("instructions", None, "", NOT_COUNTED, None)],
    },
    {
        "name": "perf 6.x JSON, <not supported> without metric fields",
        "text": '{"counter-value" : "<not supported>", "unit" : "", "event" : "cycles", '
                '"event-runtime" : 0, "pcnt-running" : 100.00}\n',
        "expect": [("cycles", None, "", NOT_SUPPORTED, None)],
    },
    {
        "name": "perf >= 6.6 JSON: numbers unquoted, metrics as objects of their own",
        "text": """\
{"counter-value" : 1500.0, "unit" : "", "event" : "instructions", "event-runtime" : 9000, "pcnt-running" : 25.0}
{"metric-value" : "0.50", "metric-unit" : "insn per cycle"}
""",
        "expect": [("instructions", 1500.0, "", COUNTED, 0.25)],
    },
]
