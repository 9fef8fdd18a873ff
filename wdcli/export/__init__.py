"""Exporting a run for other runtimes: the model as ONNX (`onnx`) and the fitted pipeline as plain JSON.

    folder = export_run("runs/apps", "exports/apps")      # model.onnx, pipeline.json, signature.json

Needs the `export` extra (onnx, onnxscript; onnxruntime to run the graph): `pip install 'wdcli[export]'`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from ..artifact import Artifact, load_artifact
from ..data.atomic import atomic_folder
from ..errors import WdcliError

FORMATS = ("onnx",)


def exportable(format: str) -> None:
    """Refuse, before any run is loaded, a format wdcli does not export or an export extra not installed."""
    if format not in FORMATS:
        raise WdcliError(f"--format {format!r} is not one wdcli exports ({', '.join(FORMATS)})")
    try:
        import onnx  # noqa: F401 - the exporter writes with it
        import onnxscript  # noqa: F401 - torch's ONNX exporter translates with it
    except ImportError as e:
        raise WdcliError(
            f"wdcli export needs the export extra ({e.name} is not installed): pip install 'wdcli[export]'"
        ) from None


def export_run(
    model: str | Path | Artifact | None,
    output: str | Path | None = None,
    format: str = "onnx",
    step: Callable[[str], None] | None = None,
) -> Path:
    """Write a run's model (ONNX), pipeline (JSON) and the graph's signature into a folder, atomically (`model`:
    the run as `load_artifact` takes it, or its artifact loaded); returns the folder (default:
    exports/<name>/<run id>). `step` hears each step start (for a display)."""
    step = step or (lambda what: None)
    exportable(format)
    from .onnx import export_onnx, signature

    if isinstance(model, Artifact):
        art = model
    else:
        step(f"loading {model if model is not None else 'the latest run'}")
        art = load_artifact(model)
    assert art.spec.name is not None  # a run's spec.yaml is a loaded (named) spec
    final = Path(output) if output is not None else Path("exports") / art.spec.name / art.path.name
    fitted = art.fitted
    pipeline = {
        "format": 2,
        "name": art.spec.name,
        "run": art.path.name,
        "label": art.spec.label.model_dump(),
        "order": {"sparse": fitted.univalent, "multivalent": fitted.multivalent, "dense": fitted.dense},
        "features": fitted.feature_dicts(),
    }
    with atomic_folder(final) as tmp:
        step("tracing the model into an ONNX graph")
        export_onnx(art.model, fitted, tmp / "model.onnx")
        (tmp / "pipeline.json").write_text(json.dumps(pipeline))
        (tmp / "signature.json").write_text(json.dumps(signature(fitted), indent=1))
    return final
