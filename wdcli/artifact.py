"""The model artifact: one folder per run, plain data only, written atomically.

    runs/<spec name>/<run id>/
        manifest.json       format version, wdcli version, sha256 of every other file
        spec.yaml           the resolved spec
        pipeline.json       the fitted pipeline (vocab/*.parquet for large vocabularies)
        model.json          the ModelConfig the model is rebuilt from
        weights.safetensors the weights
        metrics.json        final metrics per split and the per-epoch history (and what a warm start carried)
        optimizer.safetensors  the optimizers' state by parameter name, for a later warm start (optional)
        split.json          how the run split its files' rows, with their fingerprints (`load_split`; optional)
    runs/<spec name>/LATEST, runs/LATEST   the relative path of the latest run

A run is written into a hidden temporary folder and renamed into place when complete, so a killed run leaves
no folder that loads as a model. Loading checks the format version and every checksum and never runs code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from . import __version__
from .data.atomic import atomic_file, atomic_folder, remove_stale
from .data.split_record import SplitRecord
from .errors import ArtifactError, SpecError, closest
from .features import FittedPipeline, load_pipeline
from .features.fitted import Numeric
from .features.pipeline import file_in
from .metrics import RunMetrics
from .model.plan import ModelConfig
from .spec import Spec
from .spec.yaml_lines import load_bounded

if TYPE_CHECKING:  # (torch is imported when a model is loaded, not with this module)
    from .model.widedeep import WideDeep

FORMAT_VERSION = 1
OPTIMIZER = "optimizer.safetensors"
SPLIT = "split.json"
REQUIRED = ("spec.yaml", "pipeline.json", "model.json", "weights.safetensors", "metrics.json")


@dataclass
class Artifact:
    path: Path
    spec: Spec
    fitted: FittedPipeline
    config: ModelConfig
    model: WideDeep
    metrics: RunMetrics


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_run_files(
    folder: Path,
    spec: Spec,
    fitted: FittedPipeline,
    config: ModelConfig,
    model,
    metrics: RunMetrics,
    optimizer: dict | None = None,
    split: SplitRecord | None = None,
) -> None:
    """Write every file of an artifact into `folder`, manifest last."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False))
    files = fitted.save(folder)
    (folder / "model.json").write_text(json.dumps(config.to_dict(), indent=1))
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / "weights.safetensors"))
    (folder / "metrics.json").write_text(json.dumps(metrics.to_json(), indent=1, default=float))
    names = ["spec.yaml", *files, "model.json", "weights.safetensors", "metrics.json"]
    if optimizer:
        save_file({k: v.detach().cpu().contiguous() for k, v in optimizer.items()}, str(folder / OPTIMIZER))
        names.append(OPTIMIZER)
    if split is not None:
        (folder / SPLIT).write_text(json.dumps(split.to_json(), indent=1))
        names.append(SPLIT)
    manifest = {
        "format_version": FORMAT_VERSION,
        "wdcli_version": __version__,
        "name": spec.name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "files": {n: _sha256(folder / n) for n in names},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))


def save_artifact(
    spec: Spec,
    fitted: FittedPipeline,
    config: ModelConfig,
    model,
    metrics: RunMetrics,
    output: str | Path | None = None,
    optimizer: dict | None = None,
    split: SplitRecord | None = None,
) -> Path:
    """Save a run atomically. Without `output`: runs/<name>/<run id>, and the LATEST pointers are updated.
    `optimizer`: the optimizers' state by parameter name, kept for a later warm start; `split`: how the run
    split its files' rows."""
    if output is not None:
        final = Path(output)
        root = None
    else:
        root = Path(spec.train.output)
        assert spec.name is not None  # load_spec names every spec (its file's stem)
        run_id = time.strftime("%Y%m%d-%H%M%S")
        final = root / spec.name / run_id
        k = 1
        while final.exists():
            final = root / spec.name / f"{run_id}-{k}"
            k += 1
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(final.parent)  # what killed runs (and checkpoint writes) left there
    with atomic_folder(final) as tmp:
        write_run_files(tmp, spec, fitted, config, model, metrics, optimizer, split)
    if root is not None:
        for pointer, target in (
            (final.parent / "LATEST", final.name),
            (root / "LATEST", f"{spec.name}/{final.name}"),
        ):
            with atomic_file(pointer) as tmp:
                tmp.write_text(target + "\n")
    return final


