"""`wdcli verify`, `serve` and `export`: the production loop after training (docs/serving.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from .common import InputOpt, command, err, fmt, out

VERIFY_FAILED = 3  # the exit code of a model that may not be served (docs/errors.md)


def _threshold(flag: str, text: str):
    return Annotated[Optional[float], typer.Option(flag, help=text + " Default: the new run's spec (verify:).",
                                                   show_default=False)]


@command
def verify(new: Annotated[Path, typer.Argument(help="The new run's folder (or runs/NAME for its latest).",
                                               show_default=False)],
           baseline: Annotated[Path, typer.Option("--baseline", help="The run it would replace.", show_default=False)],
           input: InputOpt = ...,
           max_auc_drop: _threshold("--max-auc-drop", "Largest AUC drop allowed.") = None,
           max_logloss_increase: _threshold("--max-logloss-increase", "Largest log loss increase allowed.") = None,
           max_calibration_error: _threshold("--max-calibration-error", "Largest |mean score / base rate - 1|.") = None,
           max_gauc_drop: _threshold("--max-gauc-drop", "Largest gAUC drop allowed (with a group column).") = None,
           moved_by: _threshold("--moved-by", "A score moved when it changed by more than this.") = None,
           max_moved_share: _threshold("--max-moved-share", "Largest share of rows whose score moved.") = None,
           max_psi: _threshold("--max-psi", "Largest population stability index of the scores.") = None,
           json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """May NEW replace the baseline? Both score the labelled rows of --input; exit 0 if every check passes,
    3 if one fails (with a table saying which)."""
    from ..score.verify import verify_runs

    overrides = dict(max_auc_drop=max_auc_drop, max_logloss_increase=max_logloss_increase,
                     max_calibration_error=max_calibration_error, max_gauc_drop=max_gauc_drop, moved_by=moved_by,
                     max_moved_share=max_moved_share, max_psi=max_psi)
    v = verify_runs(new, baseline, input, overrides)
    if json_:
        sys.stdout.write(json.dumps(v.to_dict(), default=float) + "\n")
    else:
        t = Table(title=f"verify {new} against {baseline} on {v.rows:,} rows of {input.name}")
        for c in ("check", "new", "baseline", "rule", "result"):
            t.add_column(c, justify="left" if c in ("check", "rule", "result") else "right")
        for c in v.checks:
            t.add_row(c.name, fmt(c.new), "" if c.baseline is None else fmt(c.baseline), c.limit,
                      "[green]pass[/]" if c.passed else "[bold red]FAIL[/]")
        out.print(t)
        if v.passed:
            out.print(f"[green]ok[/]: {new} may replace {baseline}")
        else:
            err.print(f"[bold red]not verified:[/] {', '.join(v.failed)} failed; {new} should not be served")
    if not v.passed:
        raise typer.Exit(VERIFY_FAILED)


@command
def serve(model: Annotated[Optional[Path], typer.Option(
              "--model", help="A run folder, or a folder with a LATEST pointer (runs/apps), watched for new runs; "
                              "default: the latest run under runs/.")] = None,
          host: Annotated[str, typer.Option("--host", help="Address to bind; 0.0.0.0 exposes the server to the "
                                                          "network.")] = "127.0.0.1",
          port: Annotated[int, typer.Option("--port")] = 8000,
          workers: Annotated[int, typer.Option("--workers", min=1, help="Processes, each with the model.")] = 1,
          threads: Annotated[int, typer.Option("--threads", min=1, help="Torch threads per worker.")] = 1,
          batch_window_ms: Annotated[float, typer.Option(
              "--batch-window-ms", min=0, help="How long a batch waits for requests still being received.")] = 2.0,
          max_batch: Annotated[int, typer.Option("--max-batch", min=1, help="Candidates per micro-batch.")] = 8192,
          max_candidates: Annotated[int, typer.Option("--max-candidates", min=1,
                                                      help="Candidates per request.")] = 100_000,
          max_body_mb: Annotated[float, typer.Option("--max-body-mb", min=0.001, help="Request body limit.")] = 32.0,
          watch: Annotated[bool, typer.Option("--watch/--no-watch", help="Reload when --model points at a new "
                                                                         "run.")] = True,
          watch_interval: Annotated[float, typer.Option("--watch-interval", min=0.1, help="Seconds.")] = 2.0,
          verify_input: Annotated[Optional[Path], typer.Option(
              "--verify-input", help="Labelled holdout: a new run is served only if it passes `verify` against "
                                     "the current one.")] = None,
          access_log: Annotated[bool, typer.Option("--access-log", help="Log every request.")] = False) -> None:
    """Serve a model over HTTP: POST /predict, /rank, /reload; GET /health, /metadata, /metrics."""
    from ..errors import WdcliError

    try:
        from ..serve.app import ServeConfig, Server, serve as run_server
    except ImportError as e:
        raise WdcliError(f"wdcli serve needs the serve extra ({e.name} is not installed): "
                         "pip install 'wdcli[serve]'") from None
    config = ServeConfig(str(model) if model else None, host, port, workers, batch_window_ms, max_batch,
                         max_candidates, max_body_mb, watch, watch_interval,
                         str(verify_input) if verify_input else None, threads, access_log)
    server = Server(config)  # load (and check) the model here, so that a bad folder is a clear error
    err.print(f"serving {server.models.current.path} on http://{host}:{port} ({workers} worker"
              f"{'s' if workers > 1 else ''}; watching for new runs: {'yes' if watch else 'no'})")
    if workers > 1:
        server = None  # (each worker loads its own; the parent only supervises them)
    run_server(config, server)


@command
def export(model: Annotated[Optional[Path], typer.Argument(
               help="The run's folder (or runs/NAME for its latest); default: the latest run.", show_default=False)] = None,
           format: Annotated[str, typer.Option("--format", help="onnx")] = "onnx",
           output: Annotated[Optional[Path], typer.Option(
               "--output", help="Folder to write; default: exports/<name>/<run id>.")] = None) -> None:
    """Write the model as ONNX (inputs: the encoded tensors) and its fitted pipeline as JSON, for other runtimes."""
    from ..export import export_run

    folder = export_run(model, output, format)
    out.print(f"exported: {folder} (model.onnx, pipeline.json, signature.json)")
