import numpy as np

from harness.execute.indices import make_batches, make_ids, zipf_ranks


def test_uniform_in_range_and_seeded():
    a = make_batches({"name": "uniform"}, 1000, 16, 2, 3, 4, [1, 2])
    b = make_batches({"name": "uniform"}, 1000, 16, 2, 3, 4, [1, 2])
    assert len(a) == 4 and len(a[0]) == 3
    ids, offsets = a[0][0]
    assert ids.shape == (32,) and ids.dtype == np.int64 and offsets.tolist() == list(range(0, 32, 2))
    assert all(np.array_equal(x[0], y[0]) for fa, fb in zip(a, b) for x, y in zip(fa, fb))
    assert all(0 <= f[0].min() and f[0].max() < 1000 for batch in a for f in batch)


def test_zipf_is_skewed_and_bounded():
    rng = np.random.default_rng(0)
    ranks = zipf_ranks(rng, 10**6, 200_000, 1.05)
    assert ranks.min() >= 0 and ranks.max() < 10**6
    counts = np.bincount(ranks)
    assert counts[0] > counts[1] > counts[10] and counts[0] > 0.05 * ranks.size
    ids = make_ids({"name": "zipf", "alpha": 1.2}, 5000, 50_000, rng)
    assert ids.min() >= 0 and ids.max() < 5000
    top = np.bincount(ids).argsort()[-2:]
    assert abs(int(top[0]) - int(top[1])) > 1  # hot ids are scattered, not neighbours


def test_trace_cycles_and_folds():
    trace = np.array([5, 15, 25], dtype=np.int64)
    ids = make_ids({"name": "trace"}, 10, 7, np.random.default_rng(0), trace, trace_start=1)
    assert ids.tolist() == [5, 5, 5, 5, 5, 5, 5]
    ids = make_ids({"name": "trace"}, 100, 4, np.random.default_rng(0), trace)
    assert ids.tolist() == [5, 15, 25, 5]


def test_zipf_hot_ids_stay_hot_across_batches():
    """The same ids are popular in every batch (review finding: the placement of the
    ranks was redrawn per batch, so a Zipf stream had less reuse than a uniform one)."""
    batches = make_batches({"name": "zipf", "alpha": 1.05}, 10**6, 4096, 1, 2, 4, 7)
    for f in range(2):
        tops = [set(np.bincount(b[f][0]).argsort()[-20:].tolist()) for b in batches]
        assert all(len(tops[0] & t) >= 15 for t in tops[1:])
    # the two features place their ranks differently
    assert set(np.bincount(batches[0][0][0]).argsort()[-5:]) != set(
        np.bincount(batches[0][1][0]).argsort()[-5:])
