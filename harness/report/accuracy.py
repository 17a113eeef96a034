"""Accuracy pages for ``harness report``: the quality half beside the speed half.

``harness report`` hands the directories it is given to ``split_directories``; those
written by ``harness accuracy`` are drawn here (AUC vs compression with the Pareto
front at equal bytes, AUC vs epoch), and when run directories are given too, a page
that puts each kind's speedup beside its AUC loss. Stored results only; nothing is
retrained. Each page's data goes to a CSV beside the PDF, as for the other figures.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from harness.store import accuracy as store
from harness.errors import UsageError
from harness.report.load import MachineInfo, Results, load_results, machine_key

ACCURACY_FIGURES = ("accuracy_table", "accuracy_compression", "accuracy_epochs",
                    "accuracy_speed")


@dataclass
class AccuracySource:
    """One accuracy result directory as stored (shaped like load.Source for the footer)."""

    path: Path
    manifest: dict
    accuracy: dict
    machine_key: str


@dataclass
class AccuracyResults:
    """Accuracy directories of one report, one row per model and epoch in ``models``;
    ``speed``: the run directories given with them (None when none were)."""

    sources: list[AccuracySource]
    machines: dict[str, MachineInfo]
    models: pd.DataFrame
    speed: Results | None = None

    @property
    def final(self) -> pd.DataFrame:
        """Each model's last epoch (the figures' headline)."""
        done = self.models[self.models["status"] == "done"]
        return done.sort_values("epoch").groupby(["source", "model_id"], sort=False).tail(1)


def split_directories(directories: list[Path]) -> tuple[list[Path], list[Path]]:
    """(accuracy directories, the others) by what each one's manifest says it is."""
    acc = [d for d in directories if store.is_accuracy_dir(d)]
    return acc, [d for d in directories if d not in acc]


def load_accuracy_results(directories: list[Path], speed: list[Path]) -> AccuracyResults:
    sources, machines, frames = [], {}, []
    for d in directories:
        manifest, acc = store.load_accuracy(d)
        m = manifest.get("machine") or {}
        if any(m.get(k) in (None, "") for k in ("hostname", "model_name", "llc_bytes")):
            raise UsageError(f"{Path(d) / store.MANIFEST_FILE}: machine lacks hostname, "
                             f"model_name or llc_bytes")
        key = machine_key(m)
        if key not in machines:
            machines[key] = MachineInfo(key, len(machines), m["hostname"], m["model_name"],
                                        int(m["llc_bytes"]), m.get("line_bytes"), m)
        sources.append(AccuracySource(Path(d), manifest, acc, key))
        frame = pd.DataFrame(store.csv_rows(acc))
        frame["machine"], frame["source"] = key, str(d)
        frames.append(frame)
    models = pd.concat(frames, ignore_index=True)
    if not (models["status"] == "done").any():
        raise UsageError(f"{', '.join(map(str, directories))}: no trained (done) model to "
                         f"draw; see the status and reason in {store.ACCURACY_FILE}")
    return AccuracyResults(sources, machines, models, load_results(speed) if speed else None)


def accuracy_figures():
    return [importlib.import_module(f"harness.report.figures.{name}").FIGURE
            for name in ACCURACY_FIGURES]


def write_accuracy_report(results: AccuracyResults, out: Path, data_dir: Path | None) -> int:
    """The accuracy pages as one PDF (and CSVs in ``data_dir``); returns the page count."""
    from harness.report.pdf import write_pdf

    metadata = {"Title": "Embedding compression: AUC beside speed",
                "Subject": "Regenerated from stored harness accuracy results",
                "CreationDate": None}
    figures = [spec for spec in accuracy_figures()
               if spec.name != "accuracy_speed" or results.speed is not None]
    return write_pdf(out, metadata, results, figures, data_dir)


def report(directories: list[Path], out: Path, data_dir: Path | None) -> int | None:
    """Draw the accuracy report when any accuracy directory is given, else None (the
    caller draws the speed report as before)."""
    acc, speed = split_directories(directories)
    if not acc:
        return None
    return write_accuracy_report(load_accuracy_results(acc, speed), out, data_dir)
