"""`wdcli verify`, `serve` and `export`: the production loop after training (docs/serving.md)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from .app import DebugOpt, command
from .options import (
    InputOpt,
    JsonOpt,
    QuietOpt,
    SeparatorOpt,
    checked,
    count_option,
    input_problem,
    output_option,
    separator_option,
)
from .output import cell, emit_json, err, note_model, out
from .steps import Steps

if TYPE_CHECKING:
    from ..serve.app import ServeConfig, Server

VERIFY_FAILED = 3  # the exit code of a model that may not be served (docs/errors.md)
RunArg = Annotated[
    Path, typer.Argument(metavar="RUN", help="A run folder, or runs/NAME for its latest run.", show_default=False)
]


def _threshold(flag: str, text: str) -> typer.models.OptionInfo:
    return typer.Option(flag, metavar="X", help=text + " Default: the new run's spec (verify:).", show_default=False)


MaxAucDrop = Annotated[float | None, _threshold("--max-auc-drop", "Largest AUC drop allowed.")]
MaxLoglossIncrease = Annotated[float | None, _threshold("--max-logloss-increase", "Largest log loss increase allowed.")]
MaxCalibrationError = Annotated[
    float | None, _threshold("--max-calibration-error", "Largest |mean score / base rate - 1|.")
]
MaxGaucDrop = Annotated[float | None, _threshold("--max-gauc-drop", "Largest gAUC drop allowed (with a group column).")]
MovedBy = Annotated[float | None, _threshold("--moved-by", "A score moved when it changed by more than this.")]
MaxMovedShare = Annotated[float | None, _threshold("--max-moved-share", "Largest share of rows whose score moved.")]
MaxPsi = Annotated[float | None, _threshold("--max-psi", "Largest population stability index of the scores.")]


def _more_than_zero(value: float | None) -> float | None:
    """(typer's min= includes its bound; these must be more than 0)"""
    if value is not None and not value > 0:
        raise typer.BadParameter(f"must be more than 0 (got {value:g})")
    return value


@command
def verify(
    new: RunArg,
    baseline: Annotated[
        Path, typer.Option("--baseline", metavar="DIR", help="The run it would replace.", show_default=False)
    ],
    input: InputOpt,
    max_auc_drop: MaxAucDrop = None,
    max_logloss_increase: MaxLoglossIncrease = None,
    max_calibration_error: MaxCalibrationError = None,
    max_gauc_drop: MaxGaucDrop = None,
    moved_by: MovedBy = None,
    max_moved_share: MaxMovedShare = None,
    max_psi: MaxPsi = None,
    separator: SeparatorOpt = None,
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """May RUN replace the baseline? Both score the labelled rows of --input; exit 0 if every check passes,
    3 if one fails (with a table saying which)."""
    from ..score.scorer import Scorer
    from ..score.verify import verify_runs

    overrides = dict(
        max_auc_drop=max_auc_drop,
        max_logloss_increase=max_logloss_increase,
        max_calibration_error=max_calibration_error,
        max_gauc_drop=max_gauc_drop,
        moved_by=moved_by,
        max_moved_share=max_moved_share,
        max_psi=max_psi,
    )
    scorers = Scorer.load(new), Scorer.load(baseline)
    note_model(scorers[0].artifact, new, quiet)
    note_model(scorers[1].artifact, baseline, quiet, role="baseline")
    v = verify_runs(*scorers, input, overrides, separator)
    if json_:
        emit_json(v.to_dict())
    else:
        t = Table(title=f"verify {new} against {baseline} on {v.rows:,} rows of {input.name}")
        for name in ("check", "new", "baseline", "rule", "result"):
            t.add_column(name, justify="left" if name in ("check", "rule", "result") else "right")
        for c in v.checks:
            t.add_row(
                c.name,
                cell(c.new),
                "" if c.baseline is None else cell(c.baseline),
                c.limit,
                "[green]pass[/]" if c.passed else "[bold red]FAIL[/]",
            )
        out.print(t)
        if v.passed:
            out.print(f"ok: {new} may replace {baseline}", markup=False, highlight=False)
        else:
            err.print(
                f"not verified: {', '.join(v.failed)} failed; {new} should not be served", markup=False, highlight=False
            )
    if not v.passed:
        raise typer.Exit(VERIFY_FAILED)


# the options of `serve` that take more than a line
ServedModelOpt = Annotated[
    Path | None,
    typer.Option(
        "--model",
        metavar="DIR",
        help="A run folder, or a folder with a LATEST pointer (runs/apps), watched "
        "for new runs; default: the latest run of any spec (runs/LATEST).",
    ),
]
HostOpt = Annotated[
    str, typer.Option("--host", metavar="HOST", help="Address to bind; 0.0.0.0 exposes the server to the network.")
]
BatchWindowOpt = Annotated[
    float,
    typer.Option(
        "--batch-window-ms", metavar="MS", min=0, help="How long a batch waits for requests still being received."
    ),
]
MaxBodyOpt = Annotated[
    float, typer.Option("--max-body-mb", metavar="MB", callback=_more_than_zero, help="Request body limit.")
]
NoWatchOpt = Annotated[
    bool, typer.Option("--no-watch", help="Do not reload when --model points at a new run (POST /reload still does).")
]
WatchIntervalOpt = Annotated[
    float,
    typer.Option(
        "--watch-interval", metavar="SECONDS", callback=_more_than_zero, help="How often to look for a new run."
    ),
]
VerifyInputOpt = Annotated[
    Path | None,
    typer.Option(
        "--verify-input",
        metavar="FILE",
        callback=checked(input_problem),
        readable=False,
        help="Labelled holdout: a new run is served only if it passes `verify` against the current one.",
    ),
]
VerifySeparatorOpt = Annotated[
    str | None, separator_option("the served run's data.csv.separator (a comma unless set); for --verify-input")
]
CheckOpt = Annotated[
    bool, typer.Option("--check", help="Load the model and check the options, then exit without serving.")
]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
        metavar="TOKEN",
        envvar="WDCLI_SERVE_TOKEN",
        show_envvar=True,
        help="Every request must carry 'Authorization: Bearer TOKEN'; needed with a --host other than loopback.",
    ),
]
AllowedHostOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--allowed-host",
        metavar="NAME",
        help="A name the server answers to in the Host header (repeat for more); default: the loopback names "
        "when bound to loopback, any name otherwise.",
    ),
]
HeaderTimeoutOpt = Annotated[
    float,
    typer.Option(
        "--header-timeout",
        metavar="SECONDS",
        callback=_more_than_zero,
        help="A connection that has not sent a request's headers within this is closed.",
    ),
]
BodyTimeoutOpt = Annotated[
    float,
    typer.Option(
        "--body-timeout", metavar="SECONDS", callback=_more_than_zero, help="Time for a request's body to arrive."
    ),
]


