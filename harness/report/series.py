"""Name each point's series by its kernel entry as the scenario wrote it, so one
configuration is one series on every machine.

A point's stored label holds its resolved parameters: "0.125x LLC" becomes d=8192 on
a 32 MiB LLC and d=9856 on a 38.5 MiB one, which would split one configuration into
two series when machines are overlaid. The manifest keeps the scenario's kernel
entries, so each point is matched to the entry variant that resolves to its
parameters on its machine, and named from the entry as written:
"memrec (torch) d=0.125x LLC k=2 d'=4096 k'=1", or the entry's own ``label`` plus
whatever that entry sweeps. Points that match no entry keep their stored label.
"""

from __future__ import annotations

import pandas as pd

from harness.scenario.kernelspec import KERNELS, LEGACY_PARAMS, Geometry, variants
from harness.scenario.sizes import Size

SHORT = {"token_rows": "d", "weight_rows": "d'", "k_weight": "k'"}


def _as_given(value):
    """The effective scenario stores sizes as {kind, value, text}; the schema reads text."""
    if isinstance(value, dict) and "text" in value and "kind" in value:
        return value["text"]
    if isinstance(value, list):
        return [_as_given(v) for v in value]
    return value


def _text(value) -> str:
    if isinstance(value, Size):
        return f"{value.value:g}" if value.kind == "rows" else value.text
    return str(value)


def _entries(manifest: dict) -> list[tuple[str, object]]:
    """(kernel name, validated entry) for every kernel entry the harness still knows."""
    kernels = (manifest.get("scenario", {}) or {}).get("effective", {}) or {}
    out = []
    for raw in kernels.get("kernels", []) or []:
        spec = KERNELS.get(raw.get("kernel")) if isinstance(raw, dict) else None
        if spec is None:
            continue
        try:
            entry = spec.params_model.model_validate(
                {k: _as_given(v) for k, v in raw.items() if v is not None})
        except ValueError:
            continue
        out.append((raw["kernel"], entry))
    return out


def entry_name(kernel: str, entry, variant: dict) -> str:
    """A series name from an entry as written: its label plus what it sweeps, or
    the kernel, its backend and every parameter."""
    swept = {name for name, values in entry.model_dump().items()
             if isinstance(values, list) and len(values) > 1}
    backend = variant.get("backend")
    shown = [(k, v) for k, v in variant.items() if k != "backend" and v is not None]
    if entry.label:
        extra = " ".join(f"{SHORT.get(k, k)}={_text(v)}" for k, v in shown if k in swept)
        return f"{entry.label} {extra}".strip()
    text = " ".join(f"{SHORT.get(k, k)}={_text(v)}" for k, v in shown)
    head = f"{kernel} ({backend})" if backend else kernel
    return f"{head} {text}".strip()


def _semantics_suffix(params: dict, written: dict) -> str:
    """MEM-REC's combining rule and where it hashed, when the entry's name does not say:
    results with and without them are different measurements."""
    out = ""
    if params.get("combine") and params.get("k_weight") and "combine" not in written:
        out += f" [{params['combine']}]"
    if params.get("hashing") == "precomputed" and "hashing" not in written:
        out += " [hashed before timing]"
    return out


def series_labels(manifest: dict, points: pd.DataFrame,
                  llc_bytes: int) -> tuple[pd.Series, pd.Series]:
    """Per point (index aligned with ``points``): the series name, and its parameters as
    written ({name: text}; the stored parameters as text where no entry matched)."""
    candidates = []
    for kernel, entry in _entries(manifest):
        for variant in variants(entry):
            candidates.append((kernel, entry, variant))
    names, written = [], []
    for _, p in points.iterrows():
        name = p["label"]
        as_written = {k: str(v) for k, v in p["params_obj"].items()}
        layout = str(p.get("layout", "") or "")
        geometry = Geometry(rows=int(p["table_rows"]), dim=int(p["dim"]), llc_bytes=llc_bytes,
                            layout="shared" if layout == "shared" else "per-feature")
        for kernel, entry, variant in candidates:
            if kernel != p["kernel"]:
                continue
            try:
                resolved = KERNELS[kernel].resolve(variant, geometry)
            except ValueError:
                continue
            stored = {k: v for k, v in LEGACY_PARAMS.items() if k in resolved}
            if resolved == stored | p["params_obj"]:
                name = entry_name(kernel, entry, variant)
                as_written = {k: _text(v) for k, v in variant.items() if v is not None}
                break
        # What the kernel entry does not say but the point differs by: its page size
        # and table layout (a sweep over pages gives one series per page size).
        pages = str(p.get("pages", "") or "")
        if pages not in ("", "default", "nan"):
            name += f" [{pages} pages]"
        if layout == "shared":
            name += " [shared table]"
        name += _semantics_suffix(p["params_obj"], as_written)
        names.append(name)
        written.append(as_written)
    return (pd.Series(names, index=points.index, dtype=object),
            pd.Series(written, index=points.index, dtype=object))
