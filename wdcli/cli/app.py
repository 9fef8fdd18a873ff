"""The `wdcli` app: how its commands are registered, the state of one invocation, and what errors become.

A command is a typed function registered with `command`; it takes the shared options (`options.py`), makes one
library call and prints through `output.py`:

    @command
    def mine(spec: SpecArg, top: Annotated[int, count_option("--top", "How many.")] = 10,
             json_: JsonOpt = False, debug: DebugOpt = False) -> None:
        \"\"\"One line of help.\"\"\"
        ...  # one library call; results on `out` (or `emit_json`), notes on `err`

Its WdcliErrors, and OS errors that name a file (permission denied, disk full), become one message and exit 2;
any other exception is an internal error (exit 1) whose message says how to see the traceback: `--debug`,
accepted before the command (the app's option) and after it (each command's `DebugOpt`). A word left after a
flag (`--resume true`) is told that the flag takes no value.
"""

from __future__ import annotations

import errno
import os
import shlex
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperCommand, TyperGroup

from .output import err, fit_to_streams

YES_NO = {"true", "false", "yes", "no", "on", "off", "1", "0"}  # words a user may give a flag as its value


@dataclass
class Invocation:
    """One run of the app, kept as its click context's object: the command line as typed, and --debug."""

    argv: list[str] = field(default_factory=list)
    debug: bool = False

    def command_line(self, *extra: str) -> str:
        """The command line as typed, with `extra` options it lacks: what a message tells the user to run."""
        return shlex.join(["wdcli", *self.argv, *[e for e in extra if e not in self.argv]])


def _note_debug(ctx: typer.Context, value: bool) -> bool:
    if value:
        ctx.ensure_object(Invocation).debug = True
    return value


DebugOpt = Annotated[
    bool,
    typer.Option(
        "--debug",
        callback=_note_debug,
        expose_value=False,
        help="Show the traceback of an error (accepted before or after the command).",
    ),
]

# ------------------------------------------------------------------------------------ commands, groups


if TYPE_CHECKING:  # what _Tidy is mixed into (at run time a plain mixin: the command classes' order is kept)
    _Mixed = TyperCommand
else:
    _Mixed = object


class _Tidy(_Mixed):
    """Help that reads like a well-kept click tool: flags show no value type, arguments no braces."""

    def get_params(self, ctx):
        params = super().get_params(ctx)
        for p in params:
            if getattr(p, "is_flag", False) and getattr(p, "metavar", None) is None:
                p.metavar = ""
        return params

    def collect_usage_pieces(self, ctx) -> list[str]:
        return [p[1:-1] if p.startswith("{") and p.endswith("}") else p for p in super().collect_usage_pieces(ctx)]


class Group(_Tidy, TyperGroup):
    pass


class Command(_Tidy, TyperCommand):
    """A command. Words left after its options and arguments reach `invoke` (instead of being refused by the
    parser), where one right after a flag is explained: the flag takes no value."""

    allow_extra_args = True

    # typer calls it with a typer.Context (its context_class); click's signature names the base Context
    def invoke(self, ctx: typer.Context):  # type: ignore[override]
        _refuse_flag_values(ctx)
        if ctx.args:
            ctx.fail(f"Got unexpected extra argument(s) ({' '.join(ctx.args)})")
        return super().invoke(ctx)


class App(Group):
    """The app's root: it makes each invocation's `Invocation` and turns errors into messages."""

    def make_context(self, info_name, args, parent=None, **extra):
        extra.setdefault("obj", Invocation(list(args)))
        return super().make_context(info_name, args, parent, **extra)

    # typer calls it with a typer.Context (its context_class); click's signature names the base Context
    def invoke(self, ctx: typer.Context):  # type: ignore[override]
        fit_to_streams()
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # a closed pipe shows here, not at exit
            return result
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except typer.TyperException as e:  # a usage error, which typer prints (exit 2)
            usage = _explained(e, ctx)
            _json_error(usage, 2, ctx.find_object(Invocation) or Invocation())
            raise usage from None
        except BaseException as e:  # noqa: BLE001 - the last line of defence: no traceback unless --debug
            run = ctx.find_object(Invocation) or Invocation()
            code = _reported(e, run)
            if code not in (130, 141):
                _json_error(e, code, run)
            raise typer.Exit(code) from None


app = typer.Typer(
    cls=App,
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Wide & Deep learning from declarative YAML specs.",
)


def _show_version(value: bool) -> None:
    """--version: wdcli's version and those of what it runs on (what a bug report needs), then exit."""
    if value:
        import polars
        import torch

        from .. import __version__

        python = ".".join(str(n) for n in sys.version_info[:3])
        typer.echo(f"wdcli {__version__} (python {python}, torch {torch.__version__}, polars {polars.__version__})")
        raise typer.Exit()


VersionOpt = Annotated[
    bool,
    typer.Option(
        "--version", callback=_show_version, is_eager=True, expose_value=False, help="Print the version and exit."
    ),
]


