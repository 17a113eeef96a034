"""The one hash family MEM-REC's encoders use, bit-identical in numpy and torch.

For an id ``x`` (any int64; read as its unsigned 64-bit pattern) and hash number
``i`` of a kernel built with ``seed``:

    s_i      = mix64(seed * GOLDEN + (i + 1) * GOLDEN)      (per-hash seed)
    h_i(x)   = mix64(x XOR s_i)                               (64-bit hash)
    token_i  = (hi32(h_i) * d)  >> 32                         (index into d rows)
    weight_i = (lo32(h_i) * d') >> 32                         (index into d' rows)

``mix64`` is the SplitMix64 finaliser (Steele, Lea, Flood 2014): a bijection on
64 bits with full avalanche. One 64-bit hash serves both encoders through its two
32-bit halves, as the reference code does with wyhash; ranges are reduced with
Lemire's multiply-shift instead of ``%`` because it needs no division and stays
exact in signed 64-bit arithmetic, which is all torch offers (d < 2**31).

Shared-layout keys are salted per feature as in the reference code:
``key = x + feature * FEATURE_SALT`` (mod 2**64).
"""

from __future__ import annotations

import numpy as np

GOLDEN = 0x9E3779B97F4A7C15
MIX_C1 = 0xBF58476D1CE4E5B9
MIX_C2 = 0x94D049BB133111EB
FEATURE_SALT = 430_000_000
MAX_ROWS = 2**31 - 1  # multiply-shift of a 32-bit half by d must fit in int64
_MASK64 = (1 << 64) - 1


def mix64_int(x: int) -> int:
    """SplitMix64 finaliser on a Python int (the specification the arrays follow)."""
    x &= _MASK64
    x = ((x ^ (x >> 30)) * MIX_C1) & _MASK64
    x = ((x ^ (x >> 27)) * MIX_C2) & _MASK64
    return x ^ (x >> 31)


def hash_seeds(seed: int, count: int) -> list[int]:
    """The per-hash 64-bit seeds s_0..s_{count-1} as unsigned Python ints."""
    return [mix64_int(seed * GOLDEN + (i + 1) * GOLDEN) for i in range(count)]


def signed64(u: int) -> int:
    """An unsigned 64-bit value as the int64 with the same bits (torch has no uint64)."""
    return u - (1 << 64) if u >= 1 << 63 else u


_signed = signed64


# --- numpy -----------------------------------------------------------------

def mix64_numpy(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.uint64, copy=True)
    x ^= x >> np.uint64(30)
    x *= np.uint64(MIX_C1)
    x ^= x >> np.uint64(27)
    x *= np.uint64(MIX_C2)
    x ^= x >> np.uint64(31)
    return x


def as_keys_numpy(ids, feature: int | None = None) -> np.ndarray:
    """ids (int64) as uint64 keys, salted by feature for the shared layout."""
    keys = np.asarray(ids).astype(np.int64, copy=False).view(np.uint64)
    if feature:
        keys = keys + np.uint64((feature * FEATURE_SALT) & _MASK64)
    return keys


def hashes_numpy(keys: np.ndarray, seed: int, count: int) -> np.ndarray:
    """(n, count) uint64 hashes h_i(key)."""
    out = np.empty((keys.shape[0], count), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for i, s in enumerate(hash_seeds(seed, count)):
            out[:, i] = mix64_numpy(keys ^ np.uint64(s))
    return out


def reduce_numpy(half32: np.ndarray, rows: int) -> np.ndarray:
    """Multiply-shift range reduction of 32-bit values into [0, rows) as int64."""
    return ((half32 * np.uint64(rows)) >> np.uint64(32)).astype(np.int64)


def token_indices_numpy(keys: np.ndarray, seed: int, k: int, rows: int) -> np.ndarray:
    h = hashes_numpy(keys, seed, k)
    return reduce_numpy(h >> np.uint64(32), rows)


def weight_indices_numpy(keys: np.ndarray, seed: int, k: int, rows: int) -> np.ndarray:
    h = hashes_numpy(keys, seed, k)
    return reduce_numpy(h & np.uint64(0xFFFFFFFF), rows)


# --- torch -----------------------------------------------------------------
# torch has no uint64 arithmetic: int64 multiplication wraps like uint64, but >>
# is arithmetic, so logical shifts mask off the sign-extended bits.

def _lshr(x, bits: int):
    return (x >> bits) & ((1 << (64 - bits)) - 1)


def mix64_torch(x):
    x = x ^ _lshr(x, 30)
    x = x * _signed(MIX_C1)
    x = x ^ _lshr(x, 27)
    x = x * _signed(MIX_C2)
    return x ^ _lshr(x, 31)


def as_keys_torch(ids, feature: int | None = None):
    import torch

    keys = torch.as_tensor(ids, dtype=torch.int64)
    if feature:
        keys = keys + _signed((feature * FEATURE_SALT) & _MASK64)
    return keys


def hashes_torch(keys, seed: int, count: int):
    import torch

    return torch.stack([mix64_torch(keys ^ _signed(s)) for s in hash_seeds(seed, count)], dim=1) \
        if count else torch.empty((keys.shape[0], 0), dtype=torch.int64)


def token_indices_torch(keys, seed: int, k: int, rows: int):
    h = hashes_torch(keys, seed, k)
    return (_lshr(h, 32) * rows) >> 32


def weight_indices_torch(keys, seed: int, k: int, rows: int):
    h = hashes_torch(keys, seed, k)
    return ((h & 0xFFFFFFFF) * rows) >> 32


def hashes_torch_seeded(keys, seeds):
    """(n, len(seeds)) hashes of int64 keys against int64 ``seeds`` in one pass.

    The same values as ``hashes_torch``; the kernels keep their seeds as a tensor so a
    small batch pays a dozen torch ops, not a dozen per hash plus a stack.
    """
    return mix64_torch(keys.unsqueeze(1) ^ seeds)


def token_rows_torch(h, rows: int):
    """Token indices from hashes (upper 32 bits, multiply-shift)."""
    return (_lshr(h, 32) * rows) >> 32


def weight_rows_torch(h, rows: int):
    """Weight indices from hashes (lower 32 bits, multiply-shift)."""
    return ((h & 0xFFFFFFFF) * rows) >> 32
