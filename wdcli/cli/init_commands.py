"""`wdcli init`: a commented spec drafted from the data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from .common import _checked, command, count_option, err, input_problem, out, output_problem


def _spec_file(value: Path | None) -> Path | None:
    if value is not None and (why := output_problem(str(value), suffixes=(".yaml", ".yml"))):
        raise typer.BadParameter(why)
    return value


@command
def init(
    data: Annotated[
        str,
        typer.Argument(
            metavar="DATA",
            callback=_checked(input_problem),
            show_default=False,
            help="Data file, or a quoted glob of files: CSV, TSV, Parquet, NDJSON.",
        ),
    ],
    label: Annotated[str, typer.Option("--label", metavar="COLUMN", help="The label column.", show_default=False)],
    positive: Annotated[
        str | None,
        typer.Option(
            "--positive",
            metavar="VALUE",
            help="The label value that means 1; default: 1/true, or the rarer of two values.",
        ),
    ] = None,
    group: Annotated[
        str | None,
        typer.Option("--group", metavar="COLUMN", help="The request/user column rows are ranked within (label.group)."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            callback=_spec_file,
            help="Spec file to write; default: <data file's name>.yaml here.",
        ),
    ] = None,
    sample: Annotated[int, count_option("--sample", "Rows sampled (at random, in one streaming pass).")] = 100_000,
    force: Annotated[bool, typer.Option("--force", help="Replace the output file if it exists.")] = False,
) -> None:
    """Draft a commented spec from a sample of the data: column kinds, missing markers, buckets, ranked crosses.

    The spec it writes validates and trains as it is; each choice has its reason in a comment."""
    from ..draft import draft_spec, write_draft
    from ..errors import WdcliError

    output = output or Path(Path(data).name.split(".")[0].replace("*", "data") + ".yaml")
    if output.exists() and not force:
        raise WdcliError(f"{output}: already exists; pass --force to replace it, or -o another file")
    draft = draft_spec(data, label, positive, group, output, sample)
    write_draft(draft, output, overwrite=force)
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
    out.print(t)
    if draft.positive_note:
        err.print(f"label.positive: {draft.positive!r} ({draft.positive_note})", markup=False, highlight=False)
    out.print(f"wrote {output}; next: wdcli validate {output} && wdcli train {output}", markup=False, highlight=False)
