"""`wdcli init`: a commented spec drafted from the data."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from .app import DebugOpt, command
from .options import checked, count_option, input_problem, output_option, separator_option
from .output import err, out
from .steps import Steps

DataArg = Annotated[
    str,
    typer.Argument(
        metavar="DATA",
        callback=checked(input_problem),
        show_default=False,
        help="Data file, or a quoted glob of files: CSV, TSV, Parquet, NDJSON.",
    ),
]
PositiveOpt = Annotated[
    str | None,
    typer.Option(
        "--positive",
        metavar="VALUE",
        help="The label value that means 1; default: 1, true, yes or the like (click vs no-click), else the "
        "rarer of two values.",
    ),
]
GroupOpt = Annotated[
    str | None,
    typer.Option(
        "--group",
        metavar="COLUMN",
        help="The request/user column rows are ranked within (label.group); the split then keeps each of its "
        "values in one part (data.split.key), or, when a column looks like a time (or with --time) and each one's "
        "rows span several times (users), holds out each one's latest rows and keeps the column as a feature.",
    ),
]
SpecOutOpt = Annotated[
    Path | None,
    output_option(
        "--output", "-o", suffixes=(".yaml", ".yml"), help="Spec file to write; default: <data file's name>.yaml here."
    ),
]

TimeOpt = Annotated[
    str | None,
    typer.Option(
        "--time",
        metavar="COLUMN",
        help="Split by this column's times: the latest rows are test (with --group, each group's latest rows "
        "when its rows span several times); the column is no feature.",
    ),
]


KindOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--kind",
        metavar="COLUMN=KIND",
        help="Draft this column as KIND (numeric, categorical, multivalent or skip), whatever its values suggest; "
        "repeat it for several columns (e.g. --kind occ10=categorical: codes written as whole numbers).",
    ),
]


def _kinds(given: list[str] | None) -> dict[str, str]:
    from ..draft.profile import KINDS
    from ..errors import WdcliError

    kinds = {}
    for item in given or []:
        column, _, kind = item.rpartition("=")
        if not column or kind not in KINDS:
            raise WdcliError(f"--kind {item}: expected COLUMN=KIND, KIND one of {', '.join(KINDS)}")
        kinds[column] = kind
    return kinds


@command
def init(
    data: DataArg,
    label: Annotated[str, typer.Option("--label", metavar="COLUMN", help="The label column.", show_default=False)],
    positive: PositiveOpt = None,
    group: GroupOpt = None,
    time: TimeOpt = None,
    output: SpecOutOpt = None,
    kind: KindOpt = None,
    test: Annotated[
        str | None,
        typer.Option(
            "--test",
            metavar="FILE",
            help="Your own test rows (a file or quoted glob, the training files' columns): the draft's data.test, "
            "and its split holds out validation rows alone, so that every other row trains.",
        ),
    ] = None,
    sample: Annotated[int, count_option("--sample", "Rows sampled (at random, in one streaming pass).")] = 100_000,
    force: Annotated[bool, typer.Option("--force", help="Replace the output file if it exists.")] = False,
    separator: Annotated[str | None, separator_option("a comma")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")] = False,
    no_trials: Annotated[
        bool,
        typer.Option(
            "--no-trials",
            help="Do not train the draft on the sample with and without each of the deep part's blocks (dot "
            "products, numeric embeddings; a few short trainings) to keep those that help: leave them as the "
            "defaults have them (dot products on; numbers with a spike, an uneven effect or values that name "
            "things embedded, numeric_embedding: auto).",
        ),
    ] = False,
    debug: DebugOpt = False,
) -> None:
    """Draft a commented spec from a sample of the data: column kinds, missing markers, buckets, ranked crosses.

    The spec it writes validates and trains as it is; each choice has its reason in a comment."""
    from ..draft import draft_spec, split_notes, write_draft
    from ..errors import WdcliError
    from ..run import try_blocks, try_draft
    from ..spec import load_spec
    from ..train.checks import data_warnings

    output = output or default_output(data)
    if output.exists() and not force:
        raise WdcliError(f"{output}: already exists; pass --force to replace it, or -o another file")
    with Steps(err, quiet) as step:
        blocks = (lambda d, o: try_blocks(d, o, step)) if not no_trials else None
        draft = draft_spec(
            data,
            label,
            positive,
            group,
            output,
            sample,
            separator=separator,
            step=step,
            time=time,
            try_blocks=blocks,
            try_draft=None if no_trials else try_draft,
            kinds=_kinds(kind),
            test_file=test,
        )
        step(f"checking that the draft validates and fits ({draft.rows:,} rows)")
        write_draft(draft, output, overwrite=force)
    out.print(draft_table(draft, output))
    if draft.label is not None:
        p = draft.label
        err.print(
            f"[bold]label: {escape(label)} = {escape(p.shown)} is the positive class (1)[/]: the model predicts its "
            f"chance ({p.share:.0%} of sample rows; {escape(p.why)}); --positive VALUE chooses another",
            highlight=False,
        )
    for line in split_notes(draft, output):
        err.print(line if line.startswith(" ") else f"note: {line}", markup=False, highlight=False)
    for warning in data_warnings(load_spec(output)):  # (what `validate` would say of the draft: a --time misread)
        err.print(f"warning: {warning}", markup=False, highlight=False, style="yellow")
    out.print(f"wrote {output}; next: wdcli validate {output} && wdcli train {output}", markup=False, highlight=False)


def default_output(data: str) -> Path:
    """<the data file's name>.yaml here; of a glob, its name up to the first wildcard (ml-*.parquet: ml.yaml)."""
    stem = re.sub(r"[-_. ]*[*?\[].*$", "", Path(data).name.split(".")[0])
    return Path((stem or "data") + ".yaml")


def draft_table(draft, output: Path) -> Table:
    """What the draft holds: its columns by kind, buckets, crosses (with their gain) and what was left out."""
    kept = [c for c in draft.columns if c.kind != "skip"]
    t = Table(title=f"{output}: drafted from {draft.rows:,} of {draft.total:,} rows")
    for name in ("kind", "columns"):
        t.add_column(name, overflow="fold")
    for kind in ("numeric", "categorical", "multivalent"):
        cols = [c.name + (" (hashed)" if c.hashed else "") for c in kept if c.kind == kind]
        if cols:
            t.add_row(kind, ", ".join(cols))
    if draft.buckets:
        t.add_row("bucketized", ", ".join(b.name for b in draft.buckets))
    if draft.crosses:
        t.add_row("crosses", ", ".join(" x ".join(x.columns) + f" ({x.gain:.4f})" for x in draft.crosses))
    for c in draft.columns:
        if c.kind == "skip":
            t.add_row("left out", f"{c.name}: {c.reason}")
    return t
