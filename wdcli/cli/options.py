"""The options commands share, and the checks of the files they name, run as their callbacks before any work
starts: inputs to read (`input_problem`), specs (`spec_problem`), files and folders to write (`output_problem`);
and counts, whole numbers of 1 or more (`count_option`).

A new option that names a file or folder to write takes its check through `output_option`, one to read through
`input_option`; another check through `checked`:

    output_option("--study", metavar="DIR", folder_for="the study", help="...")
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

COUNT_MAX = 2**31 - 1  # the largest count an option takes (torch and polars take some counts as 32-bit integers)


def input_problem(text: str) -> str | None:
    """What is wrong with a file (or glob) to read, or None."""
    from ..data.io import type_problem

    if glob.has_magic(text) and not Path(text).is_file():  # (a file's own name may hold [ ]: data[1]/a.csv)
        return None if glob.glob(text) else f"no file matches {text}"
    path = Path(text)
    if not path.exists():
        close = _closest_file(path, (".yaml", ".yml", ".json"))
        return f"no such file: {text}" + (f" (did you mean {close}?)" if close else "")
    if path.is_dir():
        return f"{text} is a folder; give a file, or a pattern such as {path / '*.csv'}"
    if not os.access(path, os.R_OK):
        return f"cannot read {text} (permission denied)"
    return type_problem(text)


def spec_problem(text: str) -> str | None:
    """What is wrong with a spec file to read, or None (what is wrong inside it, `load_spec` says)."""
    from ..data.io import FORMATS

    path = Path(text)
    if path.suffix.lower() in FORMATS and path.suffix.lower() != ".json":
        return f"{text} is a data file, not a spec; draft a spec from it with: wdcli init {text} --label COLUMN"
    if not path.exists():
        close = _closest_file(path, (".yaml", ".yml", ".json"))
        return f"no such file: {text}" + (f" (did you mean {close}?)" if close else "")
    if path.is_dir():
        specs = sorted(p.name for p in path.glob("*.y*ml"))[:5]
        return f"{text} is a folder; give a spec file" + (f", e.g. {path / specs[0]}" if specs else "")
    if path.exists() and not os.access(path, os.R_OK):
        return f"cannot read {text} (permission denied)"
    return None


def output_problem(text: str, folder_for: str | None = None, suffixes: tuple[str, ...] | None = None) -> str | None:
    """What stops writing a file here, or None. With `folder_for` (what the folder is for: "the run"), a folder
    instead. `suffixes`: the file types allowed (default: the table formats)."""
    from ..data.io import FORMATS, type_problem

    path = Path(text)
    if folder_for is None and path.is_dir():
        return f"{text} is a folder; give a file name, e.g. {path / 'scores.csv'}"
    if folder_for is not None and path.exists() and not path.is_dir():
        return f"{text} is a file; give a folder for {folder_for}"
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        return f"cannot write {text}: {parent} is not a folder"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"cannot write in {parent} (permission denied); choose another place"
    return None if folder_for is not None else type_problem(text, suffixes or FORMATS)


def _closest_file(path: Path, suffixes: tuple[str, ...] | None = None) -> Path | None:
    """The file beside a missing one whose name is most like it (of those with one of `suffixes`, if given).
    Names are compared without their suffix: a shared `.csv` would make any two names look alike."""
    from ..errors import closest

    if not path.parent.is_dir():
        return None
    by_stem: dict[str, Path] = {}
    for p in sorted(path.parent.iterdir()):
        if suffixes is None or p.suffix.lower() in suffixes:
            by_stem.setdefault(p.stem, p)
    close = closest(path.stem, by_stem)
    return by_stem[close] if close is not None else None


def checked(problem: Callable[..., str | None], **options) -> Callable:
    """An option's callback that refuses a value `problem(value, **options)` finds fault with, in its words."""

    def callback(value):
        if value is not None and (why := problem(str(value), **options)):
            raise typer.BadParameter(why)
        return value

    return callback


def output_option(*names: str, help: str, metavar: str = "FILE", **check: Any) -> Any:
    """An option that names a file to write, or with `folder_for=` (what it is for) a folder, checked by
    `output_problem` (`suffixes=`: the file types it takes) before the command runs."""
    return typer.Option(*names, metavar=metavar, callback=checked(output_problem, **check), help=help)


def count_option(name: str, help: str):
    """An option that counts things: a whole number of 1 or more."""
    return typer.Option(name, metavar="N", min=1, max=COUNT_MAX, help=help)


def _separator(value: str | None) -> str | None:
    from ..spec.settings import separator_of

    try:
        return None if value is None else separator_of(value)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None


def separator_option(default: str):
    """--separator: how the CSV files a command reads separate their fields (`default` says what it takes)."""
    return typer.Option(
        "--separator",
        metavar="CHAR",
        callback=_separator,
        help=f"The field separator of .csv input: ';', '|', tab, ...; default: {default}.",
    )


SeparatorOpt = Annotated[str | None, separator_option("the run's data.csv.separator (a comma unless set)")]
SpecArg = Annotated[
    Path,
    typer.Argument(
        metavar="SPEC", help="The YAML spec file.", show_default=False, callback=checked(spec_problem), readable=False
    ),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="KEY=VALUE",
        help="Override a spec key, e.g. train.epochs=1 (repeatable). The value is YAML: "
        "quote yes, no, on and off to keep them text ('label.positive=\"yes\"').",
    ),
]
DeviceOpt = Annotated[
    str,
    typer.Option(
        "--device", metavar="DEVICE", help="Score on auto (a GPU when there is one), cpu, cuda, cuda:N or mps."
    ),
]
ModelOpt = Annotated[
    Path | None,
    typer.Option(
        "--model",
        metavar="DIR",
        help="A run folder, runs/NAME (its latest run) or a LATEST file; default: the "
        "latest run of any spec (runs/LATEST).",
    ),
]


def input_option(help: str) -> Any:
    """`--input FILE`: a data file (or a quoted glob), checked before the command runs."""
    return typer.Option(
        "--input", metavar="FILE", callback=checked(input_problem), readable=False, help=help, show_default=False
    )


InputOpt = Annotated[Path, input_option("CSV, TSV, Parquet or NDJSON file (or a quoted glob).")]
RowsOpt = Annotated[Path | None, input_option("CSV, TSV, Parquet or NDJSON file (or a quoted glob); or --split.")]
SplitOpt = Annotated[
    Literal["test", "validation", "train"] | None,
    typer.Option(
        "--split",
        metavar="PART",
        help="Score the run's own test, validation or train rows, split as it split them (instead of --input).",
        show_default=False,
    ),
]


def _table_output(value: Path | None) -> Path | None:
    """--output of scored rows: a file checked by `output_problem`, or `-` for stdout (as without the option)."""
    return None if value is not None and str(value) == "-" else checked(output_problem)(value)


OutputOpt = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        metavar="FILE",
        callback=_table_output,
        help="Write here, by extension (.csv, .tsv, .parquet, .ndjson); default (or -): CSV on stdout.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No notes on stderr (which model, rows written).")]
