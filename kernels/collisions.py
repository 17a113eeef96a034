"""Which ids MEM-REC's encoders cannot tell apart, counted exactly for a vocabulary.

Two ids are indistinguishable to the token encoder when their k token indices are
the same multiset (the rows are summed, so order does not matter and a repeated
index counts twice); adding the weight encoder, they stay indistinguishable only
if their k' weight indices are the same multiset too (then alpha is equal).
Signatures are packed into uint64 words (sorted indices, ceil(log2 d) bits each)
and counted by sorting, in chunks, so 40 million ids need about 2 GB:
8 bytes per id per word for the signatures, a sort's copy, and a few flags.

``pair_probability`` gives the uniform-hashing model's chance that two ids share
a signature, for comparison with the measured fractions.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from kernels import hashing

CHUNK_IDS = 1 << 22


@dataclass
class CollisionReport:
    vocab: int
    token_rows: int
    k: int
    weight_rows: int
    k_weight: int
    seed: int
    feature: int
    token_shared_ids: int          # ids whose token signature another id also has
    both_shared_ids: int           # ... and whose weight signature matches that id's too
    distinct_token_signatures: int
    distinct_signatures: int
    signature_words: int

    @property
    def token_shared_fraction(self) -> float:
        return self.token_shared_ids / self.vocab

    @property
    def both_shared_fraction(self) -> float:
        return self.both_shared_ids / self.vocab

    def to_dict(self) -> dict:
        return asdict(self) | {"token_shared_fraction": self.token_shared_fraction,
                               "both_shared_fraction": self.both_shared_fraction}


def _bits(rows: int) -> int:
    return max(1, (rows - 1).bit_length())


def _words(count: int, bits: int) -> int:
    return 0 if count == 0 else -(-count // (64 // bits))


def pack_sorted(indices: np.ndarray, bits: int) -> np.ndarray:
    """(n, c) indices < 2**bits -> (n, words) uint64 of the sorted indices, packed."""
    n, count = indices.shape
    per_word = 64 // bits
    srt = np.sort(indices, axis=1).astype(np.uint64)
    out = np.zeros((n, _words(count, bits)), dtype=np.uint64)
    for i in range(count):
        w, slot = divmod(i, per_word)
        out[:, w] |= srt[:, i] << np.uint64(slot * bits)
    return out


def signatures(vocab: int, token_rows: int, k: int, weight_rows: int, k_weight: int,
               seed: int = 0, feature: int = 0, chunk: int = CHUNK_IDS) -> tuple[np.ndarray, int]:
    """Packed (token words, then weight words) signatures of ids 0..vocab-1."""
    tb, wb = _bits(token_rows), _bits(weight_rows)
    tw, ww = _words(k, tb), _words(k_weight, wb)
    out = np.empty((vocab, tw + ww), dtype=np.uint64)
    nh = max(k, k_weight)
    for start in range(0, vocab, chunk):
        stop = min(vocab, start + chunk)
        keys = hashing.as_keys_numpy(np.arange(start, stop, dtype=np.int64), feature)
        h = hashing.hashes_numpy(keys, seed, nh)
        out[start:stop, :tw] = pack_sorted(
            hashing.reduce_numpy(h[:, :k] >> np.uint64(32), token_rows), tb)
        if k_weight:
            out[start:stop, tw:] = pack_sorted(
                hashing.reduce_numpy(h[:, :k_weight] & np.uint64(0xFFFFFFFF), weight_rows), wb)
        del h, keys
    return out, tw


def _exact_shared(sig: np.ndarray) -> tuple[int, int]:
    """(rows equal to another row, distinct rows) by sorting whole rows."""
    n = sig.shape[0]
    if n == 0:
        return 0, 0
    if sig.shape[1] == 1:
        s = np.sort(sig[:, 0])
        same = s[1:] == s[:-1]
    else:
        s = sig[np.lexsort(sig.T[::-1])]
        same = np.all(s[1:] == s[:-1], axis=1)
    del s
    shared = np.zeros(n, dtype=bool)
    shared[1:] |= same
    shared[:-1] |= same
    return int(shared.sum()), int(n - same.sum())


def shared_count(sig: np.ndarray) -> tuple[int, int]:
    """(rows equal to at least one other row, distinct rows) of a (n, words) array.

    One word: a sort. Several: rows are folded into a 64-bit fingerprint and
    sorted; only rows whose fingerprint is shared are compared whole (a lexsort
    of 40M rows of 3 words took 100 s, the fingerprint path a few).
    """
    if sig.shape[1] <= 1:
        return _exact_shared(sig)
    fp = np.zeros(sig.shape[0], dtype=np.uint64)
    with np.errstate(over="ignore"):
        for w in range(sig.shape[1]):
            fp = hashing.mix64_numpy(fp ^ sig[:, w]) + np.uint64(w + 1)
    s = np.sort(fp)
    repeated = np.unique(s[1:][s[1:] == s[:-1]])
    del s
    candidates = np.isin(fp, repeated)
    del fp
    shared, distinct = _exact_shared(sig[candidates])
    return shared, distinct + int(sig.shape[0] - candidates.sum())


def collisions(vocab: int, token_rows: int, k: int, weight_rows: int, k_weight: int,
               seed: int = 0, feature: int = 0, chunk: int = CHUNK_IDS) -> CollisionReport:
    """Count ids 0..vocab-1 that share their signature with another id."""
    if vocab < 1 or token_rows < 1 or weight_rows < 1 or k < 1 or k_weight < 0:
        raise ValueError("need vocab, token_rows, weight_rows, k >= 1 and k_weight >= 0")
    if max(token_rows, weight_rows) > hashing.MAX_ROWS:
        raise ValueError(f"rows must be at most {hashing.MAX_ROWS}")
    sig, token_words = signatures(vocab, token_rows, k, weight_rows, k_weight, seed,
                                  feature, chunk)
    words = sig.shape[1]
    token_shared, token_distinct = shared_count(np.ascontiguousarray(sig[:, :token_words]))
    if k_weight:
        tb, wb = _bits(token_rows), _bits(weight_rows)
        if sig.shape[1] == 2 and k * tb + k_weight * wb <= 64:
            # Both fit one word: a plain sort instead of a lexsort over two.
            sig[:, 0] |= sig[:, 1] << np.uint64(k * tb)
            sig = sig[:, :1]
        both_shared, both_distinct = shared_count(sig)
    else:
        both_shared, both_distinct = token_shared, token_distinct
    return CollisionReport(vocab, token_rows, k, weight_rows, k_weight, seed, feature,
                           token_shared, both_shared, token_distinct, both_distinct,
                           words)


def _partitions(n: int, largest: int | None = None):
    largest = n if largest is None else largest
    if n == 0:
        yield ()
        return
    for part in range(min(n, largest), 0, -1):
        for rest in _partitions(n - part, part):
            yield (part,) + rest


def pair_probability(rows: int, count: int) -> float:
    """P(two ids' ``count`` uniform indices into ``rows`` are the same multiset)."""
    if count == 0:
        return 1.0
    total = 0.0
    for parts in _partitions(count):
        r = len(parts)
        if r > rows:
            continue
        # Multisets of this shape: choose r distinct values, assigned to the parts
        # up to permutations of equal parts.
        multisets = math.perm(rows, r)
        for size in set(parts):
            multisets //= math.factorial(parts.count(size))
        arrangements = math.factorial(count)
        for p in parts:
            arrangements //= math.factorial(p)
        total += multisets * (arrangements / rows**count) ** 2
    return total


def model_shared_fraction(vocab: int, pair: float) -> float:
    """Uniform model: P(an id shares its signature with at least one of the others).

    1 - (1 - pair) ** (vocab - 1): with one id there is no other to collide with (0,
    even when every signature is the same, d = 1), with ``pair`` = 1 and two or more
    ids every id shares one.
    """
    if vocab <= 1:
        return 0.0
    return -math.expm1((vocab - 1) * math.log1p(-pair)) if pair < 1 else 1.0
