"""One accuracy run: check everything, pin, load the data, train each model, store.

Everything that can be wrong with the input (the scenario, a kind that cannot reach
its size, the data file) is found before the result directory is created or any
model is trained. Models are trained one after another in this process (there is
nothing to time but each epoch's training loop, and that is recorded, not gated on),
pinned like ``run``'s workers: ``sched_setaffinity`` to the first ``threads`` CPUs
of this process's set and ``torch.set_num_threads``. A resumed run trains only the
models not yet ``done``; an interrupted or failed one starts again from epoch 1.
"""

from __future__ import annotations

import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from harness import __version__
from harness.accuracy import criteo, synthetic
from harness.store import accuracy as results
from harness.accuracy.scenario import Criteo, load_accuracy_scenario
from harness.accuracy.sizing import model_specs
from harness.errors import UsageError
from harness.machine.cpulist import format_cpulist


@dataclass
class Request:
    scenario: Path
    quick: bool = False
    out: Path | None = None
    data: Path | None = None
    resume: Path | None = None


def _pin(threads: int) -> dict:
    """Pin to the first ``threads`` CPUs we may use (fewer if fewer are allowed)."""
    from harness.execute.worker import pin  # before torch is imported: OpenMP reads env

    allowed = sorted(os.sched_getaffinity(0))
    cpus = allowed[:threads]
    placed = pin(cpus, len(cpus))
    import torch

    torch.set_num_threads(len(cpus))
    return {"threads": torch.get_num_threads(), "cpus": format_cpulist(cpus),
            "allowed_cpus": format_cpulist(allowed), "pin": placed}


def _data_source(loaded, data: Path | None):
    """(module, cfg, override path) of the scenario's data, or Criteo text at ``data``."""
    sc = loaded.scenario
    if data is not None:
        return criteo, sc.data.criteo or Criteo(path=str(data)), data
    if sc.data.criteo is not None:
        return criteo, sc.data.criteo, None
    return synthetic, sc.data.synthetic, None


def _rows(module, cfg) -> list[int]:
    if module is synthetic:
        return synthetic.scaled_cardinalities(cfg.cardinality_scale, cfg.min_rows)
    return [cfg.max_rows] * synthetic.CATEGORICAL_FEATURES


def is_accuracy_scenario(path) -> bool:
    """Whether a YAML file is an accuracy scenario (it lists ``kinds:``, not ``kernels:``)."""
    from harness.errors import UsageError
    from harness.scenario.inputfile import read_scenario_text
    from harness.scenario.yamlload import YamlProblem, load_yaml

    try:  # bounded: a device, a huge file or an alias bomb is refused, not read
        data = load_yaml(read_scenario_text(path)).data
    except (UsageError, YamlProblem):
        return False  # the run schema's loader reports what is wrong with it
    return isinstance(data, dict) and "kinds" in data and "kernels" not in data


def check_scenario(path, quick: bool = False) -> str:
    """Load an accuracy scenario and size every model (UsageError if any cannot be);
    one line saying what would be trained."""
    loaded = load_accuracy_scenario(path, quick)
    module, cfg, _ = _data_source(loaded, None)
    specs = model_specs(loaded, _rows(module, cfg))
    return (f"{path}: ok (accuracy), {len(specs)} models: "
            f"{', '.join(s.model_id for s in specs)}")


def _manifest(loaded, req: Request, machine, placed: dict, data_desc: dict) -> dict:
    from harness.machine.provenance import git_state, library_versions
    from harness.store.results import utc_now

    sc = loaded.scenario
    return {"format_version": results.FORMAT_VERSION, "kind": results.KIND,
            "harness_version": __version__, "created": utc_now(), "started": utc_now(),
            "command": sys.argv,
            "scenario": {"name": sc.name, "path": str(loaded.path), "quick": loaded.quick,
                         "given": loaded.given, "effective": sc.model_dump(mode="json")},
            "data": data_desc,
            "requested": {"threads": sc.threads, "seed": sc.seed},
            "effective": {"threads": placed["threads"], "pinning_cpus": placed["cpus"],
                          "allowed_cpus": placed["allowed_cpus"], "device": "cpu"},
            "machine": machine.to_dict(), "versions": library_versions() | _sklearn(),
            "git": git_state(), "state": "running"}


def _sklearn() -> dict:
    from importlib import metadata

    return {"scikit-learn": metadata.version("scikit-learn")}


def _resume_problems(manifest: dict, loaded, machine, data_desc: dict) -> list[str]:
    from harness.machine.detect import Machine

    problems = []
    if manifest["scenario"].get("effective") != loaded.scenario.model_dump(mode="json"):
        problems.append("its scenario differs from this one (settings or --quick)")
    if manifest.get("data") != data_desc:
        problems.append("its data differs")
    if Machine.from_dict(manifest["machine"]).identity() != machine.identity():
        problems.append("it was trained on another machine")
    return problems


