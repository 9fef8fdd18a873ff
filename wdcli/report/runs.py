"""Past runs side by side: every run folder under runs/ (`runs/<spec name>/<run id>/`, see `wdcli.artifact`),
the settings that differ between them, and the differences of two runs (spec keys and metric deltas).

Only the small JSON/YAML files are read (manifest, metrics, spec); weights are never loaded.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..artifact import read_run_spec, resolve_model_dir
from ..errors import ArtifactError
from ..features.pipeline import file_in
from ..metrics import RunMetrics
from ..spec.flat import flatten

# what --sort accepts, and which way is best first
SORTS = {"time": True, "auc": True, "gauc": True, "logloss": False, "seconds": False, "name": False, "epochs": False}


@dataclass(frozen=True)
class Run:
    path: Path
    name: str  # the spec's name
    id: str  # the folder's name
    created: str
    model: str
    spec: dict  # the resolved spec, as saved
    metrics: RunMetrics  # metrics.json (its `split` and `metric(key)`: the figures that represent the run)


def read_run(folder: Path) -> Run:
    """A run's manifest, metrics and spec, each read only from a regular file of the folder (`file_in`: a FIFO
    would wait forever) and the spec with its bounds (`read_run_spec`). Raises ArtifactError."""
    try:
        manifest = json.loads(file_in(folder, "manifest.json").read_text())
        raw = json.loads(file_in(folder, "metrics.json").read_text())
        spec = read_run_spec(folder)
    except (OSError, ValueError, RecursionError) as e:
        raise ArtifactError(f"{folder}: not a readable run folder ({type(e).__name__}); retrain or remove it") from None
    if not isinstance(spec, dict) or not isinstance(raw, dict):
        raise ArtifactError(f"{folder}: not a readable run folder (spec.yaml or metrics.json is not a mapping)")
    try:
        metrics = RunMetrics.from_json(raw)
    except (TypeError, ValueError, KeyError, AttributeError) as e:
        raise ArtifactError(f"{folder}: metrics.json is not a run's metrics ({type(e).__name__}: {e})") from None
    return Run(
        folder,
        str(manifest.get("name") or spec.get("name") or folder.parent.name),
        folder.name,
        str(manifest.get("created", "")),
        str(spec.get("model", "wide_deep")),
        spec,
        metrics,
    )


def list_runs(root: str | Path = "runs", spec: str | None = None, sort: str = "time") -> list[Run]:
    """Every complete run under `root` (optionally of one spec name), best first by `sort`."""
    if sort not in SORTS:
        raise ArtifactError(f"cannot sort runs by '{sort}'; use one of: {', '.join(SORTS)}")
    root = Path(root)
    runs = []
    for manifest in sorted(root.glob("*/*/manifest.json")):
        folder = manifest.parent
        if folder.name.startswith(".") or (spec is not None and folder.parent.name != spec):
            continue
        try:
            runs.append(read_run(folder))
        except ArtifactError:
            continue  # a damaged folder is not a run to list (load it to see why)
    if spec is not None:
        runs = [r for r in runs if r.name == spec]

    def key(r: Run):
        if sort == "time":
            return r.created
        if sort == "name":
            return r.name
        if sort == "epochs":
            return r.metrics.epochs
        v = r.metrics.seconds if sort == "seconds" else r.metrics.metric(sort)
        return -math.inf if math.isnan(v) and SORTS[sort] else math.inf if math.isnan(v) else v

    return sorted(runs, key=key, reverse=SORTS[sort])


def find_run(ref: str | Path | None, root: str | Path = "runs") -> Path:
    """A run folder from what a user types: a path (run, spec folder, LATEST), `<spec>/<id>` or `<id>` under
    `root`, or nothing (the latest run)."""
    if ref is None or Path(ref).exists():
        return resolve_model_dir(ref, root)
    root = Path(root)
    if (root / ref).exists():
        return resolve_model_dir(root / ref, root)
    matches = [m.parent for m in root.glob(f"*/{ref}/manifest.json")]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise ArtifactError(
            f"run id '{ref}' is in several specs' folders ({', '.join(str(m) for m in matches)}); "
            "name it as <spec>/<id>"
        )
    raise ArtifactError(f"no run '{ref}': not a folder, nor a run under {root}/ (`wdcli runs` lists them)")


def differing(runs: list[Run], ignore: tuple[str, ...] = ("name",)) -> list[str]:
    """The spec keys whose values are not the same in every run, in spec order. `defaults` is left out (a saved
    spec has them folded into its columns), and a column that some run lacks shows as its `kind` alone."""
    flats = [flatten(r.spec) for r in runs]
    keys = list(dict.fromkeys(k for f in flats for k in f))
    out = []
    for k in keys:
        if k in ignore or k.startswith("defaults.") or len({json.dumps(f.get(k), sort_keys=True) for f in flats}) < 2:
            continue
        column = ".".join(k.split(".")[:2]) if k.startswith("columns.") else None
        if column and any(f"{column}.kind" not in f for f in flats):
            k = f"{column}.kind"
        if k not in out:
            out.append(k)
    return out


UNREAD = ("tune.",)  # spec keys training does not read: what `wdcli tune` searches (best.yaml has none)


def unread(key: str) -> bool:
    """Whether a spec key changes nothing in training (a difference in it is no difference between two runs)."""
    return key.startswith(UNREAD)


@dataclass(frozen=True)
class Diff:
    a: Run
    b: Run
    spec: list[tuple[str, object, object]]  # (key, in a, in b); a missing key shows as None
    metrics: list[tuple[str, str, float, float]]  # (split, metric, a, b)
    unread: list[str] = field(default_factory=list)  # keys that differ but that training does not read (`UNREAD`)


def diff_runs(a: Run, b: Run) -> Diff:
    keys = differing([a, b], ignore=())
    fa, fb = flatten(a.spec), flatten(b.spec)
    spec = [(k, fa.get(k), fb.get(k)) for k in keys if not unread(k)]
    ma, mb = a.metrics.splits, b.metrics.splits
    metrics: list[tuple[str, str, float, float]] = []
    for split in [s for s in ("train", "validation", "test") if s in ma or s in mb]:
        for k in dict.fromkeys([*ma.get(split, {}), *mb.get(split, {})]):
            va, vb = ma.get(split, {}).get(k), mb.get(split, {}).get(k)
            if isinstance(va, (int, float)) or isinstance(vb, (int, float)):
                metrics.append((split, k, _num(va), _num(vb)))
    metrics.append(("run", "seconds", a.metrics.seconds, b.metrics.seconds))
    metrics.append(("run", "epochs", float(a.metrics.epochs), float(b.metrics.epochs)))
    return Diff(a, b, spec, metrics, [k for k in keys if unread(k)])


def _num(v) -> float:
    return float(v) if isinstance(v, (int, float)) else math.nan
