"""The drafted spec as YAML whose comments say why each choice was made."""

from __future__ import annotations

import numpy as np
import polars as pl
import yaml

from ..features.hashing import hash_ints
from ..features.numbers import spiked, spread_rows, uneven_column
from ..spec.vocabulary import auto_min_count
from .held import drafted_split
from .label import positive_of
from .profile import MARKERS, MIN_BUCKET_GAIN, buckets_for

TYPE_NOTE = {"numeric": "numbers", "categorical": "values", "multivalent": "values in lists"}


def flow(value) -> str:
    """A value as one line of YAML (flow style); whole floats written as integers."""

    def tidy(v):
        if isinstance(v, float) and v.is_integer():
            return int(v)
        if isinstance(v, list):
            return [tidy(x) for x in v]
        if isinstance(v, dict):
            return {k: tidy(x) for k, x in v.items()}
        return v

    return yaml.safe_dump([tidy(value)], default_flow_style=True, width=10**9, sort_keys=False).strip()[1:-1]


def line(text: str, comment: str = "", width: int = 44) -> str:
    """A YAML line with its comment beside it, or above it when the two would not fit in 116 characters."""
    if not comment:
        return text
    if max(len(text), width) + 3 + len(comment) <= 116:
        return f"{text.ljust(width)} # {comment}"
    indent = " " * (len(text) - len(text.lstrip()))
    return f"{indent}# {comment}\n{text}"


TRAINED = 0.7  # the share of the rows the drafted split trains on (validation 0.1, test 0.2)


def _lowered(cols: list, rows: int, total: int) -> str:
    """What `min_count: auto` says of the columns whose values are mostly rarer than its threshold (the training
    rows' threshold, the sample's counts scaled to the training rows: a hint; the fit decides on those). A hashed
    column has no vocabulary."""
    lowered, trained = [], int(total * TRAINED)
    for c in cols:
        if c.hashed:
            continue
        values = c.series.explode() if c.kind == "multivalent" else c.series
        counts = values.drop_nulls().value_counts(name="count")["count"].to_numpy() * (trained / max(rows, 1))
        if (mc := auto_min_count(trained, counts.round())) < auto_min_count(trained):
            lowered.append(f"{c.name} {mc}")
    return f"; lower for columns of mostly rarer values (from the sample: {', '.join(lowered)})" if lowered else ""


def embedding_dim(cardinality: int) -> int:
    return 2 if cardinality <= 2 else 4 if cardinality <= 12 else 8 if cardinality <= 200 else 16


def render(
    d, paths: list[str], label: str, group: str | None, patterns: list[str], separator: str | None = None
) -> str:
    kept = [c for c in d.columns if c.kind != "skip"]
    out = _data(d, paths, group, patterns, separator) + _label(d, label, group) + _defaults(d, kept, label)
    out += _columns(d, kept) + _crosses(d, group)
    out.append("# wide: every sparse column and cross (the default); deep: every sparse column embedded, numbers dense")
    out += _deep(d, kept) + _train(d)
    return "\n".join(out) + "\n"


def _data(d, paths: list[str], group: str | None, patterns: list[str], separator: str | None) -> list[str]:
    sampled = "all of them" if d.read == d.total else f"a random sample of {d.read:,}"
    less = f", less the {d.held:,} the split tests on" if d.held else ""
    split, note = drafted_split(d, group)
    out = [
        f"# Drafted by `wdcli init` from {d.total:,} rows of {', '.join(patterns)} ({sampled}{less}).",
        "# Every choice has its reason beside it; 'alone: gain G, AUC A' is what the column alone does on held-out",
        "# sample rows (G: log loss saved over the base rate, in nats per row). Check it, then `wdcli train` it.",
        "data:",
        f"  train: {flow(paths[0] if len(paths) == 1 else paths)}",
    ]
    if d.test is not None:
        out.append(line(f"  test: {flow(d.test)}", "--test: the final figures are of these rows"))
    if separator not in (None, ","):
        out.append(line(f"  csv: {flow({'separator': separator})}", "how the CSV files separate their fields"))
    return [*out, line(f"  split: {flow(split)}", note)]


def _label(d, label: str, group: str | None) -> list[str]:
    out = ["label:", f"  column: {flow(label)}"]
    if d.label is not None:
        share = f"{d.label.share:.0%} of sample rows"
        if d.positive is not None:
            out.append(line(f"  positive: {flow(d.positive)}", f"the positive class (1): {d.label.why}; {share}"))
        else:
            out.append(f"  # {d.label.shown} (true) is the positive class: {share}")
    if group is not None:
        known = (d.per or d.known) and any(c.name == group and c.kind != "skip" for c in d.columns)
        why = "also a feature: every one is in every part" if known else "not a feature"
        out.append(line(f"  group: {flow(group)}", f"rows of one request/user: gAUC, ranking; {why}"))
    return out


