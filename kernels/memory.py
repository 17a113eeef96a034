"""Table allocation: aligned, deterministic, and fast to fill.

numpy only guarantees 16-byte alignment, so a 512-byte row could straddle nine
64-byte lines instead of eight. Tables here start on a page boundary (which also
makes every row of a power-of-two width start on a cache line).
"""

from __future__ import annotations

import numpy as np

PAGE_BYTES = 4096


def aligned_empty(shape, dtype=np.float32, align: int = PAGE_BYTES) -> np.ndarray:
    """An uninitialised array whose data starts at a multiple of ``align`` bytes."""
    dtype = np.dtype(dtype)
    count = int(np.prod(shape, dtype=np.int64))
    nbytes = count * dtype.itemsize
    raw = np.empty(nbytes + align, dtype=np.uint8)
    offset = (-raw.ctypes.data) % align
    return raw[offset:offset + nbytes].view(dtype).reshape(shape)


def alignment_of(array: np.ndarray) -> int:
    """Largest power of two (up to a page) dividing the array's start address."""
    address = array.ctypes.data
    align = 1
    while align < PAGE_BYTES and address % (align * 2) == 0:
        align *= 2
    return align


def fill_table(table: np.ndarray, seed: int, block_rows: int = 1 << 14) -> None:
    """Fill a 2-D table with seeded values in [-0.5, 0.5), fast enough for 10 GB.

    Drawing every value from an RNG runs at ~0.5 GB/s; instead one random block
    of ``block_rows`` rows is drawn and repeated, each repetition scaled by a
    distinct factor so that no two rows are equal. Deterministic for a seed.
    """
    rows = table.shape[0]
    rng = np.random.default_rng(seed)
    block = rng.random((min(rows, block_rows),) + table.shape[1:], dtype=np.float32)
    block -= np.float32(0.5)
    for start in range(0, rows, block.shape[0]):
        stop = min(rows, start + block.shape[0])
        scale = np.float32(1.0 + (start // block.shape[0]) * 2.0**-12)
        np.multiply(block[:stop - start], scale, out=table[start:stop])


def random_table(shape, seed: int, align: int = PAGE_BYTES) -> np.ndarray:
    table = aligned_empty(shape, np.float32, align)
    fill_table(table.reshape(shape[0], -1), seed)
    return table