def _out_dir(req: Request, loaded, machine, manifest: dict, specs, data_desc, best):
    """The result directory and its accuracy record: a new one, or the one resumed."""
    from harness.store.results import default_result_dir, new_result_dir

    if req.resume is not None:
        stored_manifest, acc = results.load_accuracy(req.resume)
        problems = _resume_problems(stored_manifest, loaded, machine, data_desc)
        if problems:
            raise UsageError([f"{req.resume}: cannot resume: {p}" for p in problems])
        manifest["created"] = stored_manifest.get("created", manifest["created"])
        return req.resume, acc
    out = req.out or default_result_dir(Path("results"), f"accuracy-{loaded.scenario.name}",
                                        machine.hostname)
    new_result_dir(out, f"resume it with --resume {out}, or choose another --out")
    return out, results.new_accuracy(data_desc, best, specs)


def run_accuracy(req: Request, say=print) -> int:
    """Train every model of the scenario; 0 when all are done, 1 when some failed."""
    from harness.machine.detect import describe_machine
    from harness.store.lock import DirectoryLock
    from harness.store.results import utc_now

    loaded = load_accuracy_scenario(req.scenario, req.quick)
    sc = loaded.scenario
    module, cfg, override = _data_source(loaded, req.data)
    specs = model_specs(loaded, _rows(module, cfg))
    if module is criteo:
        path = override or (Path(cfg.path) if Path(cfg.path).is_absolute()
                            else loaded.path.parent / cfg.path)
        data_desc = criteo.describe(cfg, path)
    else:
        data_desc = synthetic.describe(cfg)
    # The data first: a malformed file is reported before torch is even imported.
    if module is synthetic:
        train_data, test_data = synthetic.generate(cfg, sc.seed)
    else:
        train_data, test_data = criteo.load(cfg, loaded.path.parent, override)
    placed = _pin(sc.threads)
    machine = describe_machine()
    data_desc |= {"train_samples": len(train_data), "test_samples": len(test_data),
                  "train_ctr": float(train_data.labels.mean()),
                  "test_ctr": float(test_data.labels.mean())}
    from harness.accuracy import train as training

    best = training.best_achievable(test_data)
    manifest = _manifest(loaded, req, machine, placed, data_desc)
    out, acc = _out_dir(req, loaded, machine, manifest, specs, data_desc, best)
    say(f"accuracy: {len(specs)} models on {len(train_data)} train / {len(test_data)} test "
        f"samples, {placed['threads']} thread(s) on CPUs {placed['cpus']} -> {out}")
    if best:
        say(f"  generator's best achievable test AUC {best['auc']:.4f}, "
            f"log loss {best['logloss']:.4f}")
    with DirectoryLock(out):
        results.write_manifest(out, manifest)
        results.write_accuracy(out, acc)
        try:
            failed = _train_all(out, acc, specs, train_data, test_data, loaded, say)
        except KeyboardInterrupt:
            manifest.update(state="interrupted", finished=utc_now())
            results.write_accuracy(out, acc)
            results.write_manifest(out, manifest)
            say(f"interrupted; finished models are stored. Resume: python -m harness "
                f"accuracy {req.scenario}{' --quick' if req.quick else ''} --resume {out}")
            return 130
        manifest.update(state="complete" if not failed else "complete-with-failures",
                        finished=utc_now())
        results.write_manifest(out, manifest)
    say(f"{out}/{results.ACCURACY_FILE}, {results.CSV_FILE}, {results.MANIFEST_FILE}")
    return 1 if failed else 0


def _train_all(out: Path, acc: dict, specs, train_data, test_data, loaded, say) -> int:
    from harness.accuracy import model as modelling
    from harness.accuracy import train as training

    sc = loaded.scenario
    records = {m["model_id"]: m for m in acc["models"]}
    failed = 0
    for spec in specs:
        record = records[spec.model_id]
        if record["status"] == "done":
            say(f"  {spec.model_id}: done earlier, not retrained")
            continue
        record.update(status="running", reason="", epochs=[])
        results.write_accuracy(out, acc)

        def on_epoch(epoch: dict, record=record, spec=spec) -> None:
            record["epochs"].append(epoch)
            results.write_accuracy(out, acc)
            say(f"  {spec.model_id} ({spec.compression:.0f}x, {spec.embedding_bytes} B) "
                f"epoch {epoch['epoch']}: test AUC {epoch['test_auc']:.4f}, log loss "
                f"{epoch['test_logloss']:.4f}, {epoch['train_ns'] / 1e9:.1f} s")

        try:
            model = modelling.build_model(spec, train_data.rows, sc.model, sc.seed)
            training.train(model, train_data, test_data, sc.train, sc.seed, on_epoch)
            record["status"] = "done"
        except (training.Diverged, RuntimeError, ValueError, MemoryError) as exc:
            # A model that cannot train is a result (failed, with why), not the end of the
            # run: the other kinds still train.
            record.update(status="failed", reason=f"{type(exc).__name__}: {exc}",
                          traceback=traceback.format_exc(limit=4))
            failed += 1
            say(f"  {spec.model_id}: failed: {exc}")
        results.write_accuracy(out, acc)
    return failed
