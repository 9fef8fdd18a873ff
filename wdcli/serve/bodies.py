"""Request bodies: JSON in, a Polars frame of candidates out, or a `BadRequest` that names the problem.

{"rows": [{"impression_app": "app12", "country": "us", ...}, ...]}              records
{"columns": {"impression_app": ["app12", "app7"], "country": ["us", "us"]}}    or columns
+ "keep": ["impression_app"]        columns echoed back beside each score
+ "group_by": "request_id", "top_k": 10          (rank: default the spec's label.group, else one group)
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from ..errors import DataError
from ..features.inputs import check_columns, spec_inputs
from ..spec import Spec

try:  # orjson parses bodies about 3x faster; the standard library does the same job without it
    import orjson as _json

    loads, dumps = _json.loads, _json.dumps
    JSONDecodeError = _json.JSONDecodeError
except ImportError:  # pragma: no cover - the serve extra installs orjson
    import json as _json

    loads, JSONDecodeError = _json.loads, _json.JSONDecodeError

    def dumps(obj) -> bytes:
        return _json.dumps(obj, separators=(",", ":")).encode()


TEXT_TYPES = (pl.String, pl.Null, pl.Boolean)


class BadRequest(Exception):
    """A request the server answers with a 4xx status and a JSON error."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class Parsed:
    frame: pl.DataFrame
    keep: list[str]
    group_by: str | None
    top_k: int | None


def parse(body: bytes, spec: Spec, max_rows: int, ranking: bool) -> Parsed:
    """A request body as a frame of candidates, checked against the spec; raises BadRequest."""
    try:
        doc = loads(body)
    except (JSONDecodeError, ValueError) as e:
        raise BadRequest(400, f"the body is not valid JSON ({e})") from None
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
    frame = _frame(doc, max_rows)
    keep = doc.get("keep") or []
    if not isinstance(keep, list) or not all(isinstance(k, str) for k in keep):
        raise BadRequest(400, "'keep' should be a list of column names")
    absent = [k for k in keep if k not in frame.columns]
    if absent:
        raise BadRequest(
            422,
            f"'keep' names column{'s' if len(absent) > 1 else ''} the rows do not have: {', '.join(map(repr, absent))}",
        )
    group_by, top_k = doc.get("group_by"), doc.get("top_k")
    if group_by is not None and not isinstance(group_by, str):
        raise BadRequest(400, "'group_by' should be a column name")
    if group_by is not None and group_by not in frame.columns:
        raise BadRequest(422, f"'group_by' names column '{group_by}', which the rows do not have")
    if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1):
        raise BadRequest(400, "'top_k' should be a positive integer")
    check_frame(frame, spec)
    return Parsed(frame, keep, group_by, top_k)


def _frame(doc: dict, max_rows: int) -> pl.DataFrame:
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
    else:
        if not isinstance(columns, dict) or not all(isinstance(v, list) for v in columns.values()):
            raise BadRequest(400, "'columns' should be an object whose values are lists, one value per candidate")
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise BadRequest(
                422,
                "the lists of 'columns' have different lengths: "
                + ", ".join(f"{k}: {len(v)}" for k, v in list(columns.items())[:10]),
            )
        n = lengths.pop() if lengths else 0
    if n == 0:
        raise BadRequest(422, "no candidates to score")
    if n > max_rows:
        raise BadRequest(
            413,
            f"{n:,} candidates; this server scores at most {max_rows:,} per request "
            "(wdcli serve --max-candidates); split the request",
        )
    try:
        if rows is not None:
            return pl.DataFrame(rows, infer_schema_length=None, strict=False)
        return pl.DataFrame(columns, strict=False)
    except (TypeError, ValueError, pl.exceptions.PolarsError) as e:
        raise BadRequest(422, f"the candidates cannot be read as a table: {str(e).splitlines()[0][:200]}") from None


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
        elif needs.reads == "multivalent" and isinstance(dtype, pl.Struct):
            problems.append(f"column '{column}' should hold lists or text, not objects")
        elif needs.reads == "weights" and isinstance(dtype, pl.Struct):
            problems.append(f"column '{column}' should hold lists of numbers")
    if problems:
        raise BadRequest(422, "request: " + "; ".join(problems))
