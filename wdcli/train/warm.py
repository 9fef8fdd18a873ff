"""Warm start: a new run begins from a previous run's weights and optimizer state instead of from scratch, as
the paper's models are, each trained on new data from the one before.

The new pipeline is fitted on the new data, so a vocabulary may gain, lose and reorder values. Each sparse
feature's ids are matched to the previous run's (`id_map`): vocabulary values by value, crosses' vocabularies
by combination hash, hashed features and hashed crosses by bucket (when the bucket count is the same), identity
ids by id, buckets by identical interval; id 0 (missing) always, out-of-vocabulary buckets when their number is
unchanged. For every matched id the wide weight, the embedding row and their optimizer state (FTRL's z and n,
AdaGrad's sums, Adam's moments, SGD's velocity) are copied; other ids keep their fresh initialisation. The
MLP's layers are paired in order and copied where their shapes match; the first layer's input columns are
copied by the feature they read (the layouts' `columns()`), so adding or removing a deep feature keeps the rest.
Any other parameter (of a block: dot projections, numeric embeddings, cross layers) is copied whole where its
name and shape match and the deep part's groups of fields are the same (a block keeps its parameters by its
group's position: a new group before it would hand it another group's). Each number keeps the form
`numeric_embedding: auto` gave it in the previous run (`kept_numbers`, applied to the new fit before the model
is built).

    previous = Previous(path, fitted, config, model, optimizer_state)   # read by wdcli.run from an artifact
    report = warm_start(previous, model, optimizers, fitted)           # before the first step: a WarmReport

The report says per feature how many ids were carried, are new and were dropped, and how the new run splits its
rows unlike the previous one (a split by time learned again on new data moves its cut: `data.split_change`).
Optimizer hyperparameters come from the new spec; the state copied is the previous run's last epoch's.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import polars as pl
import torch

from ..features import FittedPipeline
from ..features.fitted import (
    Buckets,
    Feature,
    Hashed,
    HashedCross,
    Identity,
    Numeric,
    Sparse,
    Vocabulary,
    VocabularyCross,
)
from ..features.numbers import by_its_values, clip_of, known_in
from ..metrics import Carried, WarmReport
from ..model.layout import EMBEDDED_NUMBERS, Layout
from ..model.optim import PartOptimizer, init_state
from ..model.plan import ModelConfig, numeric_forms
from ..model.widedeep import WideDeep
from ..spec.types import Numeric as NumericSpec


@dataclass(frozen=True)
class Previous:
    """What a warm start reads from a previous run: plain data and the rebuilt model."""

    path: str
    fitted: FittedPipeline
    config: ModelConfig
    model: WideDeep
    optimizer: dict[str, torch.Tensor] = field(default_factory=dict)  # '<parameter>.<key>' (model.optim's encoding)
    split: str = ""  # how the new run splits its rows unlike this one, in words (`data.split_change`; "" alike)


@dataclass(frozen=True)
class IdMap:
    """Which new ids take which old ids' rows, and the counts a report shows (id 0, missing, not counted)."""

    new_ids: np.ndarray
    old_ids: np.ndarray
    carried: int
    new: int
    dropped: int
    note: str = ""


# ------------------------------------------------------------------------------------------------ ids


def id_map(old: Feature | None, new: Sparse) -> IdMap:
    """The ids of `new` that `old` has rows for, matched by what they stand for."""
    nothing = np.zeros(0, dtype=np.int64)
    if old is None:
        return IdMap(nothing, nothing, 0, new.cardinality - 1, 0, "new feature")
    if isinstance(old, Numeric):  # (no ids, no rows)
        return IdMap(nothing, nothing, 0, new.cardinality - 1, 0, f"was numeric, now {new.kind}: starts fresh")
    if old.kind != new.kind:
        return _pairs(old, new, [0], [0], f"was {old.kind}, now {new.kind}: starts fresh")
    if isinstance(new, Vocabulary) and isinstance(old, Vocabulary):
        special = list(range(1 + new.oov)) if old.oov == new.oov else [0]
        a, b = _match(old.values, new.values, pl.String)
        return _pairs(old, new, special + list(b + 1 + new.oov), special + list(a + 1 + old.oov))
    if isinstance(new, VocabularyCross) and isinstance(old, VocabularyCross):
        if new.columns != old.columns:
            return _pairs(old, new, [0], [0], "crosses other columns: starts fresh")
        a, b = _match(old.hashes, new.hashes, pl.UInt64)
        return _pairs(old, new, [0, 1, *(b + 2)], [0, 1, *(a + 2)])
    if isinstance(new, (Hashed, HashedCross)) and isinstance(old, (Hashed, HashedCross)):
        if new.buckets != old.buckets:
            return _pairs(old, new, [0], [0], f"{old.buckets} buckets, now {new.buckets}: starts fresh")
        if isinstance(new, HashedCross) and isinstance(old, HashedCross) and new.columns != old.columns:
            return _pairs(old, new, [0], [0], "crosses other columns: starts fresh")
        ids = list(range(new.cardinality))
        return _pairs(old, new, ids, ids)
    if isinstance(new, Identity) and isinstance(old, Identity):
        ids = list(range(min(old.cardinality, new.cardinality)))
        return _pairs(old, new, ids, ids)
    if isinstance(new, Buckets) and isinstance(old, Buckets):  # the same interval, by its bounds

        def intervals(b: list[float]) -> list[tuple[float, float]]:
            edges = [-np.inf, *b, np.inf]
            return list(zip(edges[:-1], edges[1:]))

        where = {iv: i + 1 for i, iv in enumerate(intervals(old.boundaries))}
        pairs = [(i + 1, where[iv]) for i, iv in enumerate(intervals(new.boundaries)) if iv in where]
        return _pairs(old, new, [0, *(n for n, _ in pairs)], [0, *(o for _, o in pairs)])
    raise TypeError(f"no id map for {type(new).__name__}")  # pragma: no cover - every sparse kind is above


