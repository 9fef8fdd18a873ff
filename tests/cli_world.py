"""A small world for driving the command line as a user would: a spec, its data, a trained model, and every
kind of file a user can wrongly point an option at. Also: every command and option, read from the app, so
that the sweeps cover commands added later."""

from __future__ import annotations

import contextlib
import inspect
import os
import shutil
import typing
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from wdcli.cli import app

from .conftest import SPECS

runner = CliRunner()


def invoke(*args, **kwargs):
    return runner.invoke(app, [str(a) for a in args], prog_name="wdcli", **kwargs)


@dataclass
class World:
    root: Path
    spec: Path  # tiny.yaml on data.csv, one epoch, `education: categorical` in short form
    data: Path  # its labelled data
    bad: dict[str, Path]  # files a user might wrongly name: missing, folder, unreadable, ...

    def fresh(self, name: str = "out", suffix: str = "") -> Path:
        """A folder (or, with `suffix`, file) name not yet used."""
        i = 0
        while (self.root / f"{name}{i}{suffix}").exists():
            i += 1
        return self.root / f"{name}{i}{suffix}"


@contextlib.contextmanager
def inside(folder: Path):
    here = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(here)


def make_world(root: Path) -> World:
    data = root / "data.csv"
    shutil.copy(SPECS / "data" / "tiny.csv", data)
    text = (
        (SPECS / "tiny.yaml")
        .read_text()
        .replace("data/tiny.csv", "data.csv")
        .replace("education: {kind: categorical, min_count: 2}", "education: categorical")
        .replace("epochs: 3", "epochs: 1")
    )
    spec = root / "tiny.yaml"
    spec.write_text(text)
    bad = {
        "missing": root / "nothere.csv",
        "folder": root / "afolder",
        "unreadable": root / "unreadable.csv",
        "wrong extension": root / "data.txt",
        "empty": root / "empty.csv",
        "not UTF-8": root / "latin1.csv",
        "not parquet": root / "garbage.parquet",
        "another model's data": root / "apps.csv",
        "under a file": root / "data.csv" / "x.csv",
    }
    bad["folder"].mkdir()
    shutil.copy(data, bad["unreadable"])
    bad["unreadable"].chmod(0)
    shutil.copy(data, bad["wrong extension"])
    bad["empty"].write_text("")
    bad["not UTF-8"].write_bytes(data.read_bytes().replace(b"United-States", b"M\xe9xico"))
    bad["not parquet"].write_bytes(b"PAR1 this is not a parquet file")
    pl.read_csv(SPECS / "data" / "apps_candidates.csv").head(50).write_csv(bad["another model's data"])
    with inside(root):
        r = invoke("train", spec, "-q")
        assert r.exit_code == 0, r.output
    return World(root, spec, data, bad)


@contextlib.contextmanager
def unreadable(paths: list[Path]):
    """chmod 0 makes a file unreadable, except to root: for root, os.access says so as well."""
    if os.geteuid() != 0:
        yield
        return
    real = os.access
    denied = {str(Path(p).absolute()) for p in paths}

    def access(path, mode, *a, **k):
        return False if str(Path(path).absolute()) in denied else real(path, mode, *a, **k)

    os.access = access
    try:
        yield
    finally:
        os.access = real


# ------------------------------------------------------------------------------ the commands, from the app


@dataclass(frozen=True)
class Opt:
    command: str
    names: tuple[str, ...]  # ("--quiet", "-q"); for an argument: (METAVAR,)
    kind: type  # bool, int, str, Path, list
    metavar: str | None
    argument: bool


def commands() -> dict[str, list[Opt]]:
    """Every command of the app and its options, from their signatures."""
    out = {}
    for c in app.registered_commands:
        name = c.name or c.callback.__name__.replace("_", "-")
        opts = []
        for p in inspect.signature(c.callback, eval_str=True).parameters.values():
            base, info = typing.get_args(p.annotation)[:2]
            if typing.get_origin(base) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
                base = next(a for a in typing.get_args(base) if a is not type(None))
            kind = list if typing.get_origin(base) is list else base
            argument = type(info).__name__ == "ArgumentInfo"
            decls = tuple(info.param_decls or ())  # in Annotated, typer takes a first "--name" for the default
            if isinstance(info.default, str) and info.default.startswith("-"):
                decls = (info.default, *decls)
            names = (info.metavar or p.name.upper(),) if argument else decls
            opts.append(Opt(name, names, kind, info.metavar, argument))
        out[name] = opts
    return out


def base_args(w: World) -> dict[str, list]:
    """A command line of each command that works (exit 0) in the world: sweeps change one thing in it."""
    return {
        "validate": [w.spec],
        "schema": [],
        "train": [w.spec, "-q", "--output", w.fresh()],
        "compare": [w.spec, "--set", "train.epochs=1"],
        "eval": ["--input", w.data, "-q"],
        "predict": ["--input", w.data, "-q"],
        "rank": ["--input", w.data, "--group-by", "education", "-q"],
        "inspect": ["-q"],
        "verify": ["runs/tiny", "--baseline", "runs/tiny", "--input", w.data],
        "serve": ["--model", "runs/tiny", "--check"],  # (--check: load and check, then exit instead of serving)
        "export": ["runs/tiny", "--output", w.fresh("export")],
        "init": [w.data, "--label", "income", "--sample", "300", "-o", w.root / "draft.yaml", "--force"],
        "report": ["-o", w.root / "report.html"],
        "tune": [
            w.spec,
            "--trials",
            "1",
            "--space",
            "deep.dropout={choice: [0.0, 0.1]}",
            "--study",
            w.fresh("study"),
            "-q",
        ],
    }
