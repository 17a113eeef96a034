"""Collision counts against a brute-force count, the model, and the CLI."""

import json
import math
from collections import Counter

import numpy as np
import pytest

from kernels import hashing
from kernels.collisions import (collisions, model_shared_fraction, pack_sorted,
                                pair_probability, shared_count)
from kernels.memrec import MemRec

from cli import run_harness as harness


def brute_force(vocab, d, k, dw, kw, seed=0, feature=0):
    keys = hashing.as_keys_numpy(np.arange(vocab), feature)
    tokens = [tuple(sorted(r)) for r in hashing.token_indices_numpy(keys, seed, k, d).tolist()]
    weights = [tuple(sorted(r)) for r in hashing.weight_indices_numpy(keys, seed, kw, dw).tolist()]
    both = list(zip(tokens, weights))
    ct, cb = Counter(tokens), Counter(both)
    return (sum(ct[t] > 1 for t in tokens), sum(cb[b] > 1 for b in both), len(ct), len(cb))


@pytest.mark.parametrize("vocab,d,k,dw,kw", [
    (3000, 50, 2, 20, 1), (3000, 50, 1, 7, 0), (5000, 40, 3, 30, 2),
    # More than 64 bits of signature: the fingerprint path, token and weight words apart.
    (4000, 2**31 - 1, 3, 2**20, 4), (4000, 9, 9, 5, 15),
])
@pytest.mark.parametrize("chunk", [1000, 1 << 22])
def test_counts_match_brute_force(vocab, d, k, dw, kw, chunk):
    r = collisions(vocab, d, k, dw, kw, seed=1, feature=2, chunk=chunk)
    assert (r.token_shared_ids, r.both_shared_ids, r.distinct_token_signatures,
            r.distinct_signatures) == brute_force(vocab, d, k, dw, kw, 1, 2)


def test_signature_is_what_the_kernel_sums():
    """Ids the count calls indistinguishable really get the same MEM-REC vector."""
    vocab, d, dw = 4000, 30, 10
    m = MemRec(d, 4, 2, dw, 1, seed=0, backend="numpy")
    z = m.lookup(np.arange(vocab))
    keys = hashing.as_keys_numpy(np.arange(vocab))
    sig = [tuple(sorted(t)) + tuple(w) for t, w in zip(
        hashing.token_indices_numpy(keys, 0, 2, d).tolist(),
        hashing.weight_indices_numpy(keys, 0, 1, dw).tolist())]
    groups = {}
    for i, s in enumerate(sig):
        groups.setdefault(s, []).append(i)
    shared = [g for g in groups.values() if len(g) > 1]
    assert shared
    for g in shared:
        np.testing.assert_allclose(z[g], np.broadcast_to(z[g[0]], z[g].shape), rtol=1e-6)
    assert sum(map(len, shared)) == collisions(vocab, d, 2, dw, 1).both_shared_ids


def test_pack_sorted_orders_and_shares_words():
    packed = pack_sorted(np.array([[3, 1], [1, 3], [2, 2]]), bits=4)
    assert packed[0, 0] == packed[1, 0] != packed[2, 0]
    assert shared_count(packed) == (2, 2)


def test_pair_probability_exact_small_cases():
    # k=2 from d=3: multisets {a,a} (3, prob 1/9 each) and {a,b} (3, prob 2/9 each).
    assert pair_probability(3, 2) == pytest.approx(3 * (1 / 9) ** 2 + 3 * (2 / 9) ** 2)
    assert pair_probability(100, 1) == pytest.approx(0.01)
    assert pair_probability(5, 0) == 1.0
    assert model_shared_fraction(2, 0.25) == pytest.approx(0.25)
    assert model_shared_fraction(10**6, 0.0) == 0.0


@pytest.mark.parametrize("vocab, rows, k", [(1, 1, 1), (1, 7, 3), (2, 1, 1), (3, 1, 2),
                                            (5, 2, 1)])
def test_model_agrees_with_exact_counts_on_tiny_vocabularies(vocab, rows, k):
    """Issue 18: one id into one row printed the model as 100% shared beside 0% measured;
    with one id nothing can collide, with one row every id of two or more does."""
    r = collisions(vocab, rows, k, rows, 1)
    model = model_shared_fraction(vocab, pair_probability(rows, k))
    if vocab == 1:
        assert r.token_shared_ids == 0 and model == 0.0
    if rows == 1:
        assert r.token_shared_fraction == model == (0.0 if vocab == 1 else 1.0)


def test_measured_close_to_model():
    r = collisions(200_000, 2000, 2, 100, 1)
    q = pair_probability(2000, 2)
    assert math.isclose(r.token_shared_fraction, model_shared_fraction(200_000, q), rel_tol=0.05)


def test_cli_json_and_text():
    proc = harness("collisions", "--vocab", 5000, "-d", 50, "-k", 2, "--dw", 20, "--kw", 1,
                   "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    shared, both, _, _ = brute_force(5000, 50, 2, 20, 1)
    assert out["measured"]["token_shared_ids"] == shared
    assert out["measured"]["both_shared_ids"] == both
    assert out["model"]["source"].startswith("model")
    text = harness("collisions", "--vocab", 5000, "-d", 50).stdout
    assert "indistinguishable" in text and "model" in text


@pytest.mark.parametrize("args,needle", [(["--vocab", 0, "-d", 5], "--vocab must be at least 1"),
                                         (["--vocab", 5, "-d", 2**31], "below 2**31"),
                                         (["--vocab", 5, "-d", 5, "--kw", -1], "--k-weight")])
def test_cli_bad_input(args, needle):
    proc = harness("collisions", *args)
    assert proc.returncode == 2 and needle in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_forty_million_ids_fit_in_a_few_gib():
    """The issue's size: Criteo-TB's largest tables, on a 24 GiB machine."""
    proc = harness("collisions", "--vocab", 40_000_000, "-d", 64000, "-k", 2, "--dw", 64000,
                   "--kw", 1, "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["peak_rss_bytes"] < 4 * 2**30
    measured, model = out["measured"], out["model"]
    assert measured["vocab"] == 40_000_000
    # 40M ids into C(64000+1, 2) ~ 2e9 token signatures: ~2% share one (the model says
    # 1.93%); the weight encoder separates all but a handful.
    assert math.isclose(measured["token_shared_fraction"], model["token_shared_fraction"],
                        rel_tol=0.02)
    assert measured["both_shared_ids"] < 100
