"""The model's configuration, compiled from a spec and its fitted pipeline: plain data, no torch.

The checkpoint carries this config, so loading rebuilds the model from data (`wdcli.model.WideDeep`).
`validate` prints it as the plan, with the parameter count of each part.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import cached_property

from ..features import FittedPipeline
from ..features.numbers import by_its_values
from ..spec import Spec
from ..spec.blocks import NumericEmbedding
from .layout import DOT_KINDS, Layout

MODELS = ("wide_deep", "wide", "deep")  # spec.types' `model`
COMBINERS = ("sum", "mean", "sqrtn")  # spec.types' multivalent `combiner`


@dataclass(frozen=True)
class SparseInput:
    name: str
    cardinality: int
    column: int  # index into Encoded.sparse, or -1 for a multivalent feature (Encoded.multi[name])
    combiner: str = "sum"


@dataclass(frozen=True)
class Table:
    name: str
    cardinality: int
    dim: int
    features: list[str]


@dataclass(frozen=True)
class EmbeddedNumeric:
    """A numeric input of the deep part with an embedding of its own (spec: deep.numeric_embedding)."""

    name: str
    column: int  # index into Encoded.dense
    kind: str  # periodic | piecewise | values
    dim: int
    frequencies: int = 0  # periodic
    sigma: float = 0.0  # periodic
    edges: list[float] = field(default_factory=list)  # piecewise: its bins' edges, in the model's input's units
    known: list[float] = field(default_factory=list)  # values: the values it has vectors for, in the same units

    @property
    def setting(self) -> tuple:
        """What the columns one block embeds together share (piecewise: each column has its own edges)."""
        return (self.kind, self.dim, self.frequencies, self.sigma)


@dataclass(frozen=True)
class Interaction:
    """Explicit interactions of the deep part's fields (spec: deep.interaction)."""

    kind: str = "none"  # none | dot | cross
    dim: int = 0  # dot: the width fields meet at
    layers: int = 0  # cross
    rank: int = 0  # cross: 0 = a full W


MANY_PAIRS = 1_000  # dot products of more pairs of fields than this (46 fields) get a note from `validate`