@command
def serve(
    model: ServedModelOpt = None,
    host: HostOpt = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", metavar="PORT", min=1, max=65535)] = 8000,
    workers: Annotated[int, count_option("--workers", "Processes, each with the model.")] = 1,
    threads: Annotated[int, count_option("--threads", "Torch threads per worker.")] = 1,
    batch_window_ms: BatchWindowOpt = 2.0,
    max_batch: Annotated[int, count_option("--max-batch", "Candidates per micro-batch.")] = 8192,
    max_candidates: Annotated[int, count_option("--max-candidates", "Candidates per request.")] = 100_000,
    max_body_mb: MaxBodyOpt = 32.0,
    max_columns: Annotated[int, count_option("--max-columns", "Distinct keys (columns) per request.")] = 1_000,
    max_depth: Annotated[int, count_option("--max-depth", "Lists or objects nested within a value.")] = 8,
    max_containers: Annotated[int, count_option("--max-containers", "Lists and objects in one request.")] = 1_000_000,
    max_string: Annotated[int, count_option("--max-string", "Characters in one string value.")] = 65_536,
    max_values: Annotated[int, count_option("--max-values", "Values of list columns per request.")] = 2_000_000,
    max_queue: Annotated[int, count_option("--max-queue", "Requests waiting to be scored (then 503).")] = 256,
    max_connections: Annotated[int, count_option("--max-connections", "Open connections per worker.")] = 1_000,
    header_timeout: HeaderTimeoutOpt = 10.0,
    body_timeout: BodyTimeoutOpt = 30.0,
    token: TokenOpt = None,
    allowed_host: AllowedHostOpt = None,
    no_watch: NoWatchOpt = False,
    watch_interval: WatchIntervalOpt = 2.0,
    verify_input: VerifyInputOpt = None,
    separator: VerifySeparatorOpt = None,
    access_log: Annotated[bool, typer.Option("--access-log", help="Log every request.")] = False,
    check: CheckOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Serve a model over HTTP: POST /predict, /rank, /reload; GET /health, /metadata, /metrics."""
    from ..errors import WdcliError

    if why := port_problem(host, port):
        raise WdcliError(why)
    ServeConfig, Server, run_server = _serve_app()
    given = dict(locals())  # the options named as ServeConfig's fields, and those that are not:
    same = {k: given[k] for k in ServeConfig.__dataclass_fields__ if k in given and k not in _OWN}
    config = ServeConfig(
        **same,
        model=str(model) if model else None,
        watch=not no_watch,
        verify_input=str(verify_input) if verify_input else None,
        token=token or None,
        allowed_hosts=tuple(allowed_host or ()),
    )
    server = Server(config)  # load (and check) the model here, so that a bad folder is a clear error
    if check:
        out.print(
            f"ok: {server.models.current.path} loads; `wdcli serve` would serve it on {where(config)}",
            markup=False,
            highlight=False,
        )
        return
    err.print(
        f"serving {server.models.current.path} on {where(config)} ({_how(config)})", markup=False, highlight=False
    )
    run_server(config, server if workers == 1 else None)  # (more workers each load their own)


_OWN = ("model", "verify_input", "token")  # the options serve passes on as it reads them


def _serve_app() -> tuple[type[ServeConfig], type[Server], Callable[[ServeConfig, Server | None], None]]:
    """The server's config, the server and what runs it (wdcli.serve.app); an error that names the serve extra
    where what they need is not installed."""
    from ..errors import WdcliError

    try:
        from ..serve.app import ServeConfig, Server, serve
    except ImportError as e:
        raise WdcliError(
            f"wdcli serve needs the serve extra ({e.name} is not installed): pip install 'wdcli[serve]'"
        ) from None
    return ServeConfig, Server, serve


def where(config) -> str:
    return f"http://{config.host}:{config.port}"


def _how(config) -> str:
    workers = f"{config.workers} worker{'s' if config.workers > 1 else ''}"
    token = "requests must carry the token" if config.token else "no token: loopback clients only"
    return f"{workers}; watching for new runs: {'yes' if config.watch else 'no'}; {token}"


def port_problem(host: str, port: int) -> str | None:
    """Why the server could not listen on host:port (in use, not this machine's address, no permission), or None;
    bound as uvicorn binds (SO_REUSEADDR), then let go."""
    import errno
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as e:
        return f"--host {host}: not an address ({e.strerror}); give this machine's name or address, e.g. 127.0.0.1"
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(address)
            return None
        except OSError as e:
            reason = e.strerror or type(e).__name__
            code = e.errno
    if code == errno.EADDRINUSE:
        free = next((p for p in range(port + 1, min(port + 50, 65536)) if port_problem(host, p) is None), None)
        offer = f" (--port {free} is free)" if free else ""
        return (
            f"port {port} on {host} is in use ({reason}); pass --port with another{offer}, or stop what listens there"
        )
    if code in (errno.EACCES, errno.EPERM):
        return f"port {port} on {host}: permission denied; ports below 1024 need privileges: pass --port 8000 or higher"
    return f"cannot listen on {host}:{port} ({reason}); check --host and --port"


@command
def export(
    model: RunArg,
    format: Annotated[str, typer.Option("--format", metavar="FORMAT", help="onnx")] = "onnx",
    output: Annotated[
        Path | None,
        output_option(
            "--output",
            "-o",
            metavar="FOLDER",
            folder_for="the export",
            help="Folder to write; default: exports/<name>/<run id>.",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace what --output FOLDER holds.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or notes on stderr.")] = False,
    debug: DebugOpt = False,
) -> None:
    """Write the model as ONNX (inputs: the encoded tensors) and its fitted pipeline as JSON, for other runtimes."""
    from ..artifact import load_artifact
    from ..errors import WdcliError
    from ..export import export_run, exportable

    if output is not None and output.is_dir() and any(output.iterdir()) and not force:
        raise WdcliError(
            f"{output} already holds files; pass --force to replace them (once the export is "
            "complete), or choose another --output"
        )
    exportable(format)  # (before the run is read: its line would say nothing of use)
    art = load_artifact(model)
    note_model(art, model, quiet)
    with Steps(err, quiet) as step:
        folder = export_run(art, output, format, step)
    out.print(f"exported: {folder} (model.onnx, pipeline.json, signature.json)", markup=False, highlight=False)