def _defaults(d, kept, label: str) -> list[str]:
    mc = auto_min_count(int(d.total * TRAINED))
    out = ["defaults:"]
    for kind in ("categorical", "multivalent", "numeric"):
        cols = [c for c in kept if c.kind == kind]
        if not cols:
            continue
        markers = sorted({m for c in cols for m in c.markers}, key=MARKERS.index)
        settings: dict = {"missing": markers} if markers else {}
        found = (
            f"; {', '.join(repr(m) for m in markers)} found as missing in {_names([c for c in cols if c.markers])}"
            if markers
            else ""
        )
        if kind == "numeric" and _embedded(d, cols, label):
            settings.update({"transform": "standardize", "fill": "median"})
            if getattr(d.tried.get("numeric_embedding"), "plain", False):  # (auto that embeds no number, kept)
                note = "standardized, as the defaults read numbers: their trial below chose it over 50 quantiles"
            elif d.tried:
                note = "standardized: what the numbers' embedding below reads"
            else:
                note = (
                    "standardized: what the numbers' embedding reads (auto, the default: a number with a spike or "
                    "an uneven effect in the sample)"
                )
        elif kind == "numeric":
            settings.update({"transform": "quantile", "quantiles": 50, "fill": "median"})
            note = "the paper's CDF normalization into [0, 1]"
        else:
            settings["min_count"] = "auto"
            note = (
                f"auto: values seen fewer than {mc} times share the out-of-vocabulary id"
                + _lowered(cols, d.rows, d.total)
                if mc > 1
                else "auto: every value seen gets an id (fewer than 1,000 rows)"
            )
        out.append(line(f"  {kind}: {flow(settings)}", note + found))
    return out


def _columns(d, kept) -> list[str]:
    out = ["columns:"]
    for c in kept:
        gain, auc = d.scores.get(c.name, (0.0, float("nan")))
        missing = f", {c.missing:.0%} missing" if c.missing >= 0.005 else ""
        facts = f"{c.distinct:,} distinct{missing}"
        alone = f"alone: gain {gain:.4f}, AUC {auc:.3f}" + (f"; {c.note}" if c.note else "")
        if c.kind == "numeric":
            out.append(line(f"  {flow(c.name)}: numeric", f"{facts}; {alone}"))
        elif c.hashed:
            settings = {"kind": c.kind, "hash_buckets": buckets_for(c.estimate, 1, 1)}
            settings.update({"separator": c.separator} if c.separator else {})
            out.append(
                line(f"  {flow(c.name)}: {flow(settings)}", f"~{c.estimate:,} distinct: hashed{missing}; {alone}")
            )
        elif c.kind == "multivalent":
            settings = {"kind": "multivalent", "separator": c.separator} if c.separator else {"kind": "multivalent"}
            split = f"lists split on {c.separator!r}" if c.separator else "a list column"
            out.append(line(f"  {flow(c.name)}: {flow(settings)}", f"{split}, {facts}; {alone}"))
        else:
            out.append(line(f"  {flow(c.name)}: categorical", f"{facts}; {alone}"))
    for b in d.buckets:
        gain, auc = d.scores[b.name]
        bucketized = {"kind": "bucketized", "source": b.source, "boundaries": b.boundaries}
        crossed = any(b.name in x.columns for x in d.crosses)
        why = "for crosses" if crossed else "the wide part's copy of its number"
        why = why if gain >= MIN_BUCKET_GAIN else "the wide part's only sparse column"
        out.append(line(f"  {flow(b.name)}: {flow(bucketized)}", f"{why}; alone: gain {gain:.4f}, AUC {auc:.3f}"))
    return out + [f"  # {c.name}: left out: {c.reason}" for c in d.columns if c.kind == "skip"]


def _crosses(d, group: str | None) -> list[str]:
    halves = f"half the {group} values" if group else "half the sample"
    if d.per:
        halves = f"each {group}'s earlier rows, with a {group} term"
    elif d.known:
        halves = f"half the rows, with a {group} term"
    if not d.crosses:
        return [f"crosses: []   # no pair of columns gained over its parts (fitted on {halves}, scored on the rest)"]
    out = [
        "crosses:  # the wide part's memory: pairs ranked by held-out log-loss gain of the cross over its two",
        f"          # columns alone (nats per row; a logistic model fitted on {halves}, scored on the rest)",
    ]
    for x in d.crosses:
        cross = {"columns": list(x.columns), "hash_buckets": x.hash_buckets}
        grid = f" ({x.finer:.4f} of it a finer grid's, over ten buckets a side)" if x.finer else ""
        out.append(line(f"  - {flow(cross)}", f"gain {x.gain:.4f}{grid}, {x.combinations:,} combinations seen"))
    return out