def _runs_in(folder: Path, pointers: bool = False) -> list[Path]:
    """The model folders in `folder`, sorted (with `pointers`, folders of a LATEST too); none where it cannot be
    listed."""
    marks = ("manifest.json", "LATEST") if pointers else ("manifest.json",)
    try:
        return sorted(p for p in folder.iterdir() if any((p / m).is_file() for m in marks))
    except OSError:
        return []


def resolve_model_dir(model: str | Path | None, runs: str | Path = "runs") -> Path:
    """A model folder from --model: a run folder, a folder with a LATEST pointer (`runs/census`: its latest
    run), a LATEST file itself, or (None) the latest run of all. A pointer names a folder beside it, reached
    through no symbolic link."""
    path = Path(model) if model is not None else Path(runs)
    if path.name == "LATEST" and path.is_file():
        path = path.parent
    for _ in range(3):
        if (path / "manifest.json").exists():
            return path
        pointer = path / "LATEST"
        if pointer.exists():
            path = _follow(pointer)
            continue
        break
    if model is None:
        found = _runs_in(Path(runs))  # (runs trained with --output keep no LATEST: name them)
        here = (
            f"; '{runs}/' holds runs trained with --output, which keep no LATEST: pass --model {found[-1]}"
            if found
            else ""
        )
        raise ArtifactError(
            f"no trained model found under '{runs}/'; run `wdcli train SPEC` first, or pass --model DIR{here}"
        )
    if not path.exists():
        close = closest(path.name, [p.name for p in _runs_in(path.parent, pointers=True)])
        hint = f"did you mean {path.parent / close}?" if close else "pass the folder `wdcli train` printed"
        raise ArtifactError(f"{path}: no such model folder; {hint}")
    raise ArtifactError(f"{path}: not a model folder (no manifest.json); pass the folder `wdcli train` printed")


def _follow(pointer: Path) -> Path:
    """The folder a LATEST pointer names."""
    try:
        with open(file_in(pointer.parent, "LATEST", "its folder"), "rb") as f:
            target = f.read(4096).decode("utf-8", "replace").strip()
    except OSError as e:
        raise ArtifactError(f"{pointer}: cannot be read ({e.strerror})") from None
    if "\0" in target:  # (no path holds one: os.path would raise ValueError)
        raise ArtifactError(f"{pointer}: holds a NUL byte, so it names no run folder; write the run's name in it")
    if not target or Path(target).is_absolute() or ".." in Path(target).parts:
        raise ArtifactError(f"{pointer}: points outside its folder ('{target}')")
    folder = pointer.parent / target
    real = os.path.realpath(folder)
    if real != os.path.join(os.path.realpath(pointer.parent), os.path.normpath(target)):
        raise ArtifactError(
            f"{pointer}: points at {folder}, a symbolic link (to {real}); a runs folder holds its runs: "
            "copy the run in place of the link, or pass --model with the run folder itself"
        )
    return folder


def spec_names(run: Path) -> list[str]:
    """The names under the runs folder a run lives in (runs/<name>/<run id>) that have a latest run: what
    `--model runs/<name>` can choose. Empty for a run folder outside such a tree."""
    root = run.parent.parent
    if not (run.parent / "LATEST").is_file():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "LATEST").is_file())


