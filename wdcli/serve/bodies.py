"""Request bodies: JSON in, a Polars frame of candidates out, or a `BadRequest` that names the problem.

{"rows": [{"impression_app": "app12", "country": "us", ...}, ...]}              records
{"columns": {"impression_app": ["app12", "app7"], "country": ["us", "us"]}}    or columns
+ "keep": ["impression_app"]        columns echoed back beside each score
+ "group_by": "request_id", "top_k": 10          (rank: default the spec's label.group, else one group)

The work a body costs is bounded before the frame is built (`Limits`, each a 413 naming its option): the
nesting of a value and the lists and objects in the body (counted in its bytes, before it is parsed), the
candidates, the distinct keys (columns) and the length of a string. Only the columns the model reads (and the
group column of `rank`) become the frame, and they may hold no object; `keep`'s columns are echoed as sent, and
must be in every candidate: other keys cost their parsing, nothing more, and an answer costs what its request
did.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from ..errors import DataError
from ..features.inputs import check_columns, spec_inputs
from ..spec import Spec
from ..spec.types import Multivalent

loads: Callable[[bytes | str], Any]
dumps: Callable[[Any], bytes]
JSONDecodeError: type[json.JSONDecodeError]
try:  # orjson parses bodies about 3x faster; the standard library does the same job without it
    import orjson

    loads, dumps, JSONDecodeError = orjson.loads, orjson.dumps, orjson.JSONDecodeError
except ImportError:  # pragma: no cover - the serve extra installs orjson
    loads, JSONDecodeError = json.loads, json.JSONDecodeError

    def _dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()

    dumps = _dumps


TEXT_TYPES = (pl.String, pl.Null, pl.Boolean)
ENVELOPE = 3  # levels around a value: the body, 'rows' and a row, or the body, 'columns' and a column
ANSWER_FIELDS = {False: ("score",), True: ("index", "rank", "score")}  # what `keep` may not name: the answer's own


class BadRequest(Exception):
    """A request the server answers with a 4xx (or 503) status and a JSON error."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


@dataclass(frozen=True)
class Limits:
    """What one request may hold (docs/serving.md#limits); each is a `wdcli serve` option."""

    candidates: int = 100_000  # --max-candidates
    columns: int = 1_000  # --max-columns: distinct keys in the request (so in any one row)
    depth: int = 8  # --max-depth: lists or objects within a value (a list of strings is 1)
    string: int = 65_536  # --max-string: characters in one string
    containers: int = 1_000_000  # --max-containers: lists and objects in the body (a row is one)
    values: int = 2_000_000  # --max-values: values of the list columns the model reads, after splitting


@dataclass(frozen=True)
class Parsed:
    frame: pl.DataFrame  # the columns the model reads, and the group column
    keep: list[str]
    kept: list[dict]  # per candidate, the kept columns' values as the request sent them
    group_by: str | None
    top_k: int | None


def parse(body: bytes, spec: Spec, limits: Limits, ranking: bool) -> Parsed:
    """A request body as a frame of candidates, checked against the spec; raises BadRequest."""
    _check_nesting(body, limits)
    try:
        doc = loads(body)
    except (JSONDecodeError, ValueError) as e:  # (orjson refuses nesting past 1,024 levels)
        raise BadRequest(400, _not_json(body, e)) from None
    if not isinstance(doc, dict):
        raise BadRequest(400, 'the body should be a JSON object: {"rows": [{...}, ...]} or {"columns": {...}}')
    known = {"rows", "columns", "keep"} | ({"group_by", "top_k"} if ranking else set())
    unknown = sorted(set(doc) - known)
    if unknown:
        raise BadRequest(
            400,
            f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"this endpoint takes {', '.join(sorted(known))}",
        )
    keep, group_by, top_k = _options(doc, ranking)
    groups = [c for c in (group_by, spec.label.group if ranking else None) if c]
    frame, kept = _frame(
        doc, limits, {**dict.fromkeys(spec_inputs(spec), "read"), **dict.fromkeys(groups, "group")}, keep
    )
    if group_by is not None and group_by not in frame.columns:
        raise BadRequest(422, f"'group_by' names column '{group_by}', which the rows do not have")
    check_frame(frame, spec)
    _check_list_values(frame, spec, limits)
    return Parsed(frame, keep, kept, group_by, top_k)


