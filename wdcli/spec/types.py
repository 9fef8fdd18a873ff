"""The spec language: immutable, typed objects that forbid unknown keys.

A spec is parsed once, at the edge (`loading.load_spec`), into a `Spec`. Column kinds are a tagged union on `kind`;
all a user need not decide has a default. How the sections refer to each other (a cross names declared columns,
...) is stated once, in the rules below: `Spec`'s methods apply them to the typed spec, `references` to the raw
data (so that a reference problem is reported with its YAML line, beside the structural ones).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from .blocks import Interaction, NumericEmbedding
from .settings import Csv, PositiveInt, ShortForm, Strict, Train, Tune, Verify
from .settings import Range as Range  # re-exported: wdcli.tune reads it from here

# ----------------------------------------------------------------------------------------------- data


class Split(Strict):
    """A split of the train files' rows, used for whichever of validation/test has no files of its own: seeded
    (a row's part from a stable hash of its key column, or of its file's name and position), or by time (the
    latest rows are test, those just before them validation; with `per`, each group's latest rows)."""

    validation: float = Field(0.1, ge=0.0, lt=1.0, description="Fraction held out for early stopping.")
    test: float = Field(0.2, ge=0.0, lt=1.0, description="Fraction held out for the final metrics.")
    seed: int = Field(42, description="Seed of the split; the same seed gives the same rows.")
    key: str | None = Field(
        None,
        description="Split by this column's values (a user or request id), so that a "
        "group never straddles two parts; default: by file and row position.",
    )
    time: str | None = Field(
        None,
        description="Split by this column's times: the latest rows are test, the ones before them validation "
        "(numbers such as epoch seconds, dates, or ISO 8601 text).",
    )
    per: str | None = Field(
        None,
        description="With time: split each value of this column (a user) by its own times: each user's latest "
        "rows are test.",
    )

    @model_validator(mode="after")
    def _fractions(self) -> Split:
        if self.validation + self.test >= 1.0:
            raise ValueError("validation + test must leave some rows to train on (sum < 1)")
        if self.time is not None and self.key is not None:
            raise ValueError(
                f"give key or time, not both: key keeps each {self.key} in one part, time splits by when rows "
                f"happened (for each {self.key}'s latest rows: per: {self.key})"
            )
        if self.per is not None and self.time is None:
            raise ValueError(f"per splits each {self.per}'s rows by time: give time: COLUMN too")
        return self


class Data(Strict):
    train: str | list[str] = Field(description="Training file(s): CSV, Parquet or NDJSON; globs allowed.")
    validation: str | list[str] | None = Field(None, description="Validation file(s) for early stopping.")
    test: str | list[str] | None = Field(None, description="Test file(s) for the final metrics.")
    split: Split = Field(default_factory=Split, description="Used for whichever of validation/test is not given.")
    csv: Csv = Field(default_factory=Csv, description="How .csv files are read, e.g. csv: {separator: ';'}.")


class Label(Strict):
    column: str
    positive: str | int | bool | None = Field(
        None, description="The value that means 1. Omit for a 0/1 or boolean column."
    )
    weight: str | None = Field(None, description="Optional sample-weight column.")
    group: str | None = Field(None, description="Optional group column (query/user) for gAUC and ranking.")


# -------------------------------------------------------------------------------------------- columns


def _min_count(value: Any) -> Any:
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return value
    raise ValueError(f"should be a whole number of 1 or more, or auto (got {value!r})")


MinCount = Annotated[int | Literal["auto"], BeforeValidator(_min_count)]


class _Categorical(ShortForm):
    """Settings shared by categorical and multivalent columns: how values become ids."""

    missing: list[str] = Field(default_factory=list, description="Values that mean missing, e.g. ['?'].")
    min_count: MinCount = Field(
        "auto",
        description="Vocabulary: keep values seen at least this often; auto: by the training rows "
        "(spec/vocabulary.py).",
    )
    max_size: PositiveInt | None = Field(None, description="Vocabulary: keep at most this many values.")
    oov_buckets: PositiveInt = Field(1, description="Vocabulary: buckets for out-of-vocabulary values.")
    hash_buckets: PositiveInt | None = Field(None, description="Hash values into N buckets instead.")
    num_ids: PositiveInt | None = Field(None, description="Integer identity ids in [0, N) instead.")

    @model_validator(mode="after")
    def _one_encoding(self) -> _Categorical:
        if self.hash_buckets is not None and self.num_ids is not None:
            raise ValueError("give hash_buckets or num_ids, not both")
        return self

    @property
    def encoding(self) -> Literal["vocab", "hash", "identity"]:
        if self.hash_buckets is not None:
            return "hash"
        if self.num_ids is not None:
            return "identity"
        return "vocab"


class Categorical(_Categorical):
    kind: Literal["categorical"]


class Multivalent(_Categorical):
    kind: Literal["multivalent"]
    separator: str | None = Field(None, description="Split a string column on this; omit for a list column.")
    combiner: Literal["mean", "sum", "sqrtn"] = Field(
        "sqrtn",
        description="How the deep part combines values (sqrtn: a list's scale does not shrink with its length).",
    )
    weights: str | None = Field(None, description="Column of per-value weights, aligned with the values.")
    max_values: PositiveInt | None = Field(None, description="Keep at most this many values of a row (the first).")


def _clip(value: Any) -> Any:
    """A numeric column's clip: null is none; what is neither [low, high], auto nor none says so once."""
    if value is None:
        return "none"
    pair = isinstance(value, list | tuple) and len(value) == 2
    if value in ("auto", "none") or (
        pair and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        return value
    raise ValueError(f"should be [low, high] of numbers, auto or none (got {value!r})")


class Numeric(ShortForm):
    kind: Literal["numeric"]
    transform: Literal["none", "standardize", "minmax", "log1p", "quantile"] = "standardize"
    quantiles: int = Field(100, ge=2, description="n_q for transform: quantile.")
    clip: Annotated[tuple[float, float] | Literal["auto", "none"] | None, BeforeValidator(_clip)] = Field(
        "auto",
        description="[low, high], applied before the statistics and the transform; auto: a standardized number the "
        "MLP reads as one input is bounded to its mean +- 5 standard deviations, one embedded periodic to the "
        "training rows' range (fitted); none or null: never.",
    )
    fill: Literal["mean", "median", "zero"] | float = Field("mean", description="Value used for missing.")
    missing: list[str] = Field(default_factory=list, description="Values that mean missing, e.g. ['?'].")

    @property
    def bounds(self) -> tuple[float, float] | None:  # the clip the spec gives (auto, none: None)
        return None if isinstance(self.clip, str) else self.clip

    @model_validator(mode="after")
    def _clip_order(self) -> Numeric:
        if self.bounds is not None and self.bounds[0] > self.bounds[1]:
            raise ValueError("clip must be [low, high] with low <= high")
        return self


class Bucketized(ShortForm):
    kind: Literal["bucketized"]
    source: str = Field(description="The numeric column to bucketize.")
    boundaries: list[float] | None = Field(None, description="Explicit, increasing bucket boundaries.")
    quantiles: int | None = Field(None, ge=2, description="Or: this many quantile buckets fitted on training data.")

    @model_validator(mode="after")
    def _one_rule(self) -> Bucketized:
        if (self.boundaries is None) == (self.quantiles is None):
            raise ValueError("give exactly one of boundaries or quantiles")
        if self.boundaries is not None:
            if not self.boundaries:
                raise ValueError("boundaries must not be empty")
            if any(nxt <= prv for prv, nxt in zip(self.boundaries, self.boundaries[1:])):
                raise ValueError("boundaries must be strictly increasing")
        return self


Column = Annotated[Numeric | Bucketized | Categorical | Multivalent, Field(discriminator="kind")]


# ------------------------------------------------------------------------------------ crosses, wide, deep


class Cross(Strict):
    columns: list[str] = Field(min_length=2, description="Two or more categorical/bucketized columns.")
    name: str | None = Field(None, description="Defaults to the column names joined by '_x_'.")
    hash_buckets: PositiveInt | None = Field(None, description="Hash the combinations into N buckets.")
    min_count: PositiveInt | None = Field(None, description="Or: a fitted vocabulary of combinations.")
    max_size: PositiveInt | None = Field(None, description="Vocabulary: keep at most this many combinations.")

    @model_validator(mode="after")
    def _one_encoding(self) -> Cross:
        if self.hash_buckets is not None and self.min_count is not None:
            raise ValueError("give hash_buckets or min_count, not both")
        if len(set(self.columns)) != len(self.columns):
            raise ValueError("a cross names each column once")
        return self

    @property
    def key(self) -> str:
        return cross_key(self.columns, self.name)

    @property
    def encoding(self) -> Literal["vocab", "hash"]:
        return "vocab" if self.min_count is not None else "hash"

    @property
    def buckets(self) -> int:
        return self.hash_buckets or 10_000


class Wide(Strict):
    features: list[str] | None = Field(
        None, description="Columns and crosses (by name) of the linear part; default: all sparse ones."
    )


class Deep(Strict):
    embed: list[str] | None = Field(None, description="Sparse columns that get embeddings; default: all.")
    dense: list[str] | None = Field(None, description="Numeric columns fed densely; default: all.")
    embedding_dim: PositiveInt = Field(8, description="Default embedding dimension.")
    embedding_dims: dict[str, PositiveInt] = Field(default_factory=dict, description="Per-column overrides.")
    shared: dict[str, list[str]] = Field(
        default_factory=dict, description="Named tables shared by columns that name the same things."
    )
    hidden: list[PositiveInt] = Field(default_factory=lambda: [256, 128, 64])
    activation: Literal["relu", "gelu", "tanh", "silu"] = "relu"
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    batch_norm: bool = False
    numeric_embedding: NumericEmbedding = Field(
        default_factory=NumericEmbedding, description="How numeric columns enter the deep part (spec/blocks.py)."
    )
    numeric_embeddings: dict[str, NumericEmbedding] = Field(
        default_factory=dict, description="Per-column overrides of numeric_embedding."
    )
    interaction: Interaction = Field(default_factory=Interaction, description="Explicit interactions of fields.")
    embedding_dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout on the embeddings' outputs.")
    members: int = Field(1, ge=1, le=32, description="MLPs on one input, each on its own loss; scored by their mean")

    def numeric_embedding_of(self, column: str) -> NumericEmbedding:
        return self.numeric_embeddings.get(column, self.numeric_embedding)


# ---------------------------------------------------------------------------------------------- rules
# Each takes plain values, so that it applies alike to the typed spec and to the raw data.

SPARSE_KINDS = ("categorical", "multivalent", "bucketized")


def kind_of(column: Any) -> Any:
    """A column's kind as written: its short form (`age: numeric`) or its `kind` key (None: neither)."""
    return column if isinstance(column, str) else column.get("kind") if isinstance(column, dict) else None


def expand_column(column: Any, defaults: dict) -> Any:
    """`age: numeric` is short for `age: {kind: numeric}`; `defaults` fill in the settings of each kind, before
    the column's own."""
    if isinstance(column, str):
        column = {"kind": column}
    kind = kind_of(column)
    if isinstance(column, dict) and isinstance(kind, str) and isinstance(defaults.get(kind), dict):
        column = {**defaults[kind], **column}
    return column


def expand_columns(raw: Any) -> Any:
    """The raw spec with every column expanded (`expand_column`); anything that is no spec as it is."""
    if not isinstance(raw, dict) or not isinstance(raw.get("columns"), dict):
        return raw
    defaults = raw["defaults"] if isinstance(raw.get("defaults"), dict) else {}
    columns = {name: expand_column(c, defaults) for name, c in raw["columns"].items()}
    # `model` unsaid, where the wide part would hold nothing (no sparse column, no cross): the deep part alone
    deep = "model" not in raw and not raw.get("crosses") and not sparse_of({n: kind_of(c) for n, c in columns.items()})
    return {**raw, "columns": columns, **({"model": "deep"} if deep else {})}


def sparse_of(kinds: dict[str, Any]) -> list[str]:
    """The sparse columns (categorical, multivalent, bucketized) of a name -> kind mapping, in its order."""
    return [name for name, kind in kinds.items() if kind in SPARSE_KINDS]


def numeric_of(kinds: dict[str, Any]) -> list[str]:
    return [name for name, kind in kinds.items() if kind == "numeric"]


def cross_key(columns: list, name: Any) -> str:
    """A cross's name: its own, or its columns' names joined by '_x_'."""
    return name if isinstance(name, str) and name else "_x_".join(str(c) for c in columns)


def wide_choices(sparse: list[str], cross_keys: list[str]) -> list[str]:
    """What the wide part may hold, and holds when `wide.features` is not given: every sparse column and cross."""
    return sparse + cross_keys


def given_or(given: list[str] | None, default: list[str]) -> list[str]:
    """A list the spec gives (`wide.features`, `deep.embed`, `deep.dense`), or its default when it gives none."""
    return list(given) if given is not None else list(default)


def has_wide(model: Any) -> bool:
    return model in ("wide_deep", "wide")


def has_deep(model: Any) -> bool:
    return model in ("wide_deep", "deep")


def table_encoding(column: dict) -> tuple[Any, ...]:
    """What columns sharing a table must agree on (a value one row of it in each): the same hash_buckets /
    num_ids, or vocabularies of as many oov_buckets (a value's id follows them; the vocabularies, made from the
    counts of all in one order, are each a prefix of the largest, whatever their min_count and max_size)."""
    hashed, ids = column.get("hash_buckets"), column.get("num_ids")
    return (hashed, ids) if hashed is not None or ids is not None else (None, None, column.get("oov_buckets", 1))


# ----------------------------------------------------------------------------------------------- spec


class Spec(Strict):
    name: str | None = Field(None, description="The run's name; defaults to the spec file's stem.")
    data: Data
    label: Label
    defaults: dict[Literal["numeric", "bucketized", "categorical", "multivalent"], dict] = Field(
        default_factory=dict, description="Settings applied to every column of a kind, before its own."
    )
    columns: dict[str, Column]
    crosses: list[Cross] = Field(default_factory=list)
    wide: Wide = Field(default_factory=Wide)
    deep: Deep = Field(default_factory=Deep)
    model: Literal["wide_deep", "wide", "deep"] = "wide_deep"
    train: Train = Field(default_factory=Train)
    verify: Verify = Field(default_factory=Verify)
    tune: Tune = Field(default_factory=Tune, description="What `wdcli tune` searches; `wdcli train` ignores it.")

    @model_validator(mode="before")
    @classmethod
    def _expand_columns(cls, raw: Any) -> Any:
        return expand_columns(raw)

    # ---- derived views used by the pipeline and the model
    def kinds(self) -> dict[str, str]:
        return {name: c.kind for name, c in self.columns.items()}

    def sparse_columns(self) -> list[str]:
        return sparse_of(self.kinds())

    def numeric_columns(self) -> list[str]:
        return numeric_of(self.kinds())

    def wide_features(self) -> list[str]:
        return given_or(self.wide.features, wide_choices(self.sparse_columns(), [x.key for x in self.crosses]))

    def deep_embed(self) -> list[str]:
        return given_or(self.deep.embed, self.sparse_columns())

    def deep_dense(self) -> list[str]:
        return given_or(self.deep.dense, self.numeric_columns())

    def interaction_kind(self, numbers: int | None = None) -> str:
        """The deep part's interaction as the model is built: dot products of fewer than two fields (each embedded
        sparse column, each number with an embedding of its own: `numbers`, once the fit has resolved `auto`;
        before, those that surely have one) are none, having nothing to multiply."""
        kind = self.deep.interaction.kind
        if numbers is None:
            numbers = sum(self.deep.numeric_embedding_of(n).embedded for n in self.deep_dense())
        fields = len(self.deep_embed()) + numbers
        return "none" if kind == "dot" and fields < 2 else kind

    def uses_wide(self) -> bool:
        return has_wide(self.model)

    def uses_deep(self) -> bool:
        return has_deep(self.model)

    def piecewise_bins(self) -> dict[str, int]:
        """The deep part's piecewise-linear bins of each numeric column that has them (fitted with the pipeline)."""
        embedded = {c: self.deep.numeric_embedding_of(c) for c in (self.deep_dense() if self.uses_deep() else [])}
        return {c: e.bins for c, e in embedded.items() if e.kind == "piecewise"}

    def auto_clipped(self) -> list[str]:
        """The numbers `clip: auto` may bound (standardized, read by the deep part): as their form resolves."""
        numbers = self.deep_dense() if self.uses_deep() else []
        columns = [(n, self.columns.get(n)) for n in numbers]
        return [n for n, c in columns if isinstance(c, Numeric) and c.clip == "auto" and c.transform == "standardize"]

    def shared_table_of(self, column: str) -> str | None:
        for table, cols in self.deep.shared.items():
            if column in cols:
                return table
        return None
