"""Building a manifest: one typed builder for every kind of result (run, limits, an ab
side), instead of a dict literal per command.

The scenario is stored once as written and once as validated (``ScenarioRecord``);
the plan and its metadata, the machine, the software and the git state as given.
The status fields (state, point_status, ...) are the writer's (``ResultStore``).
"""

from __future__ import annotations

from datetime import datetime, timezone

from harness import RESULT_FORMAT_VERSION, __version__
from harness.execute.plan import Plan
from harness.store.models import Manifest, ScenarioRecord


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def build_manifest(kind: str, *, scenario: ScenarioRecord, machine: dict, plan: Plan,
                   requested: dict, effective: dict, versions: dict, git: dict,
                   command: list[str]) -> dict:
    """A new result's manifest, checked by the Manifest model, as the dict the store
    keeps and writes (later stages add keys: counters, ab, resumed, merged_from)."""
    manifest = Manifest(
        format_version=RESULT_FORMAT_VERSION, kind=kind, harness_version=__version__,
        created=utc_now(), command=list(command), scenario=scenario,
        requested=requested, effective=effective, machine=machine, versions=versions,
        git=git, plan=[p.to_dict() for p in plan.points], plan_meta=plan.meta())
    data = manifest.model_dump(mode="json")
    # Unset optional top-level fields are the writer's to fill, not nulls to store.
    return {k: v for k, v in data.items() if v is not None}
