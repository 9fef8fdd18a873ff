"""What every command shares: the app, the consoles, the options and their checks, the error handling, the
line that names the model a command loaded, the tables and JSON, and the training progress.

A new command is a typed function registered with `command`; it gets `--debug` (accepted anywhere among its
options), its WdcliErrors and OS errors (permission denied, disk full) become one message with exit 2, and any
other exception an internal error (exit 1) that says how to see the traceback:

    @command
    def mine(spec: SpecArg, set: SetOpt = None, top: Annotated[int, count_option("--top", "How many.")] = 10,
             json_: JsonOpt = False) -> None:
        \"\"\"One line of help.\"\"\"
        ...  # one library call; results on `out` (or `emit_json`), notes on `err`

Options that name files check them before any work starts (`InputOpt`, `OutputOpt`, `input_problem`,
`output_problem`); counts are whole numbers of 1 or more (`count_option`).
"""

from __future__ import annotations

import errno
import functools
import inspect
import json
import math
import os
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console, ConsoleDimensions
from rich.table import Table
from typer.core import TyperCommand, TyperGroup

from .options import (  # noqa: F401 - the commands take them from here, with the rest
    DebugOpt,
    DeviceOpt,
    InputOpt,
    JsonOpt,
    ModelOpt,
    OutputOpt,
    QuietOpt,
    SetOpt,
    SpecArg,
    _at_least_one,
    _checked,
    _closest,
    count_option,
    input_problem,
    output_problem,
    spec_problem,
)
from .progress import Progress  # noqa: F401 - the commands take it from here, with the rest

STATE = {"debug": False, "argv": None}  # set by each invocation: --debug, and the command line as typed
PIPED_WIDTH = 10_000  # when output is not a terminal, tables and lines are never folded or cut
BOOL_WORDS = {"true", "false", "yes", "no", "on", "off", "1", "0"}


# ------------------------------------------------------------------------------------- consoles, help


class _Console(Console):
    """A rich console whose output, when it is not a terminal (a pipe, a file), is never folded or cut."""

    @property
    def size(self) -> ConsoleDimensions:
        size = Console.size.fget(self)
        return size if self.is_terminal else ConsoleDimensions(PIPED_WIDTH, size.height)

    @size.setter
    def size(self, new) -> None:
        Console.size.fset(self, new)


out = _Console()
err = _Console(stderr=True, soft_wrap=True)


class _Tidy:
    """Help that reads like a well-kept click tool: flags show no value type, arguments no braces; and a flag
    given a value (`--resume true`) says that it takes none."""

    def get_params(self, ctx):
        params = super().get_params(ctx)
        for p in params:
            if getattr(p, "is_flag", False) and getattr(p, "metavar", None) is None:
                p.metavar = ""
        return params

    def collect_usage_pieces(self, ctx) -> list[str]:
        return [p[1:-1] if p.startswith("{") and p.endswith("}") else p for p in super().collect_usage_pieces(ctx)]

    def parse_args(self, ctx, args: list[str]):
        if isinstance(self, TyperGroup):
            STATE["argv"] = list(args)
        else:
            _flags_take_no_value(self.get_params(ctx), args, ctx)
        return super().parse_args(ctx, args)


class Group(_Tidy, TyperGroup):
    pass


class Command(_Tidy, TyperCommand):
    pass


def _flags_take_no_value(params, args: list[str], ctx) -> None:
    options = [p for p in params if getattr(p, "param_type_name", "") == "option"]
    flags = {o for p in options if getattr(p, "is_flag", False) for o in (*p.opts, *p.secondary_opts)}
    valued = {o for p in options if not getattr(p, "is_flag", False) for o in p.opts}
    i = 0
    while i < len(args) and args[i] != "--":
        name, eq, value = args[i].partition("=")
        nxt = args[i + 1] if i + 1 < len(args) else None
        if name in flags and (eq or (nxt is not None and nxt.lower() in BOOL_WORDS and not os.path.exists(nxt))):
            raise typer.BadParameter(
                f"{name} is a flag and takes no value ('{value if eq else nxt}'); write {name} "
                "alone to turn it on, or leave it out",
                ctx=ctx,
                param_hint=f"'{name}'",
            )
        i += 2 if args[i] in valued else 1


app = typer.Typer(
    cls=Group,
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Wide & Deep learning from declarative YAML specs.",
)


@app.callback()
def main(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of an error (also accepted after the command).")
    ] = False,
) -> None:
    STATE["debug"] = debug


# ---------------------------------------------------------------------------------------- errors


def command(fn):
    """Register a command: `--debug` among its options, and its errors as messages (see the module's doc)."""
    return app.command(cls=Command)(guarded(fn))