def load_artifact(model: str | Path | None = None) -> Artifact:
    """Load and verify an artifact, rebuilding the model from its saved config. Every file is checked (a regular
    file of the folder, its checksum) and the config against the pipeline and the weights file's header before
    anything is allocated on its word."""
    path = resolve_model_dir(model)
    _check_files(path, _manifest_files(path))
    try:
        spec = Spec.model_validate(read_run_spec(path))
        fitted = load_pipeline(path, spec)
        config = ModelConfig.from_dict(json.loads(file_in(path, "model.json").read_text()))
        if config.dense and not config.dense_names:  # (model.json before the numeric inputs were named)
            config = dataclasses.replace(config, dense_names=[fitted.dense[i] for i in config.dense])
        metrics = RunMetrics.from_json(json.loads(file_in(path, "metrics.json").read_text()))
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as e:  # (JSON nested past Python's stack)
        raise ArtifactError(f"{path}: cannot be loaded ({type(e).__name__}: {str(e).splitlines()[0][:200]})") from None
    if problems := _mismatches(config, fitted):
        raise ArtifactError(f"{path}/model.json: does not match pipeline.json: " + "; ".join(problems[:5]))
    return Artifact(path, spec, fitted, config, _model(path, config), metrics)


def read_run_spec(folder: Path) -> Any:
    """A run's spec.yaml as plain data, read with the bounds a user's spec is read with (`load_bounded`: no alias
    that expands past its cap of values, no nesting past its cap of depth) from a regular file of the folder
    (`file_in`), so that an edited or replaced one cannot hang a command. Raises ArtifactError naming the file."""
    file = folder / "spec.yaml"
    try:
        return load_bounded(file_in(folder, "spec.yaml").read_text(encoding="utf-8"), str(file))
    except (OSError, UnicodeDecodeError) as e:
        raise ArtifactError(f"{file}: cannot be read ({type(e).__name__}); retrain or restore the folder") from None
    except SpecError as e:  # (one problem: the first of its advice is for a spec a user writes)
        p = e.problems[0]
        where = f"{p.file}:{p.line}" if p.line is not None else p.file
        raise ArtifactError(f"{where}: {p.message.split('; ')[0]}; retrain or restore the folder") from None


def _manifest_files(path: Path) -> dict:
    """The files the manifest lists, with their checksums (its format version checked)."""
    try:
        manifest = json.loads(file_in(path, "manifest.json").read_text())
        version = manifest["format_version"]
        files = manifest["files"]
        assert isinstance(files, dict) and all(isinstance(v, str) for v in files.values())
    except (ValueError, KeyError, TypeError, AssertionError, RecursionError):  # (a number past 4,300 digits too)
        raise ArtifactError(
            f"{path}/manifest.json: corrupted (not a wdcli manifest); retrain or restore the folder"
        ) from None
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise ArtifactError(
            f"{path}: artifact format version {version} is newer than this wdcli understands "
            f"({FORMAT_VERSION}); upgrade wdcli to load it"
        )
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ArtifactError(f"{path}/manifest.json: format version {version!r} is not one; retrain or restore it")
    for name in REQUIRED:
        if name not in files:
            raise ArtifactError(f"{path}/manifest.json: does not list {name}; the folder is incomplete, retrain")
    return files


def _check_files(path: Path, files: dict) -> None:
    for name, digest in files.items():
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise ArtifactError(f"{path}/manifest.json: file '{name}' is outside the model folder")
        try:
            f = file_in(path, name)
        except FileNotFoundError:
            raise ArtifactError(
                f"{path}: missing file {name}; the folder is incomplete, retrain or copy it whole"
            ) from None
        if _sha256(f) != digest:
            raise ArtifactError(f"{path}/{name}: checksum mismatch (corrupted or truncated); retrain or restore it")


