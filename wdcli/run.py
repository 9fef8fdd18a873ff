"""What the commands do, as library functions: train and save, compare the three models, inspect the wide
part, and score files in streamed batches. The CLI only parses options and prints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from .artifact import Artifact, save_artifact
from .checkpoint import checkpoint_path
from .data import file_format, load_splits, read_one
from .score import Scorer
from .spec import Spec
from .train import TrainResult, train


def run_training(spec: Spec, output: str | Path | None = None, reporter=None,
                 frames: dict | None = None, resume: bool = False) -> tuple[TrainResult, Path]:
    """Train a spec and save its artifact; returns the result and the artifact's folder.

    Reading the data files itself (no `frames`), it writes checkpoints beside the runs, continues from one
    with `resume=True`, and deletes it once the artifact is saved."""
    checkpoint = checkpoint_path(spec, output) if frames is None else None
    result = train(spec, frames, reporter, checkpoint=checkpoint, resume=resume)
    metrics = {"splits": result.metrics, "history": result.history, "seconds": result.seconds,
               "parameters": result.config.param_counts()}
    path = save_artifact(spec, result.fitted, result.config, result.model, metrics, output)
    if checkpoint is not None:
        checkpoint.unlink(missing_ok=True)
    return result, path


def compare_models(spec: Spec, reporter=None) -> list[dict]:
    """Train `wide`, `deep` and `wide_deep` on the same split; one row of figures each."""
    frames = load_splits(spec.data)
    rows = []
    for model in ("wide", "deep", "wide_deep"):
        result = train(spec.model_copy(update={"model": model}), frames, reporter)
        row = {"model": model, "parameters": result.config.param_counts()["total"], "seconds": result.seconds,
               "epochs": len(result.history)}
        for split, m in result.metrics.items():
            row.update({f"{split}_{k}": v for k, v in m.items() if k in ("auc", "logloss")})
        rows.append(row)
    return rows


def heaviest_wide(art: Artifact, top: int) -> dict:
    """The wide weights of largest magnitude, split into crosses and single values, with readable names."""
    w = art.model.wide.weight.detach().numpy()[:, 0]
    rows = {"cross": [], "single": [], "nonzero": int(np.count_nonzero(w))}
    start = 0
    spans = []
    for f in art.config.wide:
        spans.append((f.name, start, start + f.cardinality))
        start += f.cardinality
    order = np.argsort(-np.abs(w), kind="stable")
    for i in order:
        if w[i] == 0 or all(len(v) >= top for k, v in rows.items() if k != "nonzero"):
            break
        name, lo, _ = next(s for s in spans if s[1] <= i < s[2])
        key = "cross" if art.fitted.states[name]["kind"] == "cross" else "single"
        if len(rows[key]) < top:
            rows[key].append((float(w[i]), art.fitted.id_name(name, int(i - lo))))
    return rows


def iter_batches(path: str | Path, batch_rows: int):
    """Frames of at most batch_rows rows, read lazily so that files larger than memory stream through."""
    fmt = file_format(path)
    if fmt == "csv":
        lf = pl.scan_csv(path, infer_schema=False)
    elif fmt == "parquet":
        lf = pl.scan_parquet(path)
    else:
        lf = pl.scan_ndjson(path)
    try:
        yield from lf.collect_batches(chunk_size=batch_rows)
    except pl.exceptions.PolarsError:
        # fall back to a plain read, which turns the problem into a clear DataError
        frame = read_one(path)
        for a in range(0, len(frame), batch_rows):
            yield frame.slice(a, batch_rows)


def predict_file(model: str | Path | None, input: str | Path, output: str | Path | None,
                 keep: list[str] | None = None, batch_rows: int = 200_000, stdout=None) -> None:
    """Score a file in streamed batches with bounded memory; write by extension, or CSV to stdout."""
    import shutil
    import sys
    import tempfile

    scorer = Scorer.load(model)
    batches = (scorer.predict(b, keep, str(input)) for b in iter_batches(input, batch_rows))
    if output is None:
        stream = stdout or sys.stdout
        for i, frame in enumerate(batches):
            stream.write(frame.write_csv(include_header=i == 0))
        return
    output = Path(output)
    fmt = file_format(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp")
    if fmt == "parquet":
        parts = Path(tempfile.mkdtemp(prefix=".wdcli-parts-", dir=output.parent))
        try:
            files = []
            for i, frame in enumerate(batches):
                files.append(parts / f"{i:06d}.parquet")
                frame.write_parquet(files[-1])
            pl.scan_parquet(files).sink_parquet(tmp)
        finally:
            shutil.rmtree(parts, ignore_errors=True)
    else:
        with open(tmp, "w", encoding="utf-8") as f:
            for i, frame in enumerate(batches):
                f.write(frame.write_csv(include_header=i == 0) if fmt == "csv" else frame.write_ndjson())
    tmp.replace(output)
