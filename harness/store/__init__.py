"""The store stage: the one reader and writer of result directories.

Every result file (manifest.json, points.csv, pyperf.json, raw run records, limits.json)
is written and read here, atomically and with a ``format_version``: older files are
upgraded on read, newer ones refused. ``lock`` keeps one writer per directory;
``fileio`` makes writes atomic; ``latency`` holds the pure statistics of per-batch
latencies that points.csv summarises.
"""