def _mismatches(config: ModelConfig, fitted: FittedPipeline) -> list[str]:
    """Where the model's config disagrees with the pipeline that makes its ids (an id past a table's end would
    fail every request)."""
    from .model.widedeep import ACTIVATIONS

    out = [] if config.activation in ACTIVATIONS else [f"activation: unknown {config.activation!r}"]
    column = {name: i for i, name in enumerate(fitted.univalent)}
    for f in [*config.wide, *config.deep]:
        feature = fitted.features.get(f.name)
        if feature is None or isinstance(feature, Numeric):  # (the pipeline's dense features)
            out.append(f"feature '{f.name}': not a sparse feature of the pipeline")
        elif f.cardinality != feature.cardinality or f.column != column.get(f.name, -1):
            out.append(
                f"feature '{f.name}': {f.cardinality} ids in column {f.column}, the pipeline makes "
                f"{feature.cardinality} in column {column.get(f.name, -1)}"
            )
    for t in config.tables:
        most = max((getattr(fitted.features.get(m), "cardinality", 0) for m in t.features), default=0)
        if most > t.cardinality:
            out.append(f"table '{t.name}': {t.cardinality} rows, its features have up to {most} ids")
    out += [f"dense: no numeric feature {j}" for j in config.dense if j >= len(fitted.dense)]
    return out


def _model(path: Path, config: ModelConfig):
    """The model rebuilt from its config, with the saved weights: their shapes are read from the file's header,
    the config may ask for no more parameters than the file holds (so building it allocates what the file's size
    bounds), the built model's shapes are compared with them before any weight is loaded, and every weight must be
    finite. (Not built on torch's meta device: its device mode routes the initialisers through torch's compiler,
    whose import took a second of every `wdcli rank`.)"""
    import torch
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    from .model.widedeep import WideDeep

    file = path / "weights.safetensors"
    try:
        with safe_open(str(file_in(path, file.name)), "pt") as f:
            saved = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
        held, needed = sum(math.prod(v) for v in saved.values()), config.param_counts()["total"]
        if needed > 1.5 * held + 10_000:  # (the counts of blocks and buffers aside, they agree)
            raise ArtifactError(
                f"{file}: does not match model.json: it needs {needed:,} parameters, the file holds {held:,}"
            )
        net = WideDeep(config)
        expected = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    except (SafetensorError, OSError, RuntimeError, ValueError) as e:
        raise ArtifactError(f"{file}: cannot be loaded ({type(e).__name__}: {str(e).splitlines()[0][:200]})") from None
    problems = [
        f"{k}: saved {v}, config needs {expected[k]}" for k, v in saved.items() if k in expected and v != expected[k]
    ]
    problems += [f"{k}: missing" for k in expected if k not in saved]
    problems += [f"{k}: not part of this model" for k in saved if k not in expected]
    if problems:
        raise ArtifactError(f"{file}: does not match model.json: " + "; ".join(problems[:5]))
    state = load_file(str(file))
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise ArtifactError(f"{file}: {', '.join(bad[:5])} hold NaN or infinite values; retrain, or restore the run")
    net.load_state_dict(state)
    net.eval()
    return net


def read_optimizer_state(art: Artifact) -> dict:
    """The optimizers' state a run kept (checked with the rest by `load_artifact` where the manifest lists it, and
    read only from a regular file of the folder: `file_in`); {} for a run without it."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    file = art.path / OPTIMIZER
    try:
        return load_file(str(file_in(art.path, OPTIMIZER)))
    except FileNotFoundError:
        return {}
    except (OSError, SafetensorError) as e:
        raise ArtifactError(f"{file}: cannot be read ({e}); retrain or restore the folder") from None


def load_split(art: Artifact) -> SplitRecord | None:
    """How a run split its files' rows (checked with the rest by `load_artifact` where the manifest lists it, and
    read only from a regular file of the folder: `file_in`); None for a run that kept no record (trained on frames
    given in Python, or before wdcli kept one)."""
    file = art.path / SPLIT
    try:
        raw = file_in(art.path, SPLIT).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ArtifactError(f"{file}: cannot be read ({e.strerror}); retrain or restore the folder") from None
    try:
        return SplitRecord.from_json(json.loads(raw))
    except (ValueError, KeyError, TypeError, RecursionError) as e:
        raise ArtifactError(f"{file}: not a split record ({type(e).__name__}); retrain or restore the folder") from None
