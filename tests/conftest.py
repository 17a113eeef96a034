import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fakes import SKYLAKE_SP_2S, ZEN3_VM_2CPU, ZEN4_1S, make_machine_tree  # noqa: E402

from harness.machine.detect import describe_machine  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
# `run --dry-run` calibrates this machine's rates when it has no stored run (a few
# seconds); the tests' dry runs use nominal rates instead (test_estimate tests both).
os.environ.setdefault("HARNESS_CALIBRATION", "off")


@pytest.fixture
def repo() -> Path:
    return REPO


def _machine(tmp_path, spec):
    sysfs, procfs = make_machine_tree(tmp_path / spec.model_name.split()[0], spec)
    return describe_machine(sysfs, procfs, perf="perf")


@pytest.fixture
def skylake(tmp_path):
    return _machine(tmp_path, SKYLAKE_SP_2S)


@pytest.fixture
def zen4(tmp_path):
    return _machine(tmp_path, ZEN4_1S)


@pytest.fixture
def zen3_vm(tmp_path):
    return _machine(tmp_path, ZEN3_VM_2CPU)
