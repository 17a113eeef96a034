"""Reader for Criteo's Kaggle / Terabyte click logs (text, one sample per line).

Each line: the label (0 or 1), 13 integer features, 26 categorical features as
hexadecimal strings (Kaggle: 8 hex digits; Terabyte: up to 8 as well), separated by
tabs; an empty field is a missing value. As the reference DLRM does, a missing or
negative integer counts as 0, and a categorical value is reduced modulo
``max_rows`` (its ``--max-ind-range``) with a missing value given id 0.

A line with the wrong number of fields, a label other than 0/1, or a field that is
not a number is an error naming ``file:line`` (exit 2): a silently skipped line would
change the data without anyone knowing.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from harness.accuracy.synthetic import CATEGORICAL_FEATURES, DENSE_FEATURES, ClickData
from harness.errors import UsageError

FIELDS = 1 + DENSE_FEATURES + CATEGORICAL_FEATURES


def _open(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="ascii", newline="\n")
    return open(path, encoding="ascii", newline="\n")


def parse_line(line: str, max_rows: int) -> tuple[int, list[int], list[int]]:
    """One line as (label, 13 dense values, 26 ids); ValueError saying what is wrong."""
    fields = line.rstrip("\r\n").split("\t")
    if len(fields) != FIELDS:
        raise ValueError(f"{len(fields)} tab-separated fields, expected {FIELDS} "
                         f"(label, {DENSE_FEATURES} integers, {CATEGORICAL_FEATURES} "
                         f"categoricals)")
    if fields[0] not in ("0", "1"):
        raise ValueError(f"label {fields[0][:20]!r} is not 0 or 1")
    dense = []
    for i, text in enumerate(fields[1:1 + DENSE_FEATURES], start=1):
        try:
            dense.append(max(0, int(text)) if text else 0)
        except ValueError:
            raise ValueError(f"I{i} {text[:20]!r} is not an integer") from None
    ids = []
    for i, text in enumerate(fields[1 + DENSE_FEATURES:], start=1):
        if not text:
            ids.append(0)
            continue
        try:
            value = int(text, 16)
        except ValueError:
            raise ValueError(f"C{i} {text[:20]!r} is not hexadecimal") from None
        if value < 0:
            raise ValueError(f"C{i} {text[:20]!r} is negative")
        ids.append(1 + value % (max_rows - 1) if max_rows > 1 else 0)
    return int(fields[0]), dense, ids


def read_criteo(path: str | Path, max_rows: int, limit: int | None = None) -> ClickData:
    """Read up to ``limit`` samples; UsageError naming file:line on a malformed line."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such data file (Criteo text: label, "
                         f"{DENSE_FEATURES} integers, {CATEGORICAL_FEATURES} hex "
                         f"categoricals, tab-separated)")
    labels, dense, ids = [], [], []
    try:
        with _open(path) as f:
            for number, line in enumerate(f, start=1):
                if limit is not None and len(labels) >= limit:
                    break
                if not line.strip():
                    raise UsageError(f"{path}:{number}: empty line")
                try:
                    label, d, c = parse_line(line, max_rows)
                except ValueError as exc:
                    raise UsageError(f"{path}:{number}: {exc}") from None
                labels.append(label)
                dense.append(d)
                ids.append(c)
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise UsageError(f"{path}: cannot be read as Criteo text: {exc}") from None
    if len(labels) < 2:
        raise UsageError(f"{path}: {len(labels)} samples; need at least 2 (train and test)")
    return ClickData(np.asarray(dense, dtype=np.float32), np.asarray(ids, dtype=np.int64),
                     np.asarray(labels, dtype=np.float32), [max_rows] * CATEGORICAL_FEATURES)


def load(cfg, base_dir: Path, override: Path | None = None) -> tuple[ClickData, ClickData]:
    """Train and test sets from a Criteo file: the last ``test_fraction`` of the
    lines is the test set (the file's order is time order, as in the reference)."""
    path = override or Path(cfg.path)
    if not path.is_absolute() and override is None:
        path = base_dir / path
    data = read_criteo(path, cfg.max_rows, cfg.limit)
    split = max(1, min(len(data) - 1, round(len(data) * (1 - cfg.test_fraction))))
    return data.slice(0, split), data.slice(split, len(data))


def describe(cfg, override: Path | None = None) -> dict:
    return {"source": "criteo", **cfg.model_dump(),
            **({"path": str(override)} if override else {})}
