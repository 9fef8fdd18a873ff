"""`wdcli report` (one run as an HTML page), `wdcli runs` (past runs side by side) and `wdcli runs diff`."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..errors import counted
from .app import Command, DebugOpt, Group, app, command
from .options import QuietOpt, SeparatorOpt, SplitOpt, count_option, input_option, output_option
from .output import cell, err, note_model, out

runs_app = typer.Typer(
    cls=Group, help="Past runs side by side: `wdcli runs`, `wdcli runs diff A B`.", no_args_is_help=False
)
app.add_typer(runs_app, name="runs")
RunsOpt = Annotated[Path, typer.Option("--runs", metavar="DIR", help="The folder of the runs.")]


ReportModelOpt = Annotated[
    str | None, typer.Option("--model", metavar="DIR", help="The run, as the other commands name it (or give RUN).")
]


@command
def report(
    run: Annotated[
        str | None,
        typer.Argument(
            metavar="RUN",
            help="Run folder, <spec>/<id>, <id>, or a spec's runs folder; default: the latest run.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        output_option(
            "--output", "-o", suffixes=(".html", ".htm"), help="HTML file; default: report.html in the run's folder."
        ),
    ] = None,
    png: Annotated[
        Path | None,
        output_option(
            "--png", metavar="DIR", folder_for="the PNG files", help="Also write every figure as a PNG file here."
        ),
    ] = None,
    input: Annotated[
        Path | None, input_option("Plot scores of this labelled file instead of the run's own rows.")
    ] = None,
    split: SplitOpt = None,
    model: ReportModelOpt = None,
    top: Annotated[int, count_option("--top", "Wide weights listed per kind.")] = 15,
    runs: RunsOpt = Path("runs"),
    separator: SeparatorOpt = None,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Write a run's report: one self-contained HTML page (metrics, ROC/PR, calibration, score histograms, learning
    curves, heaviest wide weights, per-group metrics) of its own test rows (--split for another part, --input for
    a file). Needs matplotlib: the `report` extra."""
    from ..errors import WdcliError
    from ..report import build_report, find_run
    from ..report.build import require_matplotlib
    from ..score import Scorer

    if input is not None and split is not None:
        raise WdcliError("give --input FILE or --split PART (the rows to plot), not both")
    if run is not None and model is not None:
        raise WdcliError(f"give the run once: RUN ({run}) or --model ({model})")
    require_matplotlib()  # (before the run is read: its line would say nothing of use)
    ref = run if model is None else model
    scorer = Scorer.load(find_run(ref, runs))
    note_model(scorer.artifact, ref, quiet)
    r = build_report(scorer, output, png, input, top, runs, split, separator)
    out.print(f"wrote {r.path} ({', '.join(r.sections)}); plots of {r.source}", markup=False, highlight=False)
    for p in r.pngs if not quiet else []:
        err.print(f"wrote {p}", markup=False, highlight=False)


def _runs_callback(
    ctx: typer.Context,
    spec: Annotated[str | None, typer.Option("--spec", help="Only the runs of this spec name.")] = None,
    sort: Annotated[
        str, typer.Option("--sort", help="time, auc, gauc, logloss, seconds, name or epochs (best first).")
    ] = "time",
    runs: RunsOpt = Path("runs"),
    debug: DebugOpt = False,
) -> None:
    """A table of past runs: id, time, spec, model, the settings that differ between them, metrics, seconds."""
    if ctx.invoked_subcommand is not None:
        return
    from ..report import list_runs
    from ..report.runs import differing, unread
    from ..spec.flat import flatten

    found = list_runs(runs, spec, sort)
    if not found:
        err.print(f"no runs under {runs}/" + (f" for spec '{spec}'" if spec else "") + "; `wdcli train SPEC` makes one")
        return
    keys = _tried(found, differing, unread)
    t = Table(title=f"{counted(len(found), 'run')} under {runs}/, by {sort}")
    for c in ("run", "time", "spec", "model", *keys, "split", "auc", "logloss", "gauc", "seconds", "epochs"):
        t.add_column(
            c, justify="right" if c in ("auc", "logloss", "gauc", "seconds", "epochs") else "left", overflow="fold"
        )
    for r in found:
        flat, m = flatten(r.spec), r.metrics
        gauc = m.metric("gauc")
        t.add_row(
            r.id,
            r.created.replace("T", " ")[:19],
            r.name,
            r.model,
            *[_short(flat.get(k)) for k in keys],
            m.split,
            cell(m.metric("auc")),
            cell(m.metric("logloss")),
            "" if math.isnan(gauc) else cell(gauc),
            f"{m.seconds:.1f}",
            str(m.epochs),
        )
    out.print(t)


runs_app.callback(invoke_without_command=True)(_runs_callback)
SETTINGS_SHOWN = 6  # spec keys a row of `wdcli runs` shows at most


def _tried(found: list, differing, unread) -> list[str]:
    """The settings tried between runs of the same spec (what differs between two specs' columns or labels is no
    setting: a census run beside a movies run would list every column)."""
    by_spec: dict[str, list] = {}
    for r in found:
        by_spec.setdefault(r.name, []).append(r)
    keys = [
        k
        for runs in by_spec.values()
        if len(runs) > 1
        for k in differing(runs)
        if not k.startswith("data.") and not unread(k)
    ]
    return list(dict.fromkeys(keys))[:SETTINGS_SHOWN]


@runs_app.command("diff", cls=Command)
def diff(
    a: Annotated[str, typer.Argument(help="Run: folder, <spec>/<id> or <id>.", show_default=False)],
    b: Annotated[str, typer.Argument(help="The run to compare it with.", show_default=False)],
    runs: RunsOpt = Path("runs"),
    debug: DebugOpt = False,
) -> None:
    """What differs between two runs: their spec keys, and their metrics with the change from A to B."""
    from ..report import diff_runs, find_run, read_run

    d = diff_runs(read_run(find_run(a, runs)), read_run(find_run(b, runs)))
    out.print(f"A: {d.a.path}\nB: {d.b.path}", markup=False, highlight=False)
    if d.spec:
        t = Table(title="spec: what differs")
        for c in ("key", "A", "B"):
            t.add_column(c, overflow="fold")  # a long value wraps on a terminal; a pipe is never cut
        for k, va, vb in d.spec:
            t.add_row(k, _value(va), _value(vb))
        out.print(t)
    else:
        out.print("spec: the same")
    if d.unread:
        out.print(
            f"not listed: {counted(len(d.unread), 'key')} of the tune section, which training does not read",
            markup=False,
            highlight=False,
        )
    t = Table(title="metrics: B - A")
    for c in ("split", "metric", "A", "B", "B - A"):
        t.add_column(c, justify="left" if c in ("split", "metric") else "right")
    for split, k, va, vb in d.metrics:
        delta = vb - va
        whole = all(math.isnan(v) or v.is_integer() for v in (va, vb)) and k in ("rows", "epochs")
        show = (lambda v: "-" if math.isnan(v) else f"{int(v):,}") if whole else cell
        t.add_row(
            split, k, show(va), show(vb), "" if math.isnan(delta) else f"{delta:+,.0f}" if whole else f"{delta:+.4f}"
        )
    out.print(t)


def _value(v) -> str:
    """A setting as text, its square brackets shown as they are (not read as rich's markup: `[bold]`)."""
    from rich.markup import escape

    return "-" if v is None else escape(str(v))


def _short(v, width: int = 24) -> str:
    """A setting in `wdcli runs`' table: cut to `width` on a terminal, whole in a pipe or a file."""
    text = _value(v)
    return text if len(text) <= width or not out.is_terminal else text[: width - 3] + "..."
