"""Evaluating runs: one or several (`wdcli eval --model A --model B`) on the same labelled rows, a file's or the
runs' own part (`--split`), with one row of metrics per run.

    evaluate_runs([Scorer.load("runs/a"), Scorer.load("runs/b")], "holdout.csv")     # [metrics of a, of b]

The rows are read once for all runs, and each batch is encoded once for the runs of one encoding (the same
fitted features: runs that differ only in their model or optimizers), then scored by each
(`scorer.evaluate_together`). A run's own part is scored from the encoded cache where the cache holds every
shard of it with the run's own pipeline (`train.data.cache`, `wdcli.data.cache`): no file is read, cleaned or
encoded; otherwise it is read from the files. Either way the metrics are those of the run evaluated alone.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from ..artifact import load_split
from ..data import io
from ..data.cache import Cache, cache_root, concat
from ..data.files import Files
from ..data.split import PARTS
from ..data.split_record import SplitRecord
from ..errors import DataError
from ..features import Encoded
from .files import Rows, shown
from .scorer import Figures, Scorer, by_encoding, encoding_of, evaluate_together


def evaluate_file(
    model: str | Path | None,
    input: str | Path | None,
    scorer: Scorer | None = None,
    batch_rows: int = 200_000,
    separator: str | None = None,
    split: str | None = None,
) -> dict:
    """The metrics of a model on a labelled file, or on the run's own rows of a part (`split`: test, validation,
    train), read in batches (exact: 12 to 20 bytes a row are kept)."""
    return evaluate_runs([scorer or Scorer.load(model)], input, split, separator, batch_rows)[0]


def evaluate_runs(
    scorers: list[Scorer],
    input: str | Path | None,
    split: str | None = None,
    separator: str | None = None,
    batch_rows: int = 200_000,
) -> list[dict]:
    """Each run's metrics on the same labelled rows: a file (read `batch_rows` at a time), or the runs' own part
    (`split`), which they must have split alike. The runs must predict the same label, weighed and grouped alike.

    A part is read in the chunks the run read it in when it trained (train.data.read_batch_rows), which are its
    cache's shards: a batch's scores depend on how many rows are scored at once, in the last bits of float32,
    so scoring the shards gives the very figures of scoring the files."""
    _comparable(scorers)
    if input is not None and separator is None and len({s.spec.data.csv.separator for s in scorers}) > 1:
        if any(io.file_format(p) == "csv" for p in io.expand_paths(input)):
            raise DataError(
                f"the runs read CSV files with different separators "
                f"({', '.join(repr(s.spec.data.csv.separator) for s in scorers)}); give {input}'s with --separator"
            )
    rows = Rows.of(scorers[0], input, split, separator)
    if split is None:
        return evaluate_together(scorers, rows.batches(batch_rows), rows.where)
    _same_rows(scorers, split)
    found: dict[int, dict] = {}
    for members in by_encoding(scorers):
        found.update(zip(members, _from_cache([scorers[i] for i in members], rows, split) or []))
    by_chunk: dict[int, list[int]] = {}  # the others, by the rows their run read at a time (its shards' rows)
    for i in range(len(scorers)):
        if i not in found:
            by_chunk.setdefault(scorers[i].spec.train.data.read_batch_rows, []).append(i)
    for size, members in by_chunk.items():
        found.update(zip(members, evaluate_together([scorers[i] for i in members], rows.batches(size), rows.where)))
    return [found[i] for i in range(len(scorers))]


def _comparable(scorers: list[Scorer]) -> None:
    """Refuse runs whose metrics would not be comparable: another label (or positive value), sample weight or
    group column. (A run named twice is refused too: one row per run.)"""
    first = scorers[0]
    seen: dict[Path, Scorer] = {}
    for s in scorers:
        other = seen.setdefault(s.artifact.path.resolve(), s)
        if other is not s:
            raise DataError(f"{_name(s)}: the run is named twice; name each run once")
    a = first.spec.label
    for s in scorers[1:]:
        b = s.spec.label
        if (a.column, a.positive) != (b.column, b.positive):
            raise DataError(
                f"{_name(first)} predicts {_label(a)} but {_name(s)} predicts {_label(b)}: runs evaluated together "
                "must predict the same label; evaluate them one at a time"
            )
        for key, x, y in (("weight", a.weight, b.weight), ("group", a.group, b.group)):
            if x != y:
                raise DataError(
                    f"{_name(first)} has label.{key} {x!r} but {_name(s)} has {y!r}: their metrics would "
                    f"{'weigh' if key == 'weight' else 'group'} the rows differently; evaluate them one at a time"
                )


def _label(label) -> str:
    return f"'{label.column}'" + (f" = {label.positive!r}" if label.positive is not None else "")


def _name(scorer: Scorer) -> str:
    return shown([str(scorer.artifact.path)])


def _same_rows(scorers: list[Scorer], split: str) -> None:
    """Refuse runs whose `split` parts are not the same rows (other files, or another rule or seed)."""
    parts = []
    for s in scorers:
        record = load_split(s.artifact)
        if record is None:
            raise DataError(
                f"{_name(s)}: the run kept no record of how it split its rows (it was trained before wdcli kept "
                "one, or on frames given in Python); evaluate the runs on a labelled file with --input"
            )
        parts.append(_rows_of(record, split))
    for s, part in zip(scorers[1:], parts[1:]):
        if part != parts[0]:
            raise DataError(
                f"{_name(scorers[0])} and {_name(s)} did not split their rows alike ({_unlike(parts[0], part)}), "
                f"so their {split} rows differ; evaluate them together on a labelled file with --input, e.g. the first run's: "
                f"wdcli predict --model {_name(scorers[0])} --split {split} --output {split}.parquet, then --input "
                f"{split}.parquet (where the other run trained on some of those rows, its figures are flattered)"
            )


def _unlike(first: dict, other: dict) -> str:
    """What differs between two runs' records of a part's rows (`_rows_of`), in words."""
    if {**other, "max_rows": None} == {**first, "max_rows": None}:
        return f"train.max_rows {first['max_rows'] or 'none'} and {other['max_rows'] or 'none'}"
    if other["files"] != first["files"]:
        return "other files"
    if other["rule"] != first["rule"]:
        return "another rule: fractions, seed, key or time cuts"
    return "another data.csv.separator"


def _rows_of(record: SplitRecord, part: str) -> dict:
    """What decides which rows a part holds: its files, and the rule where it takes a share of the training files
    (for the training rows, where train.max_rows ended them too)."""
    own = part != "train" and part in record.files
    files = [f.to_json() for f in record.files[part if own else "train"]]
    rule = None if own else record.rule.to_json()
    return {
        "files": files,
        "rule": rule,
        "separator": record.separator,
        "max_rows": record.max_rows if part == "train" else None,
    }


# ------------------------------------------------------------------------------ a run's part from its cache


def _from_cache(scorers: list[Scorer], rows: Rows, split: str) -> list[dict] | None:
    """The metrics of runs of one encoding on their own part, scored from the shards the encoded cache holds of
    it, or None where no run's cache holds every shard with the run's pipeline (or the part has no positive row:
    reading the files then names the problem)."""
    for scorer in scorers:
        with _shards(scorer, rows, split) as shards:
            if shards is None:
                continue
            figures = [Figures() for _ in scorers]
            for shard in shards:
                enc = concat([shard])  # (writable arrays, in memory: a shard's are mapped read-only)
                assert enc.label is not None  # (`_whole_part` gives labelled shards only)
                for f, s in zip(figures, scorers):
                    f.parts.append((enc.label, s.score_encoded(enc, rows.where), enc.weight, enc.group))
            if not any(part[0].any() for part in figures[0].parts):
                return None
            return [f.metrics(s, rows.where, check=False) for f, s in zip(figures, scorers)]
    return None


@contextlib.contextmanager
def _shards(scorer: Scorer, rows: Rows, split: str) -> Iterator[list[Encoded] | None]:
    """The part's encoded rows, shard by shard (mapped, none empty), from the cache the run trained with, while
    it is held; None unless every shard is there, labelled, encoded by the run's own pipeline."""
    spec, record = scorer.spec, load_split(scorer.artifact)
    if spec.train.data.cache == "off" or record is None or rows.files is None:
        yield None
        return
    parts = {
        p: Files([f.path for f in record.files[p if p in record.files else "train"]], p, None)
        for p in PARTS
        if record.has(p)
    }
    roots = [cache_root(spec.train.data.cache, spec.train.output)]
    run = scorer.artifact.path.absolute()
    if spec.train.data.cache == "auto" and len(run.parents) > 1:  # (runs/<spec>/<id>: runs/.cache, from anywhere)
        roots.append(run.parents[1] / ".cache")
    for root in dict.fromkeys(os.path.abspath(r) for r in roots if r is not None):
        cache = Cache.find(Path(root), spec, parts)
        if cache is None:
            continue
        try:
            shards = _whole_part(cache, scorer, rows.files, split)
            if shards is not None:
                yield shards
                return
        finally:
            cache.close()
    yield None


def _whole_part(cache: Cache, scorer: Scorer, files: Files, split: str) -> list[Encoded] | None:
    kept = cache.pipeline(scorer.spec)
    if kept is None or encoding_of(kept[0]) != scorer.encoding:
        return None
    shards = [cache.load(split, c) for c in files.chunks(scorer.spec.train.data.read_batch_rows)]
    if any(s is None or s.label is None for s in shards):
        return None
    return [s for s in shards if s is not None and s.n]
