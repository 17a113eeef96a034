"""The null kernel: calibration with a fake clock, its kernel API, and its scenario entry."""

import numpy as np
import pytest

from harness.scenario.kernelspec import KERNELS, Geometry
from harness.execute.plan import make_plan
from harness.scenario.schema import load_scenario
from kernels.spin import Calibration, Spin, calibrate


class LoopClock:
    """A clock that a fake loop advances: ``ns_per_iteration`` per trip, plus noise."""

    def __init__(self, ns_per_iteration, noise=()):
        self.now, self.rate = 0, ns_per_iteration
        self.noise = list(noise)
        self.calls = []

    def clock(self):
        return self.now

    def loop(self, iterations):
        self.calls.append(iterations)
        self.now += int(iterations * self.rate) + (self.noise.pop(0) if self.noise else 0)


def test_calibration_grows_the_trial_and_keeps_the_fastest():
    fake = LoopClock(10, noise=[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 50_000, 0, 90_000])
    slept = []
    cal = calibrate(fake.loop, fake.clock, trial_ns=100_000, trials=5, sleep=slept.append)
    assert cal.iterations_per_trial * 10 >= 100_000
    assert cal.ns_per_iteration == pytest.approx(10.0)  # the noisy trials are not the minimum
    assert cal.trial_ns == sorted(cal.trial_ns) and len(cal.trial_ns) == 5
    assert len(slept) == 5  # trials are spread out
    assert fake.calls[0] == 1024 and fake.calls[-5:] == [cal.iterations_per_trial] * 5


def test_calibration_ends_with_a_clock_that_never_moves():
    cal = calibrate(lambda n: None, lambda: 0, trial_ns=1000, trials=2, sleep=lambda s: None)
    assert cal.ns_per_iteration == 0 and cal.iterations_per_trial >= 1 << 40


def test_iterations_follow_lookups_and_ns():
    spin = Spin(1000, dim=8, calibration=Calibration(20.0, 5000, 3, [1, 2, 3]))
    assert spin.iterations_for(64) == 3200   # 64 lookups x 1000 ns / 20 ns per trip
    assert Spin(1250, 8, spin.calibration).iterations_for(64) == 4000
    ids = np.arange(12)
    assert spin.prepare(ids) == (600, 12)
    assert spin.prepare(ids, np.array([0, 3, 6])) == (600, 3)  # bags: one output row each


def test_null_kernel_needs_no_calibration():
    spin = Spin(0, dim=4)
    assert spin.calibration is None and spin.iterations_for(10**6) == 0
    out = spin.lookup(np.arange(5), np.array([0, 2]))
    assert out.shape == (2, 4) and out.dtype == np.float32 and not out.any()
    assert np.array_equal(out, spin.reference(np.arange(5), np.array([0, 2])))
    assert spin.nbytes == 0 and spin.alignment is None and spin.bytes_per_lookup() == 0
    with pytest.raises(ValueError):
        Spin(-1, 4)


def test_spin_in_a_scenario(tmp_path, zen3_vm):
    path = tmp_path / "s.yaml"
    path.write_text("name: s\nthreads: 1\ntables: {sizes: ['1000 rows'], dim: 16}\n"
                    "batch_sizes: [64]\nkernels:\n  - {kernel: spin, ns_per_lookup: [0, 1000]}\n")
    plan = make_plan(load_scenario(path), zen3_vm)
    assert [p.point_id for p in plan.runnable] == [
        "spin-ns_per_lookup0.rows1000.dim16.b64.p1.t1",
        "spin-ns_per_lookup1000.rows1000.dim16.b64.p1.t1"]
    assert plan.runnable[1].kernel_bytes == 0 and plan.runnable[1].label == "spin 1000 ns/lookup"
    built = KERNELS["spin"].build({"ns_per_lookup": 0}, Geometry(1000, 16, 2**25), 0)
    assert isinstance(built, Spin) and built.dim == 16
    path.write_text(path.read_text().replace("ns_per_lookup: [0, 1000]", "ns_per_lookup: -5"))
    with pytest.raises(Exception, match="ns_per_lookup"):
        load_scenario(path)
