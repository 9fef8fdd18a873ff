"""The model's layout: plain data, built once from its `ModelConfig` (`config.layout`), that says where every
weight sits and which columns the deep part's input holds. The network (`widedeep`), warm start, inspect and
the ONNX export all read it; none of them works it out again.

    layout = config.layout
    layout.wide        # a WideSlot per wide feature: its rows [offset, offset + cardinality) of `wide.weight`
    layout.tables      # logical table -> TablePlace: its rows [offset, offset + cardinality) of `embed.<dim>.weight`
    layout.fields      # a Field per input of the deep part, in the order of the MLP's input columns
    layout.groups()    # consecutive fields one operation computes (one lookup per physical table)

Storage. The wide part is one table of one weight per id of every wide feature, the features at offsets in
the config's order. The deep part's logical tables (one per feature, or one a `shared` group of features uses)
are stored one physical table per embedding dimension, logical tables at row offsets in the config's order, so
that a batch needs one lookup per dimension.

The deep part's input is a list of fields, each a range of the MLP's input columns: first the univalent sparse
features' embeddings (`embedding`), grouped by dimension (ascending) and in the config's order within one; then
the multivalent features' pooled embeddings (`bag`); then the numeric inputs (`numeric`, one column each); then
the numeric inputs with embeddings of their own (`periodic`, `piecewise`, `values`: `dim` columns each); then, with a dot
interaction, one column per pair of the fields above but the plain numeric ones (`dot`, named `a*b`).
Cross layers transform the whole input and add no field. Warm start pairs the MLP's input columns by
`columns()`, so a change of order here reaches it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .plan import ModelConfig

EMBEDDED_NUMBERS = ("periodic", "piecewise", "values")  # numeric inputs with embeddings of their own
FIELD_KINDS = ("embedding", "bag", "numeric", *EMBEDDED_NUMBERS, "dot")
DOT_KINDS = ("embedding", "bag", *EMBEDDED_NUMBERS)  # the fields a dot interaction multiplies


@dataclass(frozen=True)
class WideSlot:
    """A wide feature's rows of `wide.weight`: ids 0..cardinality-1 at rows offset..offset+cardinality-1."""

    name: str
    column: int  # its ids' column of Encoded.sparse, or -1 for a multivalent feature (Batch.multi[name])
    offset: int
    cardinality: int


@dataclass(frozen=True)
class TablePlace:
    """A logical embedding table's rows of the physical table of its dimension."""

    name: str
    dim: int
    offset: int
    cardinality: int

    @property
    def parameter(self) -> str:
        """The name of the physical table's weight (`embed.<dim>.weight`)."""
        return f"embed.{self.dim}.weight"


@dataclass(frozen=True)
class Field:
    """One input of the deep part: the MLP's input columns [start, start + width)."""

    name: str  # the feature (or numeric column) it reads
    kind: str  # embedding | bag | numeric (FIELD_KINDS)
    start: int
    width: int  # the embedding's dimension; 1 for a numeric input
    column: int  # embedding: its ids' column of Encoded.sparse; numeric: its column of Encoded.dense; bag: -1
    table: str = ""  # embedding, bag: the logical table its rows come from
    combiner: str = "sum"  # bag: how a row's values pool (sum, mean, sqrtn)
    setting: tuple = ()  # periodic: (frequencies, sigma), what the columns one block embeds share

    @property
    def stop(self) -> int:
        return self.start + self.width


@dataclass(frozen=True)
class Group:
    """Consecutive fields that one operation computes: the embeddings of one physical table (one lookup), one
    bag, or the numeric inputs (one gather of Encoded.dense's columns)."""

    kind: str
    dim: int  # the physical table's dimension (embedding, bag); 1 for numeric inputs
    fields: tuple[Field, ...]

    @property
    def start(self) -> int:
        return self.fields[0].start

    @property
    def stop(self) -> int:
        return self.fields[-1].stop