def _check_nesting(body: bytes, limits: Limits) -> None:
    """Refuse (413) a body whose lists and objects nest deeper than a value may (limits.depth, within the
    ENVELOPE), or are more than limits.containers, from its bytes, before it is parsed: what a parser builds of
    them is what costs (a million objects, 6 MB of JSON, take ~230 MB parsed). Brackets within strings do not
    count: a quote not escaped opens or closes a string, and a byte is within one where the quotes before it are
    odd in number. A valid body is measured exactly, and so is the part of an invalid one a parser reads before
    it fails."""
    if b"\\" in body:  # escaped backslashes, then escaped quotes (each run of backslashes paired from its start)
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    text = np.frombuffer(body, np.uint8)
    outside = ~np.bitwise_xor.accumulate((text == ord('"')).view(np.uint8)).view(bool)  # (a quote: 1; 0 past its mate)
    folded = text | 0x20  # [ as {, ] as }
    opens, closes = (folded == ord("{")) & outside, (folded == ord("}")) & outside
    del outside, folded
    opened = int(np.count_nonzero(opens))
    if opened > limits.containers:
        raise BadRequest(
            413,
            f"the body holds {opened:,} lists and objects; this server takes at most {limits.containers:,} "
            "(wdcli serve --max-containers): send 'columns' in place of 'rows', or split the request",
        )
    steps = (opens.view(np.int8) - closes.view(np.int8))[opens | closes][: 2 * opened]  # (a valid body has no more)
    deepest = int(np.cumsum(steps, dtype=np.int32).max(initial=0))
    if deepest > limits.depth + ENVELOPE:
        raise BadRequest(
            413,
            f"the body holds a value nested more than {limits.depth} levels deep (lists or objects); this server "
            f"takes at most {limits.depth} (wdcli serve --max-depth)",
        )


