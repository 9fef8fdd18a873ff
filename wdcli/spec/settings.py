"""The sections of a spec that name no column: how its model is trained (`train`), checked before it is served
(`verify`) and tuned (`tune`), and `Strict`, the base of every section (`ShortForm`, of those the YAML may write
as their kind alone). `Spec` (spec/types.py) holds them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ShortForm(Strict):
    """A section the YAML may write as its kind alone: `interaction: dot` is `{kind: dot}`, `education:
    categorical` is `{kind: categorical}` (columns are expanded by `Spec` first, their kind's defaults joining
    them). `--set` reads this to descend into a short form (spec/overrides.py)."""

    @model_validator(mode="before")
    @classmethod
    def _short(cls, raw: Any) -> Any:
        return {"kind": raw} if isinstance(raw, str) else raw


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
    metric: Literal["auc", "logloss", "gauc"] = Field(
        "auc", description="Validation figure watched: auc, logloss, or gauc (the mean AUC of label.group's groups)."
    )
    patience: int = Field(3, ge=0, description="Epochs without improvement before stopping.")


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
        description="Stream: processes that read and encode windows; default 0, a "
        "background thread (faster than processes on every machine measured, a 16-core GPU one too).",
    )
    cache: str = Field(
        "auto",
        min_length=1,
        description="Encoded rows kept on disk and read instead of the files: auto (in <output>/.cache), off, "
        "or a folder.",
    )

    @field_validator("cache", mode="before")
    @classmethod
    def _off(cls, value: Any) -> Any:
        """YAML reads an unquoted `off` as false (and `on` as true)."""
        return {False: "off", True: "auto"}.get(value, value) if isinstance(value, bool) else value


class Schedule(ShortForm):
    """How every optimizer's step size (FTRL's alpha, the others' lr) changes over a run, as a factor of the
    spec's value. constant: 1. warmup: from 0 up to 1 over the first `warmup` epochs, then 1. cosine: the
    warm-up, then down to `min_factor` along half a cosine by the last epoch (train.epochs). plateau: multiplied
    by `factor` whenever `patience` + 1 epochs in a row bring no better early-stopping metric (as torch's
    ReduceLROnPlateau), down to `min_factor`."""

    kind: Literal["constant", "warmup", "cosine", "plateau"] = Field("constant", description="The schedule.")
    warmup: float = Field(0.0, ge=0, description="warmup, cosine: epochs (or a fraction of one) of warm-up.")
    min_factor: float = Field(0.01, ge=0, le=1, description="cosine, plateau: the smallest factor.")
    factor: float = Field(0.5, gt=0, lt=1, description="plateau: what a plateau multiplies the factor by.")
    patience: int = Field(0, ge=0, description="plateau: epochs without improvement it lets pass; the next cuts.")


SMALL_DATA = 32_768  # training rows under which `batch_size: auto` is 256, not 512: under 64 steps of 512 an epoch
# (docs/benchmarks.md: on 11,000 rows of COVID tests, 21 steps an epoch, and the validation AUC's noise stopped the
# run before it had learnt: test AUC 0.711 against LightGBM's 0.812; at 256, 20 epochs and patience 3: 0.821)


def _batch(value: Any) -> Any:
    """train.batch_size: auto or a whole number above 0, said once (not once for each of the two)."""
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value > 0):
        return value
    if isinstance(value, float) and value.is_integer() and value > 0:  # (16.0: a tune range's end, as int reads it)
        return int(value)
    raise ValueError(f"should be a whole number above 0, or auto (got {value!r})")


class Train(Strict):
    epochs: PositiveInt = 20
    batch_size: Annotated[PositiveInt | Literal["auto"], BeforeValidator(_batch)] = Field(
        "auto", description="Rows a step; auto: 256 under 32,768 training rows, else 512."
    )
    max_rows: PositiveInt | None = Field(None, description="Train on at most this many rows (smoke tests).")
    wide_optimizer: Optimizer = Field(default_factory=lambda: FTRL(name="ftrl"))
    deep_optimizer: Optimizer = Field(default_factory=lambda: Adagrad(name="adagrad"))
    early_stopping: EarlyStopping = Field(default_factory=EarlyStopping)
    schedule: Schedule = Field(default_factory=Schedule, description="How step sizes change over the run.")
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
    metric: Literal["auc", "logloss", "gauc"] | None = Field(None, description="Default: train.early_stopping.metric.")
    prune: bool = Field(True, description="Stop trials whose validation metric trails the median of earlier ones.")
    seed: int = Field(0, description="Seed of the sampler.")


SEPARATOR_WORDS = {"tab": "\t", "\\t": "\t"}  # how a tab may be written where typing one is awkward


def separator_of(text: str) -> str:
    """A CSV field separator as given: one character, or 'tab' (or a backslash and t) for a tab."""
    sep = SEPARATOR_WORDS.get(text, text)
    if len(sep) != 1 or sep in '\r\n"':
        raise ValueError(f"a separator is one character such as ';' or '|', or tab (not {text!r})")
    return sep


class Csv(Strict):
    """How .csv files are read (TSV files are separated by tabs)."""

    separator: str = Field(",", description="The field separator: ',' (default), ';', '|', or tab.")

    @field_validator("separator")
    @classmethod
    def _one_character(cls, value: str) -> str:
        return separator_of(value)


def batch_rows(train: Train, rows: int) -> int:
    """The rows of a step: train.batch_size, or `auto`'s for `rows` training rows (every process's together)."""
    if train.batch_size != "auto":
        return train.batch_size
    return 256 if rows < SMALL_DATA else 512
