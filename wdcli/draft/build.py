"""`draft_spec`: a commented spec from a sample of the data, that validates and trains as it is.

    draft = draft_spec("data/adult.parquet", label="income", positive=">50K", output=Path("census.yaml"))
    Path("census.yaml").write_text(draft.text)

Each column's kind comes from its type and distinct count (`profile`); numeric columns get the paper's quantile
transform and a bucketized version for crosses; columns that cannot help (constant, all missing, identifiers)
and columns that alone give the label away (held-out AUC >= 0.99: likely leaks) are left out with the reason
as a comment; crosses are ranked by their held-out log-loss gain over their parts (`gain`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import cast

import numpy as np
import polars as pl

from ..data import io
from ..data.atomic import atomic_file
from ..data.time_split import times
from ..errors import DataError, SpecError, WdcliError, suggest
from ..features import fit_pipeline
from ..features.inputs import spec_inputs
from ..spec import Spec, load_spec
from . import gain as G
from .blocks import MIN_ROWS, Tried, untried
from .codes import candidates, choose, within_groups
from .crosses import Bucketized, bucket_codes, choose_crosses, finer_grids
from .held import drafted_split, known_groups, tested
from .label import positive_of
from .profile import MIN_BUCKET_GAIN, Column, given_kind, profile_column, settle, shared_tables
from .render import render
from .state import Draft
from .times import choose_time, group_sizes

LEAK_AUC = 0.99


class DraftRejected(RuntimeError):
    """A draft that does not validate or fit: a bug in `wdcli init` (not in the data), reported as one."""


Step = Callable[[str], None]  # told what starts now ("sampling data.csv"), for a progress display
TryBlocks = Callable[["Draft", Path], dict[str, Tried]]  # the blocks' trials on a draft's sample (wdcli.run)
TryDraft = Callable[["Draft", Path], "tuple[float, ...] | None"]  # a draft trained on its sample (wdcli.run)


def draft_spec(
    data: str | Path | list,
    label: str,
    positive: str | None = None,
    group: str | None = None,
    output: str | Path = "spec.yaml",
    sample_rows: int = 100_000,
    seed: int = 0,
    separator: str | None = None,
    step: Step | None = None,
    time: str | None = None,
    try_blocks: TryBlocks | None = None,
    try_draft: TryDraft | None = None,
    kinds: dict[str, str] | None = None,
    test_file: str | None = None,
) -> Draft:
    """Sample the data and draft a spec for it; `output` is where it will be written (data paths are made
    relative to its folder). `separator`: of CSV files (data.csv.separator); `step` hears each step start;
    `time`: split by this column's times (the latest rows held out), not by a seed; `try_blocks`: trains the
    draft on its sample with and without each of the deep part's blocks, keeping those that help; `try_draft`
    trains a draft on its sample (numbers tried as codes: `codes`); `kinds`: column -> the kind `--kind` gives it
    (numeric, categorical, multivalent, skip), whatever its values suggest; `test_file`: the user's test file(s)
    (--test): the split holds out validation rows alone; the sample is all training rows."""
    step = step or (lambda what: None)
    patterns = [str(data)] if isinstance(data, (str, Path)) else [str(p) for p in data]
    where = ", ".join(patterns)
    step(f"sampling {where}")
    sample, total, places = io.sample_table(patterns, sample_rows, seed, separator)
    kinds = kinds or {}
    _check_sample(
        sample, total, where, {"--label": label, "--group": group, "--time": time, **{f"--kind {c}": c for c in kinds}}
    )
    d = Draft(text="", rows=len(sample), total=total, sample=sample, group=group)
    d.test = _test_path(test_file, output, label, separator) if test_file is not None else None
    d.known = known_groups(group, time, test_file, patterns, separator)
    y = _label(sample, label, positive, where, d)
    split_time = choose_time(
        d, sample, time, label, where, lambda: group_sizes(sample, group, total, patterns, separator)
    )
    split = drafted_split(d, group)
    test = tested(split[0], sample, places, io.expand_paths(patterns), separator)
    _check_left(y, test, where, split[1], label, sample[group] if group else None)
    sample, y, d.held = sample.filter(~test), y[~test], int(test.sum())
    d.sample, d.rows, total = sample, len(sample), d.trained
    known = group if d.per or d.known else None  # each group in every part: a feature
    features = [c for c in sample.columns if c not in (label, d.time) and (c != group or c == known)]
    step(f"profiling {len(features)} columns of {len(sample):,} rows")
    typed = all(io.file_format(p) not in io.SEPARATORS for p in io.expand_paths(patterns))
    if given := sorted(set(kinds) - set(features)):
        raise DataError(f"--kind {given[0]}: the label, --time or --group column is no feature; its kind is not asked")
    d.columns = [
        given_kind(c, sample[c], kinds[c], total)
        if c in kinds
        else profile_column(c, sample[c], total, c == known, typed)
        for c in features
    ] + split_time
    stats = _scorer(d, sample, y, seed)
    gain = lambda c: stats.single(_code(c, len(sample)))[0]  # noqa: E731
    d.columns = settle(d.columns, gain)
    base = Path(output).resolve().parent
    paths = [_relative(p, base) for p in patterns]
    text = lambda d: render(d, paths, label, group, patterns, separator)  # noqa: E731
    assemble = partial(_assemble, stats=stats, step=step, text=text, where=where, label=label)
    grouped = within_groups(sample, group, d.columns)
    codes = candidates(d.columns, gain, grouped)
    d = assemble(d)
    if codes:
        step(f"trying {', '.join(codes)} as categories on the sample")
    d = choose(d, codes, assemble, None if try_draft is None else lambda x: try_draft(x, Path(output)), grouped)
    d.text = text(d)
    if try_blocks is None or d.rows < MIN_ROWS:
        d.untried = untried(None if try_blocks is None else d.rows)
    else:  # short trainings on the sample (its draft as rendered above), with and without each block
        d.tried = try_blocks(d, Path(output))
    d.text = text(d)
    return d


def _assemble(d: Draft, stats: G.Scorer, step: Step, text: Callable[[Draft], str], where: str, label: str) -> Draft:
    """The buckets, crosses and shared tables of d's columns; its text (`text`: the draft rendered). `where`
    and `label` name the data and its label when no column is left to learn from."""
    _leave_out_duplicates(d.columns)
    d.buckets = [
        Bucketized(f"{c.name}_buckets", c.name, c.boundaries) for c in d.columns if c.kind == "numeric" and c.boundaries
    ]
    coded = _codes(d, d.rows)
    step("ranking columns and crosses by held-out log-loss gain")
    d.scores = {name: stats.single(f) for name, f in coded.items()}
    _leave_out_leaks(d, coded)
    if all(c.kind == "skip" for c in d.columns):
        why = "; ".join(f"{c.name}: {c.reason}" for c in d.columns[:5])
        raise DataError(f"{where}: no column is left to learn from ({why}); give columns that may predict {label}")
    d.buckets = _kept_buckets(d)
    d.crosses = choose_crosses(d.columns, d.buckets, d.scores, coded, stats, (d.rows, d.trained))
    d.crosses, grids = finer_grids(d.crosses, d.buckets, partial(_numbers, d), coded, stats, (d.rows, d.trained))
    d.buckets += grids
    d.scores |= {b.name: stats.single(coded[b.name]) for b in grids}
    d.shared = shared_tables(d.columns)
    d.text = text(d)
    return d


def _scorer(d: Draft, sample: pl.DataFrame, y: np.ndarray, seed: int) -> G.Scorer:
    """Halves of the sample as the split makes its parts: of groups (each new in validation), or with a split
    by time per group, each group's earlier and later rows (a cross then gains only over the group: by ranking
    its rows)."""
    if d.known:  # halves of rows, each group in both: a cross gains by ranking a group's rows, as with `per`
        return G.Scorer(y, seed, within=sample[cast(str, d.group)])
    if not d.per:
        return G.Scorer(y, seed, sample[d.group] if d.group else None)
    assert d.group is not None and d.time is not None
    t, _ = times(sample, d.time, "the sample")
    order = pl.DataFrame({"g": sample[d.group], "t": t}).select(
        pl.col("t").rank("ordinal").over("g") <= pl.len().over("g") / 2
    )
    return G.Scorer(y, seed, within=sample[d.group], fit_half=order.to_series().to_numpy())


def _kept_buckets(d: Draft) -> list[Bucketized]:
    """The bucketized copies that gain alone; with no sparse column at all, the best one anyway: the wide part
    reads sparse columns only (all-numeric data)."""
    kept = [b for b in d.buckets if d.scores[b.name][0] >= MIN_BUCKET_GAIN]
    if kept or not d.buckets or any(c.sparse and c.kind != "skip" for c in d.columns):
        return kept
    return [max(d.buckets, key=lambda b: d.scores[b.name][0])]


def _check_sample(sample: pl.DataFrame, total: int, where: str, named: dict[str, str | None]) -> None:
    """A DataError unless the data has rows and every column an option names (`named`: option -> column)."""
    if total == 0:
        raise DataError(f"{where}: has a header and no rows; init drafts a spec from rows: give a file with data")
    for role, name in named.items():
        if name is not None and name not in sample.columns:
            raise DataError(
                f"{where}: no column '{name}' ({role}){suggest(name, sample.columns)}; "
                f"it has: {', '.join(sample.columns[:20])}"
            )
    group = named.get("--group")
    if group is not None and isinstance(sample[group].dtype, (pl.List, pl.Array, pl.Struct)):
        raise DataError(
            f"{where}: column '{group}' (--group) holds lists ({sample[group].dtype}); rows are ranked within a "
            "group of one value per row (a request, a user): give such a column"
        )


def write_draft(draft: Draft, output: str | Path, overwrite: bool = False) -> Spec:
    """Write the drafted spec, after checking that it validates and that its pipeline fits on the sample, so
    that a draft init would reject is never written: it is kept as <output>.rejected, and `DraftRejected`
    (an internal error: the bug is init's) says where. Returns the loaded spec."""
    output = Path(output)
    if output.exists() and not overwrite:
        raise WdcliError(f"{output}: already exists; pass --force to replace it, or -o another file")
    with atomic_file(output) as tmp:
        tmp.write_text(draft.text, encoding="utf-8")
        try:
            spec = load_spec(tmp).model_copy(update={"name": output.stem})
            assert draft.sample is not None, "a draft keeps its sample"
            fit_pipeline(spec, draft.sample, "the sample")  # all of it: a column may start late in the file
        except WdcliError as e:
            kept = output.with_name(output.name + ".rejected")
            kept.write_text(draft.text, encoding="utf-8")
            problems = [str(p) for p in e.problems] if isinstance(e, SpecError) else [str(e)]
            raise DraftRejected(
                f"init drafted a spec it rejects: {'; '.join(problems).replace(str(tmp), str(output))}; the draft "
                f"is kept in {kept} (please attach it to the report)"
            ) from e
        _check_test_columns(spec)
    return spec


def _check_test_columns(spec: Spec) -> None:
    """A DataError naming the --test file that lacks a column the draft reads (a walk: a test file without
    `price` was drafted for, and `validate` refused the draft that `init` had just called checked)."""
    need = list(spec_inputs(spec))
    for path in io.expand_paths(spec.data.test) if spec.data.test else []:
        have = set(io.scan_one(path, spec.data.csv.separator).collect_schema().names())
        if missing := [c for c in need if c not in have]:
            raise DataError(
                f"--test {path}: it lacks {', '.join(map(repr, missing[:5]))}, which the training data has and the "
                "draft reads; give the test rows the training data's columns, or --kind COLUMN=skip to leave "
                f"{'them' if len(missing) > 1 else 'it'} out"
            )


def _test_path(test_file: str, output: str | Path, label: str, separator: str | None) -> str:
    """--test as the spec holds it; a DataError naming the file that is missing, unreadable, empty or without
    the label column."""
    for path in io.expand_paths([test_file]):
        try:
            head = io.scan_one(path, separator).head(1).collect()
        except (pl.exceptions.PolarsError, OSError) as e:
            raise DataError(f"--test {path}: cannot read it ({str(e).splitlines()[0]})") from None
        if head.is_empty() or label not in head.columns:
            raise DataError(f"--test {path}: it needs the label column '{label}' and rows (it has {len(head)})")
    return _relative(test_file, Path(output).resolve().parent)


def _relative(pattern: str, base: Path) -> str:
    """A data path as the spec will hold it: relative to the spec's folder, unless that climbs to the root."""
    path = Path(pattern).absolute()
    rel = os.path.relpath(path, base)
    return str(path) if os.path.commonpath([path, base]) == path.anchor else rel


def _check_left(y: np.ndarray, test: np.ndarray, where: str, split: str, label: str, groups: pl.Series | None) -> None:
    """A clear error where the drafted split's test rows leave too little of the sample to draft from: under
    two rows, one label value, or one group (a few big groups fell in test)."""
    left = y[~test]
    if len(left) < 2:
        what = f"{len(left)} row{'s' * (len(left) != 1)}"
    elif len(np.unique(left)) < 2:
        what = f"rows of one '{label}' value only"
    elif groups is not None and groups.filter(pl.Series(~test)).n_unique() < 2:
        what = f"rows of one '{groups.name}' value only"
    else:
        return
    raise DataError(
        f"{where}: of {len(y):,} sampled rows, the split init drafts ({split}) tests on {int(test.sum()):,}, "
        f"leaving {what} to draft from; give more rows, or a --group of more, smaller groups"
    )


def _label(sample: pl.DataFrame, label: str, positive: str | None, where: str, d: Draft) -> np.ndarray:
    s = sample[label]
    if s.null_count():
        raise DataError(
            f"{where}: label column '{label}' is missing in {s.null_count()} of {len(s)} sample rows; "
            "drop or fill them first"
        )
    d.label, y = positive_of(s.cast(pl.String).str.strip_chars(), label, positive, where)
    return y


def _codes(d: Draft, n: int) -> dict[str, G.Coded]:
    """Every candidate feature as integer codes: sparse columns, bucketized columns, and numeric columns cut at
    20 quantiles (for their held-out AUC, which a leak through a non-monotone relation would not escape)."""
    out = {c.name: _code(c, n) for c in d.columns if c.kind != "skip"}
    for b in d.buckets:
        out[b.name] = bucket_codes(b.name, _numbers(d, b.source), b.boundaries)
    return out


def _numbers(d: Draft, name: str) -> np.ndarray:
    """A numeric column's sample values as float64 (NaN where missing)."""
    return next(c for c in d.columns if c.name == name).series.to_numpy().astype(np.float64)


def _code(c: Column, n: int) -> G.Coded:
    """A column's values as codes (numbers cut at 20 quantiles), keyed by its name and kind: the scorer keeps
    each key's codes, and a column read both ways (text digits, whole numbers that may be codes) has two."""
    key = f"{c.name} as {c.kind}"
    if c.kind == "multivalent":
        lists = c.series.fill_null([]).list.drop_nulls()
        rows = np.repeat(np.arange(n), lists.list.len().to_numpy())
        return G.code(key, lists.explode(empty_as_null=False, keep_nulls=False), rows)
    if c.kind != "numeric":
        return G.code(key, c.series)
    x = c.series.to_numpy().astype(np.float64)
    ok, cuts = np.isfinite(x), np.unique(np.quantile(x[np.isfinite(x)], np.linspace(0, 1, 21)[1:-1]))
    return G.code(key, np.where(ok, np.searchsorted(cuts, np.where(ok, x, 0)), -1))


def _leave_out_duplicates(columns: list[Column]) -> None:
    """A categorical column that names the same things as an earlier one (a movie's title beside its id: one
    value of each per value of the other), or a number with an earlier one's values, adds nothing but
    parameters: it is left out."""
    kept: list[Column] = []
    numbers: list[Column] = []
    for c in columns:
        if c.kind == "numeric" and c.values is not None:  # (a number twice under two names: the second left out)
            twin = next((k for k in numbers if k.series.equals(c.series, check_names=False, null_equal=True)), None)
            if twin is not None:
                c.kind, c.reason = "skip", f"the same values as {twin.name} in every sample row"
            else:
                numbers.append(c)
            continue
        if c.kind != "categorical" or c.values is None:
            continue
        for k in kept:
            if k.distinct == c.distinct and pl.DataFrame([k.values, c.values]).n_unique() == c.distinct:
                c.kind, c.reason = (
                    "skip",
                    f"names the same things as {k.name} (one value of each per value of the other)",
                )
                break
        else:
            kept.append(c)


def _leave_out_leaks(d: Draft, coded: dict) -> None:
    """Columns that alone, or through their bucketized copy, give the label away. (A copy's cut can find what the
    column's 20 quantiles miss: a lab value of 45 in most rows, which means negative, shares its bin with the
    44s below it, AUC 0.933; cut at 45 it has AUC 0.997.)"""
    copies = {b.source: b.name for b in d.buckets if b.name in d.scores}
    for c in d.columns:
        named = [n for n in (c.name, copies.get(c.name)) if n in d.scores]
        best = max((d.scores[n][1] for n in named), default=0.0)
        if c.kind != "skip" and best >= LEAK_AUC:
            c.kind, c.reason = (
                "skip",
                (
                    f"alone predicts the label with AUC {best:.3f} on held-out "
                    "sample rows: likely a leak (known only with or after the label); add it "
                    "back if it is known when you score"
                ),
            )
    leaked = {c.name for c in d.columns if c.kind == "skip"}
    d.buckets = [b for b in d.buckets if b.source not in leaked]
    for name in list(coded):
        if name in leaked:
            del coded[name]
