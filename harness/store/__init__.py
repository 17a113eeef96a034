"""The store stage: the one reader and writer of result directories.

Every file of a run or limits result (manifest.json, points.csv, pyperf.json, raw run
records, limits.json) is written by ``results`` (``ResultStore``; manifests built by
``manifest``) and read back by ``reader`` alone, pyperf.json through pyperf. ``models``
holds the files' shapes (pydantic) and the one list of points.csv's columns;
``versions`` upgrades files of an older ``format_version`` on read and refuses newer
ones. ``serving`` and ``accuracy`` are the one reader and writer of `harness serve` and
`harness accuracy` results. ``resultdir`` decides which directories a run may write
into; ``lock`` keeps one writer per directory; ``fileio`` makes writes atomic;
``latency`` holds the pure statistics of per-batch latencies that points.csv summarises.
"""
