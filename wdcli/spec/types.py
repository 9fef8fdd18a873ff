"""The spec language: immutable, typed objects that forbid unknown keys.

A spec is parsed once, at the edge (`wdcli.spec.loading.load_spec`), into a `Spec`. Column kinds are a tagged
union on `kind`; everything a user need not decide has a default. Cross-references between sections (a cross
naming an undeclared column, say) are checked in `wdcli.spec.references`; `load_spec` reports every problem
with its YAML line.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ----------------------------------------------------------------------------------------------- data


class Split(Strict):
    """A seeded split of the train files' rows, used for whichever of validation/test has no files of its own.
    A row's part comes from a stable hash of its key column, or of its file's name and position."""

    validation: float = Field(0.1, ge=0.0, lt=1.0, description="Fraction held out for early stopping.")
    test: float = Field(0.2, ge=0.0, lt=1.0, description="Fraction held out for the final metrics.")
    seed: int = Field(42, description="Seed of the split; the same seed gives the same rows.")
    key: str | None = Field(
        None,
        description="Split by this column's values (a user or request id), so that a "
        "group never straddles two parts; default: by file and row position.",
    )

    @model_validator(mode="after")
    def _fractions(self) -> Split:
        if self.validation + self.test >= 1.0:
            raise ValueError("validation + test must leave some rows to train on (sum < 1)")
        return self


class Data(Strict):
    train: str | list[str] = Field(description="Training file(s): CSV, Parquet or NDJSON; globs allowed.")
    validation: str | list[str] | None = Field(None, description="Validation file(s) for early stopping.")
    test: str | list[str] | None = Field(None, description="Test file(s) for the final metrics.")
    split: Split = Field(default_factory=Split, description="Used for whichever of validation/test is not given.")


class Label(Strict):
    column: str
    positive: str | int | bool | None = Field(
        None, description="The value that means 1. Omit for a 0/1 or boolean column."
    )
    weight: str | None = Field(None, description="Optional sample-weight column.")
    group: str | None = Field(None, description="Optional group column (query/user) for gAUC and ranking.")


# -------------------------------------------------------------------------------------------- columns


class _Categorical(Strict):
    """Settings shared by categorical and multivalent columns: how values become ids."""

    missing: list[str] = Field(default_factory=list, description="Values that mean missing, e.g. ['?'].")
    min_count: PositiveInt = Field(1, description="Vocabulary: keep values seen at least this often.")
    max_size: PositiveInt | None = Field(None, description="Vocabulary: keep at most this many values.")
    oov_buckets: PositiveInt = Field(1, description="Vocabulary: buckets for out-of-vocabulary values.")
    hash_buckets: PositiveInt | None = Field(None, description="Hash values into N buckets instead.")
    num_ids: PositiveInt | None = Field(None, description="Integer identity ids in [0, N) instead.")

    @model_validator(mode="after")
    def _one_encoding(self):
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
    combiner: Literal["mean", "sum", "sqrtn"] = Field("mean", description="How the deep part combines values.")
    weights: str | None = Field(None, description="Column of per-value weights, aligned with the values.")
    max_values: PositiveInt | None = Field(None, description="Keep at most this many values of a row (the first).")


class Numeric(Strict):
    kind: Literal["numeric"]
    transform: Literal["none", "standardize", "minmax", "log1p", "quantile"] = "standardize"
    quantiles: int = Field(100, ge=2, description="n_q for transform: quantile.")
    clip: tuple[float, float] | None = Field(None, description="[low, high], applied before the transform.")
    fill: Literal["mean", "median", "zero"] | float = Field("mean", description="Value used for missing.")
    missing: list[str] = Field(default_factory=list, description="Values that mean missing, e.g. ['?'].")

    @model_validator(mode="after")
    def _clip_order(self) -> Numeric:
        if self.clip is not None and self.clip[0] > self.clip[1]:
            raise ValueError("clip must be [low, high] with low <= high")
        return self


class Bucketized(Strict):
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
SPARSE_KINDS = ("categorical", "multivalent", "bucketized")


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
        return self.name or "_x_".join(self.columns)

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


# ---------------------------------------------------------------------------------------------- train


class FTRL(Strict):
    name: Literal["ftrl"]
    alpha: float = Field(0.02, gt=0)
    beta: float = Field(1.0, ge=0)
    l1: float = Field(0.0, ge=0)
    l2: float = Field(0.0, ge=0)


class Adagrad(Strict):
    name: Literal["adagrad"]
    lr: float = Field(0.05, gt=0)
    initial_accumulator: float = Field(0.1, ge=0)
    weight_decay: float = Field(0.0, ge=0)


class Adam(Strict):
    name: Literal["adam", "adamw"]
    lr: float = Field(0.001, gt=0)
    weight_decay: float = Field(0.0, ge=0)


class SGD(Strict):
    name: Literal["sgd"]
    lr: float = Field(0.05, gt=0)
    momentum: float = Field(0.0, ge=0, lt=1)


Optimizer = Annotated[FTRL | Adagrad | Adam | SGD, Field(discriminator="name")]


class EarlyStopping(Strict):
    metric: Literal["auc", "logloss"] = "auc"
    patience: int = Field(2, ge=0, description="Epochs without improvement before stopping.")


class Checkpoint(Strict):
    enabled: bool = Field(True, description="Write checkpoints, so that `train --resume` continues a killed run.")
    every_seconds: PositiveFloat | None = Field(
        60.0, description="Write one when this many seconds have passed since the last (and after every epoch)."
    )
    every_steps: PositiveInt | None = Field(None, description="Also write one every N batches.")


class TrainData(Strict):
    """How training reads its rows: all encoded in memory, or streamed from the files window by window."""

    mode: Literal["auto", "memory", "stream"] = Field(
        "auto", description="auto: each part in memory when its encoded rows fit memory_budget_mb, else streamed."
    )
    shuffle_buffer: PositiveInt = Field(1_000_000, description="Stream: rows shuffled together (one window).")
    read_batch_rows: PositiveInt = Field(250_000, description="Stream: rows read from a file at a time.")
    memory_budget_mb: PositiveInt | None = Field(
        None, description="auto: memory for encoded rows; default a quarter of the machine's memory."
    )
    readers: int | None = Field(
        None,
        ge=0,
        description="Stream: processes that read and encode windows (0: a "
        "thread); default: half the cores, up to 8, when training on a GPU, else 0.",
    )


class Train(Strict):
    epochs: PositiveInt = 10
    batch_size: PositiveInt = 512
    max_rows: PositiveInt | None = Field(None, description="Train on at most this many rows (smoke tests).")
    wide_optimizer: Optimizer = Field(default_factory=lambda: FTRL(name="ftrl"))
    deep_optimizer: Optimizer = Field(default_factory=lambda: Adagrad(name="adagrad"))
    early_stopping: EarlyStopping = Field(default_factory=EarlyStopping)
    seed: int = 0
    threads: PositiveInt | None = Field(None, description="Torch threads; default: all cores.")
    output: str = Field("runs", description="Folder of the runs, relative to the working directory.")
    checkpoint: Checkpoint = Field(default_factory=Checkpoint)
    data: TrainData = Field(default_factory=TrainData)
    device: str = Field(
        "auto",
        pattern=r"^(auto|cpu|mps|cuda(:\d+)?)$",
        description="auto (a GPU when there is one), cpu, cuda, cuda:N or mps.",
    )
    precision: Literal["fp32", "bf16"] = Field("fp32", description="bf16: autocast the MLP's matrix products.")
    log: list[Literal["mlflow", "tensorboard"]] = Field(
        default_factory=list, description="Trackers to log the run to (extras wdcli[mlflow], wdcli[tensorboard])."
    )


# ---------------------------------------------------------------------------------------------- verify


class Verify(Strict):
    """The gate `wdcli verify` (and `wdcli serve`'s reload) applies before a new model replaces a served one:
    both score the same labelled rows, and each check compares the new model with the baseline."""

    max_auc_drop: float = Field(0.005, ge=0, description="The new AUC may be at most this much below the baseline's.")
    max_logloss_increase: float = Field(0.01, ge=0, description="The new log loss may be at most this much higher.")
    max_calibration_error: float = Field(
        0.1, ge=0, description="|mean score / base rate - 1| of the new model (or the baseline's, if larger)."
    )
    max_gauc_drop: float = Field(0.005, ge=0, description="With label.group: the new gAUC's largest drop.")
    moved_by: float = Field(0.1, gt=0, lt=1, description="A row's score moved when it changed by more than this.")
    max_moved_share: float = Field(0.2, ge=0, le=1, description="The largest share of rows whose score moved.")
    max_psi: float = Field(0.2, ge=0, description="Population stability index of the scores, new vs baseline.")


# ----------------------------------------------------------------------------------------------- tune


class Range(Strict):
    """Where `wdcli tune` searches one key: exactly one of these."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True)
    uniform: tuple[float, float] | None = Field(None, description="[low, high], any value between.")
    log_uniform: tuple[PositiveFloat, PositiveFloat] | None = Field(
        None, description="[low, high], > 0, on a log scale."
    )
    int_: tuple[int, int] | None = Field(
        None, alias="int", description="[low, high], an integer between, both included."
    )
    log_int: tuple[PositiveInt, PositiveInt] | None = Field(
        None, description="[low, high], an integer, on a log scale."
    )
    choice: list[Any] | None = Field(None, min_length=1, description="One of these values (any YAML values).")

    @model_validator(mode="after")
    def _one_rule(self) -> Range:
        given = [k for k in ("uniform", "log_uniform", "int_", "log_int", "choice") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of uniform, log_uniform, int, log_int, choice")
        bounds = getattr(self, given[0])
        if given[0] != "choice" and bounds[0] > bounds[1]:
            raise ValueError("the range must be [low, high] with low <= high")
        return self


class Tune(Strict):
    space: dict[str, Range] = Field(
        default_factory=dict, description="Keys to search, by their --set paths; empty: a default space."
    )
    trials: PositiveInt = Field(20, description="Trials in the study (a resumed study runs the rest).")
    metric: Literal["auc", "logloss"] | None = Field(None, description="Default: train.early_stopping.metric.")
    prune: bool = Field(True, description="Stop trials whose validation metric trails the median of earlier ones.")
    seed: int = Field(0, description="Seed of the sampler.")


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
    def _expand_columns(cls, raw):
        """`age: numeric` is short for `age: {kind: numeric}`; `defaults` fill in each kind's settings."""
        if not isinstance(raw, dict) or not isinstance(raw.get("columns"), dict):
            return raw
        defaults = raw.get("defaults") if isinstance(raw.get("defaults"), dict) else {}
        columns = {}
        for name, col in raw["columns"].items():
            if isinstance(col, str):
                col = {"kind": col}
            if isinstance(col, dict) and isinstance(defaults.get(col.get("kind")), dict):
                col = {**defaults[col["kind"]], **col}
            columns[name] = col
        return {**raw, "columns": columns}

    # ---- derived views used by the pipeline and the model
    def sparse_columns(self) -> list[str]:
        return [n for n, c in self.columns.items() if c.kind in SPARSE_KINDS]

    def numeric_columns(self) -> list[str]:
        return [n for n, c in self.columns.items() if c.kind == "numeric"]

    def wide_features(self) -> list[str]:
        if self.wide.features is not None:
            return list(self.wide.features)
        return self.sparse_columns() + [x.key for x in self.crosses]

    def deep_embed(self) -> list[str]:
        return list(self.deep.embed) if self.deep.embed is not None else self.sparse_columns()

    def deep_dense(self) -> list[str]:
        return list(self.deep.dense) if self.deep.dense is not None else self.numeric_columns()

    def uses_wide(self) -> bool:
        return self.model in ("wide_deep", "wide")

    def uses_deep(self) -> bool:
        return self.model in ("wide_deep", "deep")

    def shared_table_of(self, column: str) -> str | None:
        for table, cols in self.deep.shared.items():
            if column in cols:
                return table
        return None