def _not_json(body: bytes, e: Exception) -> str:
    """Why a body is not JSON: not UTF-8 text (UTF-16, Latin-1: orjson calls it 'surrogates'), or the parser's
    reason."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as u:
        return f"the body is not UTF-8 text (byte {u.start:,} is {body[u.start]:#04x}); send JSON encoded as UTF-8"
    return f"the body is not valid JSON ({e})"


def _options(doc: dict, ranking: bool) -> tuple[list[str], str | None, int | None]:
    """keep (each column once), group_by and top_k, checked."""
    keep = doc.get("keep") or []
    if not isinstance(keep, list) or not all(isinstance(k, str) for k in keep):
        raise BadRequest(400, "'keep' should be a list of column names")
    keep = list(dict.fromkeys(keep))  # a column named twice is kept once
    taken = [k for k in keep if k in ANSWER_FIELDS[ranking]]
    if taken:
        raise BadRequest(
            422,
            f"'keep' names {', '.join(map(repr, taken))}, which the answer gives itself "
            f"({', '.join(ANSWER_FIELDS[ranking])}); rename the column in the request",
        )
    group_by, top_k = doc.get("group_by"), doc.get("top_k")
    if group_by is not None and not isinstance(group_by, str):
        raise BadRequest(400, "'group_by' should be a column name")
    if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1):
        raise BadRequest(400, "'top_k' should be a positive integer")
    return keep, group_by, top_k


def _frame(doc: dict, limits: Limits, table: dict[str, str], keep: list[str]) -> tuple[pl.DataFrame, list[dict]]:
    """The frame of the candidates' columns in `table` (the model reads them, or ranking groups by them), and
    the kept columns' values per candidate, within the limits. Kept columns are echoed as sent, never made into a
    table, so what they cost is what the body holds."""
    rows, columns = doc.get("rows"), doc.get("columns")
    if (rows is None) == (columns is None):
        raise BadRequest(
            400,
            "give the candidates as 'rows' (a list of objects) or as 'columns' (an object of lists), one of the two",
        )
    if rows is not None:
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise BadRequest(400, "'rows' should be a list of objects, one per candidate")
        n = len(rows)
        _count(n, limits)
        keys, present = _keys(rows, limits, set(keep))
        _check_keep(keep, keys, present, n)
        data = {c: [r.get(c) for r in rows] for c in table if c in keys}
        values = {c: [r[c] for r in rows] for c in keep}
    else:
        if not isinstance(columns, dict) or not all(isinstance(v, list) for v in columns.values()):
            raise BadRequest(400, "'columns' should be an object whose values are lists, one value per candidate")
        if len(columns) > limits.columns:
            raise _too_many_columns(limits)
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise BadRequest(
                422,
                "the lists of 'columns' have different lengths: "
                + ", ".join(f"{k}: {len(v)}" for k, v in list(columns.items())[:10]),
            )
        n = lengths.pop() if lengths else 0
        _count(n, limits)
        _check_keep(keep, set(columns), dict.fromkeys(columns, n), n)
        data = {c: columns[c] for c in table if c in columns}
        values = {c: columns[c] for c in keep}
    for name, column in values.items():
        _check_values(name, column, limits)
    for name, column in data.items():
        _check_values(name, column, limits, table[name])
    kept = [{c: v[i] for c, v in values.items()} for i in range(n)] if keep else []
    try:
        return pl.DataFrame(data, strict=False), kept
    except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError) as e:
        raise BadRequest(422, f"the candidates cannot be read as a table: {str(e).splitlines()[0][:200]}") from None


def _keys(rows: list[dict], limits: Limits, keep: set[str]) -> tuple[set[str], Counter]:
    """The distinct keys of the rows (at most limits.columns), and in how many rows each kept one is."""
    keys: set[str] = set()
    present: Counter = Counter()
    for r in rows:
        keys.update(r)
        if len(keys) > limits.columns:
            raise _too_many_columns(limits)
        if keep:
            present.update(keep.intersection(r))
    return keys, present


def _check_keep(keep: list[str], keys: set[str], present: Mapping[str, int], n: int) -> None:
    """Each kept column is in every candidate (null where there is none): echoing a column that most lack would
    make an answer of nulls far larger than the request."""
    absent = [k for k in keep if k not in keys]
    if absent:
        raise BadRequest(
            422,
            f"'keep' names column{'s' if len(absent) > 1 else ''} the rows do not have: {_names(absent)}",
        )
    for k in keep:
        if present[k] < n:
            raise BadRequest(
                422,
                f"'keep' names '{k}', which {n - present[k]:,} of {n:,} candidates lack; give it in every "
                "candidate (null where there is none), or leave it out of 'keep'",
            )


def _names(names: list[str], most: int = 10) -> str:
    """Names as a short list: the first `most`, and how many more."""
    shown = ", ".join(map(repr, names[:most]))
    return shown + (f" and {len(names) - most:,} more" if len(names) > most else "")


def _count(n: int, limits: Limits) -> None:
    if n == 0:
        raise BadRequest(422, "no candidates to score")
    if n > limits.candidates:
        raise BadRequest(
            413,
            f"{n:,} candidates; this server scores at most {limits.candidates:,} per request "
            "(wdcli serve --max-candidates); split the request",
        )


def _too_many_columns(limits: Limits) -> BadRequest:
    return BadRequest(
        413,
        f"the candidates have more than {limits.columns:,} distinct keys (columns); this server takes at most "
        f"{limits.columns:,} (wdcli serve --max-columns)",
    )


def _check_values(name: str, values: list, limits: Limits, use: str | None = None) -> None:
    """A column's values: strings within the length limit (in lists and objects too), and not lists beside
    single values (which Polars would read as the text '[a]'). In a column made into the frame (`use`: the model
    reads it, or ranking groups by it) no object anywhere: no model reads one, and the keys of objects would each
    become a field of the table."""
    lists = single = 0
    for v in values:
        if type(v) is str:
            single += 1
            if len(v) > limits.string:
                raise _too_long(name, len(v), limits)
        elif type(v) is list or type(v) is dict:
            lists += 1
            objects, nested = _check_nested(name, v, limits)
            if nested and not objects and use is not None:
                raise BadRequest(422, f"column '{name}' holds lists of lists; send each a flat list of text or numbers")
            if objects and use is not None:
                raise BadRequest(
                    422,
                    f"column '{name}' holds objects ({{...}}), which "
                    + (
                        "the model cannot read; send text, numbers or lists of them"
                        if use == "read"
                        else "cannot be grouped by; send text or numbers"
                    ),
                )
        elif v is not None:
            single += 1
    if lists and single:
        raise BadRequest(422, f"column '{name}' holds lists beside single values; give every candidate a list")
    if use == "group" and len({_SCALARS.get(type(v)) for v in values} - {None}) > 1:  # (1, "1", true: one group)
        raise BadRequest(
            422,
            f"column '{name}' groups the candidates by values of several types (text, numbers, "
            "true/false); send its values as one type",
        )


_SCALARS = {str: "text", int: "number", float: "number", bool: "true/false"}  # (a group column's kinds of value)


def _check_nested(name: str, value: list | dict, limits: Limits) -> tuple[bool, bool]:
    """A list or object: its strings (keys too) within limits.string (its depth was bounded in the body's bytes,
    `_check_nesting`). A stack, not recursion. Returns whether it holds an object (or is one), and whether it
    holds a list or object within it (no model reads a list of lists: Polars would read [["a"]] as the text)."""
    stack: list[object] = [value]
    objects = nested = False
    while stack:
        v = stack.pop()
        objects = objects or type(v) is dict
        items = v if type(v) is list else [*v.keys(), *v.values()] if type(v) is dict else ()
        for item in items:
            if type(item) is str:
                if len(item) > limits.string:
                    raise _too_long(name, len(item), limits)
            elif type(item) is list or type(item) is dict:
                stack.append(item)
                nested = True
    return objects, nested


def _too_long(name: str, length: int, limits: Limits) -> BadRequest:
    return BadRequest(
        413,
        f"column '{name}': a string of {length:,} characters; this server takes strings of at most "
        f"{limits.string:,} (wdcli serve --max-string)",
    )


def _check_list_values(frame: pl.DataFrame, spec: Spec, limits: Limits) -> None:
    """The list (multivalent) columns the model reads hold at most limits.values values in all, counted after
    splitting (413): each value is a lookup, and a string of 65,536 separators is 65,537 of them (a hostile
    probe's 472 such rows, a 30 MB body, took 2.5 GB and stalled every client for 6 s)."""
    total = 0
    for name, col in spec.columns.items():
        if not isinstance(col, Multivalent) or name not in frame.columns:
            continue
        s = frame[name]
        if s.dtype == pl.String and col.separator:
            total += int(s.str.count_matches(col.separator, literal=True).sum() or 0) + s.count()
        elif isinstance(s.dtype, pl.List):
            total += int(s.list.len().sum() or 0)
        if total > limits.values:
            raise BadRequest(
                413,
                f"the list columns hold more than {limits.values:,} values (column '{name}' went past it); this "
                f"server takes at most {limits.values:,} a request (wdcli serve --max-values); split the request",
            )


def check_frame(frame: pl.DataFrame, spec: Spec) -> None:
    """Every column the model reads is present and of a type it can read (else 422 naming each)."""
    try:
        check_columns(spec, frame, "request", need_label=False, what="request")
    except DataError as e:
        raise BadRequest(422, str(e)) from None
    problems = []
    for column, needs in spec_inputs(spec).items():
        dtype = frame.schema.get(column)
        if dtype is None:
            continue  # (absent: check_columns said so)
        readable = dtype.is_numeric() or dtype in TEXT_TYPES
        if needs.reads == "numeric" and not readable:
            problems.append(f"column '{column}' should hold numbers, not {dtype}")
        elif needs.reads == "categorical" and not readable:
            problems.append(f"column '{column}' should hold text or numbers, not {dtype}")
    if problems:
        raise BadRequest(422, "request: " + "; ".join(problems))
