"""The execution stage: a scenario's points planned, run in pinned workers, recorded.

``plan`` expands a scenario into points on a machine and decides which can run;
``session`` is the one execution path every measuring command (run, limits, both sides
of ab) goes through (lock, signals, memory re-check, progress, resume); ``manifest``
describes a scenario run for its result files; ``resume`` says whether a stored run may
be continued; ``runner`` launches one fresh worker process per point and repeat and
never measures; ``worker`` is the measured process; ``layout`` maps features onto kernel
instances; ``placement`` applies a point's NUMA memory policy before tables are built;
``indices`` makes the id streams; ``signals`` turns SIGINT/SIGTERM/SIGHUP into an
orderly stop.
"""