def _match(old: list, new: list, dtype) -> tuple[np.ndarray, np.ndarray]:
    """Positions (in old, in new) of the values both lists hold."""
    a = pl.DataFrame({"v": pl.Series(old, dtype=dtype), "a": np.arange(len(old), dtype=np.int64)})
    b = pl.DataFrame({"v": pl.Series(new, dtype=dtype), "b": np.arange(len(new), dtype=np.int64)})
    both = a.join(b, on="v", how="inner")
    return both["a"].to_numpy(), both["b"].to_numpy()


def _pairs(old: Sparse, new: Sparse, new_ids, old_ids, note: str = "") -> IdMap:
    n, o = np.asarray(new_ids, dtype=np.int64), np.asarray(old_ids, dtype=np.int64)
    carried = int((n > 0).sum())
    return IdMap(n, o, carried, new.cardinality - 1 - carried, old.cardinality - 1 - carried, note)


# ----------------------------------------------------------------------------------------- the model


class _Copier:
    """Copies rows (or all) of a previous parameter and its optimizer state into a new one."""

    def __init__(self, previous: Previous, model: WideDeep, optimizers: list[PartOptimizer]):
        self.old = dict(previous.model.named_parameters())
        self.old_buffers = dict(previous.model.named_buffers())
        self.new = dict(model.named_parameters())
        self.new_buffers = dict(model.named_buffers())
        self.old_state = previous.optimizer
        names = {id(p): n for n, p in self.new.items()}
        self.state = {names[id(p)]: s for opt in optimizers for p, s in opt.state.items()}

    @torch.no_grad()
    def rows(self, new: str, old: str, new_rows: np.ndarray, old_rows: np.ndarray) -> None:
        if len(new_rows) == 0:
            return
        n, o = torch.from_numpy(new_rows), torch.from_numpy(old_rows)
        p = self.new[new]
        p[n] = self.old[old][o].to(p.dtype)
        for key, value in self.state.get(new, {}).items():
            saved = self.old_state.get(f"{old}.{key}")
            if saved is None:
                continue
            if isinstance(value, torch.Tensor) and value.shape == p.shape and saved.shape[1:] == p.shape[1:]:
                value[n] = saved[o].to(value.dtype)
            elif not isinstance(value, torch.Tensor) or value.dim() == 0:  # a step count
                self._scalar(new, key, saved)

    @torch.no_grad()
    def whole(self, new: str, old: str) -> bool:
        """Copy a parameter (or buffer) and its state whole when the shapes match; True if copied."""
        if new in self.new_buffers:
            if old in self.old_buffers and self.old_buffers[old].shape == self.new_buffers[new].shape:
                self.new_buffers[new].copy_(self.old_buffers[old])
                return True
            return False
        if old not in self.old or self.old[old].shape != self.new[new].shape:
            return False
        self.new[new].copy_(self.old[old])
        for key, value in self.state.get(new, {}).items():
            saved = self.old_state.get(f"{old}.{key}")
            if saved is None:
                continue
            if isinstance(value, torch.Tensor) and value.dim() and saved.shape == value.shape:
                value.copy_(saved)
            elif not isinstance(value, torch.Tensor) or value.dim() == 0:
                self._scalar(new, key, saved)
        return True

    def _scalar(self, new: str, key: str, saved: torch.Tensor) -> None:
        value = self.state[new][key]
        self.state[new][key] = int(saved.item()) if isinstance(value, int) else saved.to(value.dtype).clone()