@app.callback()
def main(version: VersionOpt = False, debug: DebugOpt = False) -> None:
    pass


def command(fn):
    """Register a command of the app (see the module's doc)."""
    return app.command(cls=Command)(fn)


# ----------------------------------------------------------------------------------- flags with values


def _flags(command) -> set[str]:
    """The flags of a command (and of a group's commands)."""
    found = {o for p in command.params if getattr(p, "is_flag", False) for o in (*p.opts, *p.secondary_opts)}
    for sub in getattr(command, "commands", {}).values():
        found |= _flags(sub)
    return found


def _takes_no_value(flag: str, value: str, ctx: typer.Context | None = None) -> typer.BadParameter:
    return typer.BadParameter(
        f"{flag} is a flag and takes no value ('{value}'); write {flag} alone to turn it on, or leave it out",
        ctx=ctx,
        param_hint=f"'{flag}'",
    )


def _refuse_flag_values(ctx: typer.Context) -> None:
    """A word right after a flag that the parser left over, or a yes/no word it took as an argument (`report
    --debug true`: RUN is 'true'), was meant as the flag's value: say that flags take none."""
    argv, flags = ctx.ensure_object(Invocation).argv, _flags(ctx.command)
    for before, word in zip(argv, argv[1:]):
        yes_no = word.lower() in YES_NO and not os.path.exists(word)
        if before in flags and (word in ctx.args or yes_no):
            raise _takes_no_value(before, word, ctx)


def _explained(e: typer.TyperException, root: typer.Context) -> Exception:
    """A usage error; for `--flag=value` (which the parser refuses) the message that the flag takes none; for an
    unknown option, the spec key it may mean (`--epochs 1`: `--set train.epochs=1`) or the option it is like."""
    flag = getattr(e, "option_name", None)
    assert isinstance(root.command, TyperGroup)  # the app's own context: App.invoke's
    command = root.command.get_command(root, root.invoked_subcommand or "")
    if command is not None and e.message.startswith("Got unexpected extra argument"):
        return _run_as_option(e, command)
    if flag is None or command is None:
        return e
    argv = root.ensure_object(Invocation).argv
    if hasattr(e, "possibilities") and flag not in _flags(command):  # an option the command does not have
        e.possibilities, e.message = None, f"No such option: {flag}{_unknown_option(flag, command, argv)}"
        return e
    if flag not in _flags(command):
        return e
    value = next((a.split("=", 1)[1] for a in argv if a.startswith(flag + "=")), "")
    return _takes_no_value(flag, value)


def _run_as_option(e: typer.TyperException, command) -> typer.TyperException:
    """`wdcli eval runs/x`: the commands that score a run name it with --model; say so."""
    words = e.message.rsplit("(", 1)[-1].rstrip(")").split()
    if "--model" in [o for p in command.params for o in getattr(p, "opts", [])] and words:
        e.message += f"; a run is named with --model: --model {words[0]}"
    return e


def _unknown_option(flag: str, command, argv: list[str]) -> str:
    """What an unknown option may mean: a spec key to --set (on a command that takes --set), or an option of the
    command it is like (did you mean)."""
    from ..errors import closest

    options = [o for p in command.params for o in getattr(p, "opts", []) if o.startswith("-")]
    run = next((p for p in command.params if getattr(p, "metavar", None) == "RUN" and p.opts[0][0] != "-"), None)
    if flag == "--model" and run is not None:  # `wdcli export --model runs/x`: the run is its argument
        after = argv[argv.index(flag) + 1 : argv.index(flag) + 2] if flag in argv else []
        return f"; the run is this command's argument: wdcli {command.name} {after[0] if after else 'RUN'}"
    word = flag.split("=", 1)[0].lstrip("-").replace("-", "_")
    keys = [k for k in _spec_keys() if k.rsplit(".", 1)[-1] == word]
    if keys and "--set" in options:
        given = next((a.split("=", 1)[1] for a in argv if a.startswith(flag + "=")), None)
        after = argv[argv.index(flag) + 1 : argv.index(flag) + 2] if flag in argv else []
        value = given or (after[0] if after and not after[0].startswith("-") else "VALUE")
        also = f" (or {', '.join(keys[1:3])})" if len(keys) > 1 else ""
        return f"; spec keys are set with --set: --set {keys[0]}={value}{also}"
    close = closest(flag, options)
    return f" (did you mean {close}?)" if close else ""


def _spec_keys(model=None, prefix: str = "") -> list[str]:
    """Every key of the spec's sections as --set names it (train.epochs, deep.hidden, ...), in spec order."""
    import typing

    from pydantic import BaseModel

    from ..spec import Spec

    def models(tp) -> list[type[BaseModel]]:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            return [tp]
        return [m for arg in typing.get_args(tp) for m in models(arg)]

    keys: list[str] = []
    for name, info in (model or Spec).model_fields.items():
        keys.append(prefix + name)
        if typing.get_origin(info.annotation) is not dict:  # (columns and tables are named by the spec)
            for m in models(info.annotation):
                keys += _spec_keys(m, f"{prefix}{name}.")
    return list(dict.fromkeys(keys))


