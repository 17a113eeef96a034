"""MEM-REC hardware performance characterisation harness.

The manager (``python -m harness run``) expands a scenario into measurement points
and runs each in a fresh, pinned worker process (``harness.execute.worker``); results are
stored as pyperf JSON, a CSV of points and a manifest.
"""

__version__ = "0.1.0"

# Version of the on-disk result format (manifest.json with its points.csv and pyperf.json,
# raw/*/r*.json, limits.json); harness.store.versions upgrades older files on read.
# Bump when a reader of older files would misread newer ones.
RESULT_FORMAT_VERSION = 2