def warm_start(
    previous: Previous,
    model: WideDeep,
    optimizers: list[PartOptimizer],
    fitted: FittedPipeline,
    kept: dict[str, str] | None = None,
) -> WarmReport:
    """Initialise a new model and its optimizers (before the first step) from a previous run; returns what was
    carried: per feature the ids carried, new and dropped (and a note), the MLP's layers, the optimizer state.
    `kept`: the numbers whose auto forms came from the previous run against the new rows' (`kept_numbers`)."""
    for opt in optimizers:
        init_state(opt)
    copy = _Copier(previous, model, optimizers)
    maps = {
        name: id_map(previous.fitted.features.get(name), f)
        for name, f in fitted.features.items()
        if not isinstance(f, Numeric)
    }
    copy.whole("bias", "bias")
    _copy_tables(copy, previous.config.layout, model, fitted, maps)
    deep = model.cfg.has_deep and previous.config.has_deep
    mlp = _copy_mlp(copy, previous, model, fitted) if deep else "fresh (no deep part before)"
    # any other part (a block: dot projections, numeric embeddings, cross layers), whole, where the shape is the
    # same and so are the deep part's groups of fields (a block's parameters are kept by its group's position)
    blocks = [n for n in copy.new if n != "bias" and not n.startswith(("wide.", "embed.", "mlp.", "out.", "members."))]
    if blocks and deep and _blocks_by(previous.config.layout) != _blocks_by(model.layout):
        mlp += "; the blocks fresh (the deep part's groups of fields changed)"
        blocks = []
    for name in blocks:
        copy.whole(name, name)
    features = {name: Carried(m.carried, m.new, m.dropped, m.note) for name, m in maps.items()}
    for name, f in previous.fitted.features.items():
        if name not in fitted.features and not isinstance(f, Numeric):
            features[name] = Carried(0, 0, f.cardinality - 1, "no longer a feature")
    optimizer = "carried" if previous.optimizer else "fresh (the previous run kept none)"
    return WarmReport(previous.path, features, mlp, optimizer, previous.split, kept or {})


def kept_numbers(previous: Previous, fitted: FittedPipeline) -> tuple[FittedPipeline, dict[str, str]]:
    """The new fit with what `numeric_embedding: auto` reads of a number (a spike, an uneven effect) taken from
    the previous run where auto chose the number's form in both runs and the new rows alone would choose
    another, so that a warm start keeps the form its weights were trained in (a number near the uneven test's
    threshold can be marked on one day's rows and not on the next's, and its embedding, with every block, would
    start fresh). Also those numbers, each with its form kept, in words."""
    spec, before = fitted.spec, previous.fitted.spec
    features, kept = dict(fitted.features), {}
    for name, now in numeric_forms(spec, fitted).items():
        old, new = previous.fitted.features.get(name), fitted.numeric(name)
        if not (isinstance(old, Numeric) and name in before.deep_dense()):
            continue
        kinds = {spec.deep.numeric_embedding_of(name).kind, before.deep.numeric_embedding_of(name).kind}
        if not kinds <= {"auto", "values"}:
            continue
        column = spec.columns[name]
        assert isinstance(column, NumericSpec)
        was = spec.deep.numeric_embedding_of(name).resolved(old.spike, old.uneven, by_its_values(old, column), old.flag)
        if kinds != {"auto"} and not was.kind == now.kind == "values":  # (a form is kept only as auto chose it)
            continue
        clip = clip_of(column, new, was.kind if name in spec.auto_clipped() else None)  # (as the form kept reads it)
        flags = {"spike": old.spike, "uneven": old.uneven, "named": old.named, "flag": old.flag, "clip": clip}
        # the previous run's values, where this run's transform puts them (its mean and spread are this run's)
        known = known_in(old, new.model_copy(update={"clip": clip})) if was.kind == "values" else []
        if was == now and (now.kind != "values" or _same_values(known, new.known)):
            continue
        features[name] = new.model_copy(update={**flags, "known": known})
        why = "a spike" if old.spike else "values that name things" if was.kind == "values" else "an uneven effect"
        why = "a flag with missing values" if old.flag else why
        if was == now:  # (values: the same form, other values)
            kept[name] = (
                f"its {len(old.known):,} values as before: a value these rows add reads as one it does not know"
            )
        elif now.kind == "none":
            kept[name] = f"embedded as before ({why}): these rows alone would leave it plain"
        elif was.kind == "none":
            kept[name] = "plain as before: these rows alone would embed it"
        elif "values" in (was.kind, now.kind):
            kept[name] = f"embedded {was.kind} as before ({why}): these rows alone would make it {now.kind}"
        else:
            kept[name] = f"embedded as before at sigma {was.sigma:g} ({why}): these rows alone would take {now.sigma:g}"
    return (replace(fitted, features=features) if kept else fitted), kept