# ---------------------------------------------------------------------------------------- errors


def _reported(e: BaseException, run: Invocation) -> int:
    """Say what went wrong, in one message, and return the exit code; with --debug, an internal error is raised
    again (its traceback shows)."""
    from ..errors import Interrupted, SpecError, WdcliError, counted

    if isinstance(e, Interrupted):
        if not e.speak:  # another process of a torchrun job: the first one speaks
            return e.exit_code
        err.print(str(e), markup=False, highlight=False)
        if e.checkpoint is not None:  # the same command line, resuming
            err.print("continue with: " + run.command_line("--resume"), markup=False, highlight=False)
        return e.exit_code
    if isinstance(e, WdcliError):
        if run.debug:
            import traceback

            traceback.print_exception(e, file=sys.stderr)
        if isinstance(e, SpecError):
            err.print(f"[bold red]error:[/] {counted(len(e.problems), 'problem')} in the spec")
            for p in e.problems:
                err.print(f"  {p}", markup=False, highlight=False)
        else:
            err.print("[bold red]error:[/] ", end="")
            err.print(str(e), markup=False, highlight=False)
        return 2
    if isinstance(e, KeyboardInterrupt):
        err.print("interrupted")
        return 130
    if isinstance(e, BrokenPipeError):  # `wdcli predict ... | head`: the reader left; stop quietly, as `cat` does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    if isinstance(e, OSError) and e.filename is not None and not run.debug:
        err.print("[bold red]error:[/] ", end="")
        err.print(f"{e.filename}: {_os_reason(e)}", markup=False, highlight=False)
        return 2
    return _internal(e, run)


def _json_error(e: BaseException, code: int, run: Invocation) -> None:
    """With --json, the error as JSON on stdout too (the message is on stderr as always), so that a script
    reading stdout gets {"error", "exit_code"[, "problems"]} and not an empty string; on stderr where stdout
    carries rows (`predict`/`rank` without -o, whose metrics go there too). Only the first process of a
    torchrun job speaks."""
    import json

    from ..data.cpus import Processes
    from ..errors import Interrupted, SpecError, WdcliError, counted

    if "--json" not in run.argv or not Processes.from_env().main:
        return
    if isinstance(e, Interrupted) and not e.speak:
        return
    out: dict = {"exit_code": code}
    if isinstance(e, typer.TyperException):
        out["error"] = e.format_message()
    elif isinstance(e, SpecError):
        out.update(error=f"{counted(len(e.problems), 'problem')} in the spec", problems=[str(p) for p in e.problems])
    elif isinstance(e, WdcliError):
        out["error"] = str(e)
    elif isinstance(e, OSError) and e.filename is not None:
        out["error"] = f"{e.filename}: {_os_reason(e)}"
    else:
        out["error"] = f"internal error: {type(e).__name__}: {e}"
    stream = sys.stderr if _rows_on_stdout(run.argv) else sys.stdout
    try:
        stream.write(json.dumps(out) + "\n")
        stream.flush()
    except OSError:  # (stdout gone: stderr has said it)
        pass


def _rows_on_stdout(argv: list[str]) -> bool:
    """Whether the command writes rows to stdout: `predict` or `rank` with no -o/--output, or `-o -`."""
    argv = [a for a in argv if a != "--debug"]
    if not argv or argv[0] not in ("predict", "rank"):
        return False
    for i, a in enumerate(argv):
        if a in ("-o", "--output"):
            return i + 1 < len(argv) and argv[i + 1] == "-"
        if a.startswith("--output="):
            return a == "--output=-"
    return True


def _internal(e: BaseException, run: Invocation) -> int:
    """A bug: one line and how to see the traceback, exit 1; with --debug, the exception itself."""
    if run.debug:
        raise e
    err.print(f"[bold red]internal error:[/] {type(e).__name__}: ", end="", highlight=False)
    err.print(str(e), markup=False, highlight=False)
    err.print(
        "this is a bug in wdcli, not in your input; please report it with the traceback, which this shows:\n  "
        + run.command_line("--debug"),
        markup=False,
        highlight=False,
    )
    return 1


def _os_reason(e: OSError) -> str:
    what: dict[int | None, str] = {
        errno.EACCES: "permission denied; check its permissions, or choose another path",
        errno.EPERM: "permission denied; check its permissions, or choose another path",
        errno.ENOSPC: "no space left on the device; free some space, or write elsewhere",
        errno.EROFS: "the file system is read-only; write elsewhere",
        errno.ENOENT: "no such file or folder",
        errno.EISDIR: "is a folder, not a file",
        errno.ENOTDIR: "a part of the path is not a folder",
    }
    return what.get(e.errno, (e.strerror or type(e).__name__).lower())