def guarded(fn):
    """`fn` with `--debug` among its options and its errors as messages: for `command`, and for the commands and
    callbacks of sub-apps (`wdcli runs`, `wdcli runs diff`)."""
    sig = inspect.signature(fn, eval_str=True)

    @functools.wraps(fn)
    def wrapper(*args, debug: bool = False, **kwargs):
        STATE["debug"] = STATE["debug"] or debug
        return _guarded(fn, args, kwargs)

    params = [
        *sig.parameters.values(),
        inspect.Parameter("debug", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=DebugOpt),
    ]
    wrapper.__signature__ = sig.replace(parameters=params)
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper


def _command_line(*extra: str) -> str:
    argv = STATE["argv"] if STATE["argv"] is not None else sys.argv[1:]
    return shlex.join(["wdcli", *argv, *[e for e in extra if e not in argv]])


def _guarded(fn, args, kwargs):
    from ..errors import Interrupted, SpecError, WdcliError

    try:
        result = fn(*args, **kwargs)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return result
    except Interrupted as e:
        if not e.speak:  # another process of a torchrun job: the first one speaks
            raise typer.Exit(e.exit_code) from None
        err.print(str(e), markup=False, highlight=False)
        if e.checkpoint is not None:  # the same command line, resuming
            err.print("continue with: " + _command_line("--resume"), markup=False, highlight=False)
        raise typer.Exit(e.exit_code) from None
    except WdcliError as e:
        _debug_traceback()
        if isinstance(e, SpecError):
            err.print(f"[bold red]error:[/] {len(e.problems)} problem{'s' if len(e.problems) != 1 else ''} in the spec")
            for p in e.problems:
                err.print(f"  {p}", markup=False, highlight=False)
        else:
            err.print("[bold red]error:[/] ", end="")
            err.print(str(e), markup=False, highlight=False)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        err.print("interrupted")
        raise typer.Exit(130) from None
    except BrokenPipeError:  # `wdcli predict ... | head`: the reader left; stop quietly, as `cat` does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(141) from None
    except (typer.Exit, typer.Abort):
        raise
    except OSError as e:
        if e.filename is None or STATE["debug"]:
            _internal(e)
        err.print("[bold red]error:[/] ", end="")
        err.print(f"{e.filename}: {_os_reason(e)}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    except Exception as e:  # noqa: BLE001 - the last line of defence: no traceback unless --debug
        _internal(e)


def _debug_traceback() -> None:
    if STATE["debug"]:
        import traceback

        traceback.print_exc(file=sys.stderr)


def _internal(e: Exception):
    if STATE["debug"]:
        raise e
    err.print(f"[bold red]internal error:[/] {type(e).__name__}: ", end="", highlight=False)
    err.print(str(e), markup=False, highlight=False)
    err.print(
        "this is a bug in wdcli, not in your input; please report it with the traceback, which this shows:\n  "
        + _command_line("--debug"),
        markup=False,
        highlight=False,
    )
    raise typer.Exit(1)


def _os_reason(e: OSError) -> str:
    what = {
        errno.EACCES: "permission denied; check its permissions, or choose another path",
        errno.EPERM: "permission denied; check its permissions, or choose another path",
        errno.ENOSPC: "no space left on the device; free some space, or write elsewhere",
        errno.EROFS: "the file system is read-only; write elsewhere",
        errno.ENOENT: "no such file or folder",
        errno.EISDIR: "is a folder, not a file",
        errno.ENOTDIR: "a part of the path is not a folder",
    }
    return what.get(e.errno, (e.strerror or type(e).__name__).lower())


# ------------------------------------------------------------------------------------ model, output


def load_scorer(model: Path | None, quiet: bool = False, device: str = "cpu"):
    """The Scorer of --model (or the latest run), named in one line on stderr unless quiet."""
    from ..score.scorer import Scorer

    scorer = Scorer.load(model, device)
    note_model(scorer.artifact, model, quiet)
    return scorer


def note_model(artifact, model: Path | None, quiet: bool = False) -> None:
    """One line on stderr: which run a command loaded, and (without --model) how it was chosen."""
    if quiet:
        return
    path = artifact.path
    shown = os.path.relpath(path) if not os.path.relpath(path).startswith("..") else str(path)
    how = (
        ", the latest run of any spec; --model runs/NAME picks another"
        if model is None
        else f", the latest run in {model}"
        if Path(model).resolve() != Path(path).resolve()
        else ""
    )
    err.print(f"model: {shown} (spec '{artifact.spec.name}'{how})", markup=False, highlight=False)


def emit_json(value, stream=None) -> None:
    """One line of JSON on stdout (or `stream`); NaN and infinities as null: JSON has no such numbers."""

    def clean(v):
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v

    (stream or sys.stdout).write(json.dumps(clean(value), default=str) + "\n")


def fmt(v) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def metrics_table(title: str, rows: dict[str, dict], keys: list[str]) -> Table:
    t = Table(title=title)
    t.add_column("split")
    for k in keys:
        t.add_column(k, justify="right")
    for name, m in rows.items():
        t.add_row(name, *[fmt(m.get(k, "")) for k in keys])
    return t


METRIC_KEYS = ["rows", "auc", "logloss", "accuracy", "mean_score", "base_rate"]
