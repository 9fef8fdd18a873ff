"""`wdcli validate` and `wdcli schema`."""

from __future__ import annotations

import json
import sys

from rich.table import Table

from .app import DebugOpt, command
from .options import JsonOpt, SetOpt, SpecArg
from .output import emit_json, err, out, parameter_parts

PLAN_COLUMNS = ("feature", "kind", "ids / transform", "wide", "deep")


@command
def validate(spec: SpecArg, set: SetOpt = None, json_: JsonOpt = False, debug: DebugOpt = False) -> None:
    """Check a spec (and its data, where it can be read) and print the compiled plan."""
    from ..data.split import describe
    from ..model.plan import plan_rows
    from ..run import check
    from ..spec import load_spec

    c = check(load_spec(spec, set or []))
    cfg, p = c.config, c.config.param_counts()
    rows = plan_rows(c.fitted, c.config)
    if json_:
        emit_json(
            {
                "spec": str(spec),
                "name": c.spec.name,
                "valid": True,
                "rows": c.rows,
                "split": describe(c.spec.data),
                "model": c.spec.model,
                "features": [dict(zip(("feature", "kind", "ids", "wide", "deep"), r)) for r in rows],
                "wide_size": cfg.wide_size,
                "deep_input_width": cfg.deep_input_width if cfg.has_deep else 0,
                "hidden": cfg.hidden,
                "members": cfg.members,
                "parameters": p,
                "warnings": list(c.warnings),
            }
        )
        return
    t = Table(
        title=f"{c.spec.name}: {c.rows['train']:,} training rows, "
        + ", ".join(f"{v:,} {k}" for k, v in c.rows.items() if k != "train"),
        caption="ids: a sparse feature's embedding rows, its values' and one for missing, and with a vocabulary "
        "its oov_buckets for values it does not know (2 values: 4 vocab)",
    )
    for name in PLAN_COLUMNS:
        t.add_column(name, overflow="fold")
    for row in rows:
        t.add_row(*row)
    out.print(t)
    out.print(
        f"model: {c.spec.model}   wide dimension: {cfg.wide_size:,}   deep input width: "
        f"{cfg.deep_input_width if cfg.has_deep else 0}   hidden: {cfg.hidden}"
        + (f" x {cfg.members} members" if cfg.has_deep and cfg.members > 1 else "")
        + (f"   interaction: {cfg.interaction.kind}" if cfg.has_deep and cfg.interaction.kind != "none" else "")
    )
    out.print(f"parameters: {parameter_parts(p)}, total {p['total']:,}")
    out.print(f"split: {describe(c.spec.data)}", markup=False, highlight=False)
    for warning in c.warnings:
        err.print(f"warning: {warning}", markup=False, highlight=False)
    out.print(f"[green]ok[/]: {spec} is valid", highlight=False)


@command
def schema(debug: DebugOpt = False) -> None:
    """Print the spec's JSON Schema (for editors)."""
    from ..spec import Spec

    sys.stdout.write(json.dumps(Spec.model_json_schema(), indent=2) + "\n")
