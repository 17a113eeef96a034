"""Every kernel's class-level formulas against the object it builds, so they cannot drift.

The plan sizes memory budgets and reports compression from ``footprint_for`` and
``bytes_per_lookup_for`` without building anything; here each scenario kernel is
resolved and built at small sizes and its declared footprint compared with the bytes of
the arrays the object holds.
"""

import itertools

import numpy as np
import pytest

from harness.scenario.kernelspec import KERNELS, Geometry, variants

LLC_BYTES = 1 << 20

# Scenario entries for each kernel (the cheapest backend: no torch, no numba compile), with
# sweeps over the parameters that change the arithmetic (weights or none, z not dividing
# dim, more collisions than rows).
ENTRIES = {
    "baseline": {"backend": "numpy"},
    "spin": {"ns_per_lookup": 0},
    "memrec": {"token_rows": [7, "0.01x LLC"], "k": [1, 3], "weight_rows": [5, "1KiB"],
               "k_weight": [0, 2], "backend": "numpy"},
    "hashing_trick": {"rows": [3, "4KiB"], "backend": "numpy"},
    "bloom": {"token_rows": [9, 100], "k": [2, 4], "backend": "numpy"},
    "qr": {"collisions": [1, 3, 4096], "backend": "numpy"},
    "robez": {"size": [1, 1000, "1KiB"], "z": [1, 7, 32], "backend": "numpy"},
    "ttrec": {"rank": [1, 3], "backend": "numpy"},
    "gather": [{}, {"prefetch": [0, 4]}],
    "chase": {},
    "stream": {},
}
SIZES = [(1, 8), (5, 24), (1000, 16), (997, 24)]  # (vocabulary rows, dim)


def owned_bytes(kernel) -> int:
    """Bytes of the distinct numpy arrays held in the kernel's public attributes."""
    seen, total = set(), 0
    for name, value in vars(kernel).items():
        if name.startswith("_") or not isinstance(value, np.ndarray):
            continue
        address = value.__array_interface__["data"][0]
        if address not in seen:
            seen.add(address)
            total += value.nbytes
    return total


def test_every_kernel_has_an_example():
    assert set(ENTRIES) == set(KERNELS)


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_declared_footprint_is_what_the_kernel_owns(name):
    spec = KERNELS[name]
    examples = ENTRIES[name] if isinstance(ENTRIES[name], list) else [ENTRIES[name]]
    entries = [spec.params_model.model_validate({"kernel": name, **e}) for e in examples]
    checked = 0
    for (rows, dim), entry in itertools.product(SIZES, entries):
        g = Geometry(rows=rows, dim=dim, llc_bytes=LLC_BYTES)
        for raw in variants(entry):
            params = spec.resolve(raw, g)
            kernel = spec.build(params, g, seed=1)
            declared = spec.footprint_bytes(params, g)
            assert declared == kernel.nbytes == owned_bytes(kernel), (name, rows, dim, params)
            assert spec.bytes_per_lookup(params, g) == kernel.bytes_per_lookup(), params
            checked += 1
    assert checked >= len(SIZES)


def test_a_table_is_counted_by_owned_bytes():
    """The checker itself: a kernel with a table is not trivially 0 == 0."""
    g = Geometry(rows=10, dim=4, llc_bytes=LLC_BYTES)
    kernel = KERNELS["baseline"].build({"backend": "numpy"}, g, seed=0)
    assert owned_bytes(kernel) == 10 * 4 * 4


def test_sizes_resolve_in_the_unit_of_the_parameter():
    """Token rows count dim floats, weight rows and ROBE-Z's array single floats."""
    g = Geometry(rows=100, dim=16, llc_bytes=LLC_BYTES)
    spec = KERNELS["memrec"]
    entry = spec.params_model.model_validate({"kernel": "memrec", "token_rows": "64KiB",
                                              "weight_rows": "64KiB"})
    params = spec.resolve(variants(entry)[0], g)
    assert params["token_rows"] == (64 << 10) // 64 and params["weight_rows"] == (64 << 10) // 4
    entry = KERNELS["robez"].params_model.model_validate({"kernel": "robez", "size": "4KiB"})
    assert KERNELS["robez"].resolve(variants(entry)[0], g)["size"] == 1024


def test_a_size_beyond_the_hash_range_is_refused():
    spec = KERNELS["bloom"]
    entry = spec.params_model.model_validate({"kernel": "bloom", "token_rows": 3_000_000_000})
    with pytest.raises(ValueError, match="token_rows resolves to 3000000000 rows"):
        spec.resolve(variants(entry)[0], Geometry(rows=10, dim=8, llc_bytes=LLC_BYTES))


def test_scenario_model_is_the_kernel_class_model():
    """A kernel's parameters, defaults and bounds come from its class: one place."""
    from kernels.memrec import MemRec

    model = KERNELS["memrec"].params_model
    assert list(model.model_fields) == ["label", "kernel", *MemRec.Params.model_fields]
    entry = model.model_validate({"kernel": "memrec", "token_rows": 10, "weight_rows": 5})
    assert entry.k == [MemRec.Params.model_fields["k"].default]
    with pytest.raises(ValueError, match="less than or equal to 64"):
        model.model_validate({"kernel": "memrec", "token_rows": 10, "weight_rows": 5, "k": 65})
    with pytest.raises(ValueError, match="extra"):
        KERNELS["chase"].params_model.model_validate({"kernel": "chase", "prefetch": 4})