@dataclass(frozen=True)
class ModelConfig:
    model: str  # wide_deep | wide | deep
    wide: list[SparseInput] = field(default_factory=list)
    deep: list[SparseInput] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    dense: list[int] = field(default_factory=list)  # indices into Encoded.dense of the deep part's numeric inputs
    hidden: list[int] = field(default_factory=list)
    activation: str = "relu"
    dropout: float = 0.0
    batch_norm: bool = False
    dense_names: list[str] = field(default_factory=list)  # the numeric inputs' names (model.json before: none)
    numeric: list[EmbeddedNumeric] = field(default_factory=list)  # numeric inputs with embeddings of their own
    interaction: Interaction = field(default_factory=Interaction)
    embedding_dropout: float = 0.0
    members: int = 1  # MLPs over the deep part's input, each trained on its own loss, their outputs averaged

    @cached_property
    def layout(self) -> Layout:
        """Where every weight sits and what the deep part's input columns hold (`wdcli.model.layout`)."""
        return Layout.of(self)

    @property
    def has_deep(self) -> bool:
        """Whether the model has a deep part: one not `wide` with any input (embedded columns or numbers; numbers
        alone make one too)."""
        return self.model != "wide" and bool(self.deep or self.dense or self.numeric)

    def dot_cost(self) -> str | None:
        """What dot products of many fields cost the MLP (F fields: F (F - 1) / 2 inputs), past MANY_PAIRS."""
        pairs = sum(f.kind == "dot" for f in self.layout.fields) if self.has_deep else 0
        if pairs <= MANY_PAIRS:
            return None
        return (
            f"dot products of the deep part's {len(self.layout.dot_inputs()):,} fields add {pairs:,} inputs to its "
            f"MLP (of {self.layout.width:,}); if that is more than you meant, set deep.interaction: none or embed "
            "fewer columns (deep.embed)"
        )

    @property
    def n_dense(self) -> int:
        return len(self.dense)

    @property
    def wide_size(self) -> int:
        return self.layout.wide_size

    @property
    def deep_input_width(self) -> int:
        return self.layout.width

    def param_counts(self) -> dict[str, int]:
        """Parameters of each part: the wide weights (+ the shared bias), embeddings (the numeric columns' too),
        the interaction block, and the MLP."""
        wide = self.wide_size if self.model != "deep" else 0
        embeddings = sum(t.cardinality * t.dim for t in self.tables) if self.model != "wide" else 0
        embeddings += sum(_numeric_params(n) for n in self.numeric) if self.model != "wide" else 0
        mlp = interaction = 0
        if self.has_deep:
            width = self.deep_input_width
            interaction = _interaction_params(self.interaction, self.layout, width)
            for h in self.hidden:
                mlp += width * h + h + (2 * h if self.batch_norm else 0)
                width = h
            mlp += width  # the output layer (no bias: the model has one shared bias)
            mlp *= self.members
        counts = {"wide": wide, "embeddings": embeddings, "mlp": mlp, "bias": 1}
        if interaction:
            counts["interaction"] = interaction
        return {**counts, "total": sum(counts.values())}

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict) -> ModelConfig:
        """The config saved as `to_dict`, checked (ValueError naming the keys out of range): a model is built
        on its word, so a size, kind or index it may not have is refused before anything is allocated."""
        config = ModelConfig(
            model=d["model"],
            wide=[SparseInput(**x) for x in d["wide"]],
            deep=[SparseInput(**x) for x in d["deep"]],
            tables=[Table(**t) for t in d["tables"]],
            dense=list(d["dense"]),
            hidden=list(d["hidden"]),
            activation=d["activation"],
            dropout=d["dropout"],
            batch_norm=d["batch_norm"],
            dense_names=list(d.get("dense_names", [])),
            numeric=[EmbeddedNumeric(**x) for x in d.get("numeric", [])],
            interaction=Interaction(**d.get("interaction", {})),
            embedding_dropout=float(d.get("embedding_dropout", 0.0)),
            members=d.get("members", 1),
        )
        if problems := config.problems():
            raise ValueError("; ".join(problems[:5]))
        return config

    def problems(self) -> list[str]:
        """What is out of range or unknown in this config."""
        out = [] if self.model in MODELS else [f"model: unknown kind {self.model!r} (one of {', '.join(MODELS)})"]
        for part in ("wide", "deep"):
            for i, f in enumerate(getattr(self, part)):
                if not _count(f.cardinality):
                    out.append(f"{part}[{i}].cardinality: {f.cardinality!r} is not a positive integer")
                if not _count(f.column + 2 if isinstance(f.column, int) else None):
                    out.append(f"{part}[{i}].column: {f.column!r} is not a column index (or -1)")
                if f.combiner not in COMBINERS:
                    out.append(f"{part}[{i}].combiner: unknown {f.combiner!r} (one of {', '.join(COMBINERS)})")
        for i, t in enumerate(self.tables):
            if not (_count(t.cardinality) and _count(t.dim)):
                out.append(f"tables[{i}]: cardinality {t.cardinality!r} and dim {t.dim!r} should be positive integers")
        out += [
            f"deep: feature '{f.name}' has no table"
            for f in self.deep
            if not any(f.name in t.features for t in self.tables)
        ]
        out += [
            f"dense[{i}]: {j!r} is not a column index"
            for i, j in enumerate(self.dense)
            if not _count(j + 1 if isinstance(j, int) else None)
        ]
        out += [f"hidden[{i}]: {h!r} is not a positive integer" for i, h in enumerate(self.hidden) if not _count(h)]
        if not isinstance(self.activation, str):
            out.append(f"activation: {self.activation!r} is not a name")
        if not (isinstance(self.dropout, int | float) and 0 <= self.dropout < 1):
            out.append(f"dropout: {self.dropout!r} is not in [0, 1)")
        if not (_count(self.members) and self.members <= 32):
            out.append(f"members: {self.members!r} is not an integer from 1 to 32")
        if not isinstance(self.batch_norm, bool):
            out.append(f"batch_norm: {self.batch_norm!r} is not true or false")
        return out


def _count(x: object) -> bool:
    """A positive integer (not a bool)."""
    return isinstance(x, int) and not isinstance(x, bool) and x >= 1


def _numeric_params(n: EmbeddedNumeric) -> int:
    if n.kind == "values":  # (a vector per value known, one for the others, the value's own vector and a bias)
        return (len(n.known) + 3) * n.dim
    inputs = 2 * n.frequencies if n.kind == "periodic" else max(len(n.edges) - 1, 1)
    return inputs * n.dim + n.dim + (n.frequencies if n.kind == "periodic" else 0)


def _interaction_params(i: Interaction, layout: Layout, width: int) -> int:
    if i.kind == "cross":
        per_layer = 2 * width * i.rank if i.rank else width * width
        return i.layers * (per_layer + width)
    if i.kind == "dot":  # (one projection per group of fields of another width)
        return sum(g.dim * i.dim for g in layout.groups() if g.kind in DOT_KINDS and g.dim != i.dim)
    return 0


def build_config(fitted: FittedPipeline) -> ModelConfig:
    spec = fitted.spec
    column = {name: i for i, name in enumerate(fitted.univalent)}

    def sparse_input(name: str, combiner: str = "sum") -> SparseInput:
        return SparseInput(name, fitted.cardinality(name), column.get(name, -1), combiner)

    wide = [sparse_input(n) for n in spec.wide_features()] if spec.uses_wide() else []
    d = spec.deep
    if not spec.uses_deep():
        return ModelConfig(spec.model, wide, activation=d.activation, dropout=d.dropout, batch_norm=d.batch_norm)
    embed = spec.deep_embed()
    deep = [sparse_input(name, getattr(spec.columns[name], "combiner", "sum")) for name in embed]
    tables = _tables(fitted, embed)
    forms = numeric_forms(spec, fitted)
    scalar = [n for n, e in forms.items() if not e.embedded]
    numeric = [_embedded(fitted, n, e) for n, e in forms.items() if e.embedded]
    interaction = _interaction(spec, len(numeric))
    return ModelConfig(
        spec.model,
        wide,
        deep,
        tables,
        [fitted.dense.index(n) for n in scalar],
        list(d.hidden),
        d.activation,
        d.dropout,
        d.batch_norm,
        scalar,
        numeric,
        interaction,
        d.embedding_dropout,
        d.members,
    )