def _same_values(a: list[float], b: list[float]) -> bool:
    """Whether two lists of known values are one, each value matching the other's as the model matches them."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return len(x) == len(y) and bool((np.abs(x - y) <= 1e-6 * np.maximum(np.abs(y), 1.0)).all())


def _blocks_by(layout: Layout) -> list[tuple]:
    """What the blocks' parameters are kept by: the deep part's groups of fields in order (a dot projection and a
    numeric embedding each belong to one group, by its position), with the columns a numeric embedding reads."""
    numeric = EMBEDDED_NUMBERS
    return [(g.kind, g.dim, [f.name for f in g.fields] if g.kind in numeric else []) for g in layout.groups()]


def _copy_tables(copy: _Copier, old_layout: Layout, model: WideDeep, fitted: FittedPipeline, maps: dict) -> None:
    """The wide weights and embedding rows of every id matched, each at its place in the two layouts."""
    layout = model.layout
    for slot in layout.wide:
        was = old_layout.wide_slot(slot.name)
        if was is not None:
            m = maps[slot.name]
            copy.rows("wide.weight", "wide.weight", m.new_ids + slot.offset, m.old_ids + was.offset)
    for t in model.cfg.tables:
        member = max(t.features, key=lambda f: fitted.cardinality(f))
        place, old = layout.tables[t.name], old_layout.place_of(member)
        if old is not None and place.dim == old.dim:
            m = maps[member]
            copy.rows(place.parameter, old.parameter, m.new_ids + place.offset, m.old_ids + old.offset)


def _copy_mlp(copy: _Copier, previous: Previous, model: WideDeep, fitted: FittedPipeline) -> str:
    """Pair the Linear (and batch-norm) layers in order; copy those whose shapes match. The first layer's input
    columns are copied by the feature they read. Returns what was copied, in words. Of several members
    (deep.members), the same: where the previous model had as many; else they start fresh."""
    k, was = model.cfg.members, previous.model.cfg.members
    if k != was:
        return f"fresh (members: {was} before, {k} now)"
    if k > 1:  # (packed: the first layer's rows are the members' blocks of rows, its columns the features)
        both = "members.first.weight" in copy.old and "members.first.weight" in copy.new  # (hidden: [] has none)
        first = both and _copy_first(copy, "members.first", "members.first", previous, model, fitted)
        rest = [n for n in [*copy.new, *copy.new_buffers] if n.startswith("members.") and ".first." not in n]
        carried = sum(copy.whole(n, n) for n in rest)
        return f"the first layer {'copied' if first else 'fresh'}, {carried} of {len(rest)} other parts, in {k} members"

    def layers(m: WideDeep, kind) -> list[str]:
        names = [f"mlp.{i}" for i, layer in enumerate(m.mlp.children()) if isinstance(layer, kind)]
        return names + (["out"] if kind is torch.nn.Linear else [])

    old_lin, new_lin = layers(previous.model, torch.nn.Linear), layers(model, torch.nn.Linear)
    copied = 0
    for i, (o, n) in enumerate(zip(old_lin, new_lin)):
        if i == 0 and n != "out" and o != "out":
            copied += _copy_first(copy, o, n, previous, model, fitted)
        elif all(copy.whole(f"{n}.{p}", f"{o}.{p}") for p in ("weight", "bias") if f"{n}.{p}" in copy.new):
            copied += 1
    for o, n in zip(layers(previous.model, torch.nn.BatchNorm1d), layers(model, torch.nn.BatchNorm1d)):
        for key in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
            copy.whole(f"{n}.{key}", f"{o}.{key}")
    return f"{copied} of {len(new_lin)} layers copied"


@torch.no_grad()
def _copy_first(copy: _Copier, old: str, new: str, previous: Previous, model: WideDeep, fitted: FittedPipeline) -> int:
    """The first layer: its rows are its outputs, its columns the features it reads; copy the columns of the
    features both models feed it (when both have the same width out). 1 if anything was copied."""
    w, old_w = copy.new[f"{new}.weight"], copy.old[f"{old}.weight"]
    if w.shape[0] != old_w.shape[0]:
        return 0
    where = {c: j for j, c in enumerate(previous.config.layout.columns())}
    pairs = [(j, where[c]) for j, c in enumerate(model.layout.columns()) if c in where]
    if not pairs:
        return 0
    cols, old_cols = (torch.tensor(x) for x in zip(*pairs))
    copy.whole(f"{new}.bias", f"{old}.bias")
    w[:, cols] = old_w[:, old_cols]
    for key, value in copy.state.get(f"{new}.weight", {}).items():
        saved = copy.old_state.get(f"{old}.weight.{key}")
        if saved is None:
            continue
        if isinstance(value, torch.Tensor) and value.dim() == 2 and saved.dim() == 2:
            value[:, cols] = saved[:, old_cols].to(value.dtype)
        else:
            copy._scalar(f"{new}.weight", key, saved)
    return 1