@dataclass(frozen=True)
class Layout:
    wide: tuple[WideSlot, ...]
    tables: dict[str, TablePlace]  # logical table -> its place
    rows: dict[int, int]  # dimension -> rows of its physical table, dimensions ascending
    fields: tuple[Field, ...]

    @staticmethod
    def of(cfg: ModelConfig) -> Layout:
        wide, at = [], 0
        for f in cfg.wide:
            wide.append(WideSlot(f.name, f.column, at, f.cardinality))
            at += f.cardinality
        tables: dict[str, TablePlace] = {}
        rows: dict[int, int] = {}
        for t in cfg.tables:
            tables[t.name] = TablePlace(t.name, t.dim, rows.get(t.dim, 0), t.cardinality)
            rows[t.dim] = rows.get(t.dim, 0) + t.cardinality
        table = {m: t.name for t in cfg.tables for m in t.features}
        dim = {f.name: tables[table[f.name]].dim for f in cfg.deep}
        order = [("embedding", f) for d in sorted(rows) for f in cfg.deep if f.column >= 0 and dim[f.name] == d]
        order += [("bag", f) for f in cfg.deep if f.column < 0]
        fields, start = [], 0
        for kind, f in order:
            fields.append(Field(f.name, kind, start, dim[f.name], f.column, table[f.name], f.combiner))
            start += dim[f.name]
        for k, column in enumerate(cfg.dense):
            name = cfg.dense_names[k] if k < len(cfg.dense_names) else f"dense.{column}"
            fields.append(Field(name, "numeric", start, 1, column))
            start += 1
        for n in sorted(cfg.numeric, key=lambda n: n.setting):  # (one block per setting)
            setting = (n.frequencies, n.sigma) if n.kind == "periodic" else ()
            fields.append(Field(n.name, n.kind, start, n.dim, n.column, setting=setting))
            start += n.dim
        if cfg.interaction.kind == "dot":
            fields += _dot_fields(fields, start)
        return Layout(tuple(wide), tables, dict(sorted(rows.items())), tuple(fields))

    @property
    def wide_size(self) -> int:
        return sum(s.cardinality for s in self.wide)

    @property
    def width(self) -> int:
        """The MLP's input columns."""
        return self.fields[-1].stop if self.fields else 0

    def wide_slot(self, feature: str) -> WideSlot | None:
        return next((s for s in self.wide if s.name == feature), None)

    def wide_row(self, row: int) -> tuple[WideSlot, int]:
        """The wide feature a row of `wide.weight` belongs to, and the id it holds."""
        slot = next(s for s in self.wide if s.offset <= row < s.offset + s.cardinality)
        return slot, row - slot.offset

    def place_of(self, feature: str) -> TablePlace | None:
        """The place of the table a deep feature's embedding comes from (None: not a deep feature)."""
        field = next((f for f in self.fields if f.name == feature and f.table), None)
        return self.tables[field.table] if field is not None else None

    def groups(self) -> list[Group]:
        """The fields in order, consecutive embeddings of one dimension and consecutive numeric inputs together."""
        out: list[Group] = []
        for f in self.fields:
            dim = self.tables[f.table].dim if f.table else f.width if f.kind in EMBEDDED_NUMBERS else 1
            same = out and out[-1].kind == f.kind and out[-1].dim == dim and out[-1].fields[-1].setting == f.setting
            if same and f.kind != "bag":
                out[-1] = Group(f.kind, dim, (*out[-1].fields, f))
            else:
                out.append(Group(f.kind, dim, (f,)))
        return out

    def columns(self) -> list[tuple[str, str, int]]:
        """Each input column of the MLP, in order: (its field's name, its kind, its position within the field)."""
        return [(f.name, f.kind, k) for f in self.fields for k in range(f.width)]

    def dot_inputs(self) -> list[Field]:
        """The fields a dot interaction multiplies, in order (`dot` fields hold their pairs in this order)."""
        return [f for f in self.fields if f.kind in DOT_KINDS]


def _dot_fields(fields: list[Field], start: int) -> list[Field]:
    """One column per pair (i < j) of the fields a dot interaction multiplies, named `a*b`."""
    inputs = [f for f in fields if f.kind in DOT_KINDS]
    pairs = [(a, b) for i, a in enumerate(inputs) for b in inputs[i + 1 :]]
    return [Field(f"{a.name}*{b.name}", "dot", start + k, 1, -1) for k, (a, b) in enumerate(pairs)]