def numeric_forms(spec: Spec, fitted: FittedPipeline) -> dict[str, NumericEmbedding]:
    """Each number of the deep part and its embedding as the model builds it: the spec's, `auto` resolved by what
    the fit found in the column (a spike, an uneven effect)."""
    return {
        n: spec.deep.numeric_embedding_of(n).resolved(f.spike, f.uneven, by_its_values(f, spec.columns[n]), f.flag)
        for n in spec.deep_dense()
        if (f := fitted.numeric(n))
    }


def _interaction(spec: Spec, numbers: int) -> Interaction:
    """The spec's interaction as built (`Spec.interaction_kind`: dot products of fewer than two fields are none;
    `numbers`: how many numeric columns have an embedding)."""
    d = spec.deep
    kind = spec.interaction_kind(numbers)
    if kind == "dot":
        return Interaction("dot", dim=d.interaction.dim or d.embedding_dim)
    if kind == "cross":
        return Interaction("cross", layers=d.interaction.layers, rank=d.interaction.rank or 0)
    return Interaction()


def _tables(fitted: FittedPipeline, embed: list[str]) -> list[Table]:
    """The logical embedding tables: each shared table (its members that are embedded), then each embedded
    column's own."""
    spec, tables = fitted.spec, []
    for table, members in spec.deep.shared.items():
        members = [m for m in members if m in embed]
        if members:
            dim = spec.deep.embedding_dims.get(table, spec.deep.embedding_dim)
            tables.append(Table(table, max(fitted.cardinality(m) for m in members), dim, members))
    for name in embed:
        if spec.shared_table_of(name) is None:
            dim = spec.deep.embedding_dims.get(name, spec.deep.embedding_dim)
            tables.append(Table(name, fitted.cardinality(name), dim, [name]))
    return tables


def _embedded(fitted: FittedPipeline, name: str, e: NumericEmbedding) -> EmbeddedNumeric:
    column = fitted.dense.index(name)
    if e.kind == "periodic":
        return EmbeddedNumeric(name, column, e.kind, e.dim, e.frequencies, e.sigma or 0.0)
    if e.kind == "values":
        return EmbeddedNumeric(name, column, e.kind, e.dim, known=list(fitted.numeric(name).known))
    return EmbeddedNumeric(name, column, e.kind, e.dim, edges=list(fitted.numeric(name).edges))


def plan_rows(fitted: FittedPipeline, config: ModelConfig) -> list[tuple[str, str, str, str, str]]:
    """The plan `wdcli validate` prints, a row per feature: name, kind, ids (or transform), whether the wide part
    holds it, and what the deep part makes of it."""
    spec = fitted.spec
    wide = {f.name for f in config.wide}
    tables = {f: t for t in config.tables for f in t.features}
    dense = {fitted.dense[i] for i in config.dense}
    auto = {n for n in fitted.dense if spec.deep.numeric_embedding_of(n).kind == "auto"}
    why = {n: " (auto: a spike)" if fitted.numeric(n).spike else " (auto: an uneven effect)" for n in auto}
    valued = {n.name for n in config.numeric if n.kind == "values" and n.name in auto}
    why |= {
        n: f" (auto: {'a flag with missing values' if fitted.numeric(n).flag else 'values that name things'})"
        for n in valued
    }
    forms = numeric_forms(spec, fitted) if spec.uses_deep() else {}  # (clip: auto's bounds, and what they are)
    clips = {n: " (auto: the training range)" if forms[n].kind == "periodic" else " (auto: mean ± 5 sd)" for n in forms}
    clips = {n: c for n, c in clips.items() if n in spec.auto_clipped() and fitted.numeric(n).clip is not None}
    known = {n.name: f", {len(n.known):,} values" for n in config.numeric if n.kind == "values"}
    embedded = {n.name: f"{n.kind} dim {n.dim}" + known.get(n.name, "") + why.get(n.name, "") for n in config.numeric}
    rows = []
    for name, f in fitted.features.items():
        col = spec.columns.get(name)
        kind = col.kind if col is not None else "cross" + (" (multi)" if f.multivalent else "")
        if name in tables:
            t = tables[name]
            deep = f"dim {t.dim}" + (f" (table {t.name})" if len(t.features) > 1 else "")
        else:
            deep = "dense" if name in dense else embedded.get(name, "")
        rows.append((name, kind, f.describe() + clips.get(name, ""), "yes" if name in wide else "", deep))
    return rows