def _deep(d, kept) -> list[str]:
    out = ["deep:", "  embedding_dim: 8"]
    dims = {}
    for c in kept:
        if c.kind in ("categorical", "multivalent"):
            dims[c.name] = embedding_dim(buckets_for(c.estimate, 1, 1) if c.hashed else c.distinct)
    for b in d.buckets:
        dims[b.name] = embedding_dim(len(b.boundaries) + 1)
    for table, cols in d.shared.items():
        dims[table] = max(dims.pop(c) for c in cols)
    dims = {k: v for k, v in dims.items() if v != 8}
    if dims:
        out.append(line(f"  embedding_dims: {flow(dims)}", "from each column's cardinality"))
    if d.shared:
        out.append(line(f"  shared: {flow(d.shared)}", "list values and a column naming the same things"))
    out.append(f"  hidden: {flow([128, 64] if d.total < 1_000_000 else [256, 128, 64])}")
    out += _members()
    for block, tried in d.tried.items():
        out.append(line(f"  {block}: {tried.written}", tried.comment()))
    if d.untried:
        out.append(f"  # {d.untried}")
    return out


def _members() -> list[str]:
    """A comment on `deep.members` (an ensemble of MLPs): not drafted, as on the benchmark's drafts it moved
    the test figures by -0.003 to +0.003 (within their seeds' spread)."""
    return [
        "  # members: 8 would train 8 MLPs, each on its own loss, scored by their mean (--set deep.members=8):",
        "  # on the benchmark's drafts -0.003 to +0.003 test AUC / NDCG / gAUC (docs/benchmarks.md)",
    ]


def _embedded(d, numbers, label: str) -> bool:
    """Whether the draft gives numeric columns an embedding of their own (read standardized): one tried on the
    sample and kept, or, with no trials, the default's (`auto`) where a number has a spike or an uneven effect in
    the sample (an embedding that reads census's capital gains through 50 quantiles: 0.9211 test AUC,
    standardized: 0.9293)."""
    tried = d.tried.get("numeric_embedding")
    if tried is not None or not d.untried:
        return tried is not None and tried.kept
    y = positive_of(d.sample[label].cast(pl.String).str.strip_chars(), label, d.positive, "the sample")[1]
    keys = hash_ints(np.arange(len(y), dtype=np.int64))
    return any(_auto_embeds(d.sample[c.name], y, keys) for c in numbers)


def _auto_embeds(values: pl.Series, y: np.ndarray, keys: np.ndarray) -> bool:
    """Whether `numeric_embedding: auto` would embed the sample's column: a spike, or an uneven effect (as the
    fit finds them)."""
    x = values.cast(pl.Float64, strict=False).fill_nan(None).to_numpy()
    present = x[~np.isnan(x)]
    fill = float(np.median(present)) if len(present) else 0.0
    return spiked(present, len(x) - len(present), fill) or uneven_column(x, y, keys, spread_rows(keys))


def _train(d) -> list[str]:
    batch = 256 if d.total < 100_000 else 512 if d.total < 1_000_000 else 1024
    return [
        "train:  # the default optimizers, the paper's: FTRL for the wide part, AdaGrad for the deep part",
        "  epochs: 20",
        line(f"  batch_size: {batch}", "FTRL and AdaGrad mean the same at any batch size"),
        line("  early_stopping: {metric: auc, patience: 3}", "keeps the best epoch's weights"),
        "  # wdcli tune SPEC searches the optimizers' settings and the model's shape (docs/spec.md#tune)",
    ]


def _names(cols) -> str:
    names = [c.name for c in cols]
    return ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")


def naming(text: str, column: str) -> list[str]:
    """The keys of a drafted spec that name a column as a feature (where a cold-start split must delete it)."""
    doc = yaml.safe_load(text) or {}
    deep = doc.get("deep") or {}
    places = {
        "columns": column in (doc.get("columns") or {}),
        "crosses": any(column in x["columns"] for x in doc.get("crosses") or []),
        "deep.embedding_dims": column in (deep.get("embedding_dims") or {}),
        "deep.shared": any(column in cols for cols in (deep.get("shared") or {}).values()),
    }
    return [key for key, named in places.items() if named]
