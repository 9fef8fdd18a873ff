"""`wdcli serve` against hostile and careless clients (issue 21): every request is answered within a second with
a 4xx naming the problem, or correctly; none is a 5xx, stalls the others or fails them."""

from __future__ import annotations

import asyncio
import re
import shutil
import time

import httpx
import numpy as np
import pytest

from wdcli.serve import bodies
from wdcli.serve.app import ServeConfig, Server
from wdcli.serve.bodies import dumps

from .test_serve import InProcess, _train_next, candidates, runs, server  # noqa: F401 (runs: a fixture)

JSON = {"content-type": "application/json"}


NESTED = "__nested__"


def nested(levels: int, kind: str = "list") -> str:
    """A placeholder for `levels` nested lists or objects (JSON libraries refuse to write them; `body` does)."""
    return f"{NESTED}{levels}{kind}"


def body(doc: dict) -> bytes:
    """A JSON body, each placeholder of `nested` written out."""
    out = dumps(doc)
    for levels, kind in {(int(m[0]), m[1].decode()) for m in re.findall(rb"__nested__(\d+)(list|object)", out)}:
        opened, closed = ("[" * levels, "]" * levels) if kind == "list" else ('{"k":' * levels, "}" * levels)
        out = out.replace(f'"{nested(levels, kind)}"'.encode(), f'{opened}"x"{closed}'.encode())
    return out


def timed(client: InProcess, path: str, doc: dict | bytes, headers: dict | None = None) -> httpx.Response:
    content = doc if isinstance(doc, bytes) else body(doc)
    t0 = time.perf_counter()
    r = client.post(path, content=content, headers=headers or JSON)
    assert time.perf_counter() - t0 < 1.0, (r.status_code, r.text[:200])
    assert r.status_code < 500 and client.get("/health").status_code == 200, r.text[:300]
    return r


@pytest.fixture(scope="module")
def client(runs):  # noqa: F811
    with InProcess(server(runs).app()) as c:
        yield c


@pytest.fixture
def unparsed(monkeypatch):
    """Parsing a body fails the request (a 500): what is refused must be refused from the body's bytes."""

    def loads(body):
        raise AssertionError("the body was parsed")

    monkeypatch.setattr(bodies, "loads", loads)


@pytest.mark.parametrize("kind", ["list", "object"])
def test_deep_nesting_in_any_column_is_refused_before_the_body_is_parsed(client, unparsed, kind):
    # issue 21 #1: 5,322 rows of a 1,000-level object in an unused column (31 MB) took 1.2 GB to parse
    rows = candidates(5).to_dicts()
    for column in ("country", "unused"):
        r = timed(client, "/predict", {"rows": [{**row, column: nested(1000, kind=kind)} for row in rows]})
        assert r.status_code == 413 and "nested more than 8 levels" in r.json()["error"] and "--max-depth" in r.text
    r = timed(client, "/predict", {"columns": {"country": [nested(500, kind=kind)] * 5}})
    assert r.status_code == 413
    r = timed(client, "/predict", b'{"rows": [{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}]}")
    assert r.status_code == 413  # (past JSON's own limit too: 1,024 levels)
    lists = {
        "rows": [{**rows[0], "unused": [[]] * 1_000_001}]
    }  # (and 4 around them) 3 MB: shallow, but a million lists
    r = timed(client, "/predict", lists)
    assert r.status_code == 413 and "1,000,005 lists and objects" in r.json()["error"] and "--max-containers" in r.text


@pytest.mark.parametrize("kind", ["list", "object"])
def test_a_value_may_nest_max_depth_levels_in_rows_columns_and_keep(client, kind):
    rows = candidates(5).to_dicts()
    for levels, status in ((8, 200), (9, 413)):
        value = nested(levels, kind=kind)
        r = timed(client, "/predict", {"rows": [{**row, "unused": value} for row in rows]})
        assert r.status_code == status, (levels, r.text)
        r = timed(client, "/predict", {"rows": [{**row, "x": value} for row in rows], "keep": ["x"]})
        assert r.status_code == status, (levels, r.text)
        columns = {k: [row[k] for row in rows] for k in rows[0]}
        r = timed(client, "/predict", {"columns": {**columns, "unused": [value] * 5}})
        assert r.status_code == status, (levels, r.text)


def test_brackets_quotes_and_backslashes_within_strings_do_not_count(client):
    rows = candidates(5).to_dicts()
    notes = ["[" * 50, '{"k":' * 40 + '"', 'a\\"[[[[[[[[[[[[', "ends in a backslash \\", '\\\\"{{{{{{{{{{{{{{{{']
    kept = [{**row, "note": note, "[[[[[[[[[[[[": "}" * 30} for row, note in zip(rows, notes, strict=True)]
    r = timed(client, "/predict", {"rows": kept, "keep": ["note", "[[[[[[[[[[[["]})
    assert r.status_code == 200, r.text
    assert [k["note"] for k in r.json()["rows"]] == notes


def test_a_bad_request_fails_alone_in_a_batch(runs):  # noqa: F811
    s = server(runs, batch_window_ms=50)
    big = {"rows": candidates(3000, seed=1).to_dicts()}
    valid = [{"rows": candidates(20, seed=i).to_dicts()} for i in range(10)]
    bad = {"rows": [{**row, "impression": nested(500)} for row in candidates(20).to_dicts()]}

    async def together() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=s.app())
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            bodies = [big, *valid[:5], bad, *valid[5:]] * 3
            return await asyncio.gather(*(c.post("/predict", content=body(b), headers=JSON) for b in bodies))

    answers = asyncio.run(together())
    statuses = [r.status_code for r in answers]
    assert statuses.count(200) == 33 and statuses.count(413) == 3, statuses


def test_many_distinct_keys_are_refused_before_a_frame_is_built(client):
    rows = candidates(6000).to_dicts()
    r = timed(client, "/predict", {"rows": [{**row, f"extra{i}": 1} for i, row in enumerate(rows)]})
    assert r.status_code == 413 and "more than 1,000 distinct keys" in r.json()["error"] and "--max-columns" in r.text
    r = timed(client, "/predict", {"rows": [{**row, f"extra{i % 900}": 1} for i, row in enumerate(rows)]})
    assert r.status_code == 200 and len(r.json()["scores"]) == 6000  # 900 extra keys: dropped, not tabled


def test_a_long_string_is_refused_or_scored_per_value(client, runs):  # noqa: F811
    rows = candidates(5).to_dicts()
    rows[0]["impression"] = "x" * (2 << 20)
    r = timed(client, "/predict", {"rows": rows})
    assert r.status_code == 413 and "a string of 2,097,152 characters" in r.json()["error"]
    with InProcess(server(runs, max_string=4 << 20).app()) as big:
        r = timed(big, "/predict", {"rows": rows})  # allowed: hashed in the cross per value, not per byte
        assert r.status_code == 200 and np.isfinite(r.json()["scores"]).all()


def test_keep_names_and_content_types(client):
    rows = candidates(6).to_dicts()
    r = timed(client, "/predict", {"rows": rows, "keep": ["user", "user"]})
    assert r.status_code == 200 and list(r.json()["rows"][0]) == ["user", "score"]
    r = timed(
        client,
        "/rank",
        {"rows": [{**row, "score": 9, "rank": 9, "index": 9} for row in rows], "keep": ["score", "rank", "index"]},
    )
    assert r.status_code == 422 and "which the answer gives itself" in r.json()["error"]
    raw = dumps({"rows": rows})
    for media in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None):
        r = timed(client, "/predict", raw, {"content-type": media} if media else {"x": "y"})
        assert r.status_code == 415 and "application/json" in r.json()["error"]
    r = timed(client, "/predict", raw, {"content-type": "application/json; charset=utf-8"})
    assert r.status_code == 200
    r = timed(client, "/predict", {"columns": {"country": [["us"], "de"]}})
    assert r.status_code == 422 and "lists beside single values" in r.json()["error"]


def test_access_token_host_origin_and_what_errors_tell(runs, monkeypatch):  # noqa: F811
    s = Server(ServeConfig(model=str(runs / "runs" / "apps"), watch=False, token="s3cret"))
    raw = dumps({"rows": candidates(3).to_dicts()})
    with InProcess(s.app()) as c:
        assert c.get("/health").status_code == 401
        assert c.post("/reload", headers={"authorization": "Bearer nope"}).status_code == 401
        auth = {**JSON, "authorization": "Bearer s3cret"}
        assert c.post("/predict", content=raw, headers=auth).status_code == 200
        assert c.post("/predict", content=raw, headers={**auth, "host": "evil.example"}).status_code == 421
        r = c.post("/predict", content=raw, headers={**auth, "origin": "http://evil.example"})
        assert r.status_code == 403
        r = c.post("/reload", headers={**auth, "origin": "null"})  # (a sandboxed frame's script: a hostile probe)
        assert r.status_code == 403 and "Origin: null" in r.json()["error"]
        assert c.post("/predict", content=raw, headers={**auth, "host": "localhost:8000"}).status_code == 200
        meta = c.run(c.http.get("/metadata", headers=auth)).json()
        assert "path" not in meta and str(runs) not in str(meta)

        def broken(*args, **kwargs):
            raise RuntimeError("/secret/internal/detail")

        monkeypatch.setattr(s.models.current.scorer, "score", broken)
        r = c.post("/predict", content=raw, headers=auth)
        assert r.status_code == 500 and "secret" not in r.text and "log" in r.json()["error"]
    with pytest.raises(Exception, match="exposes the server to the network"):
        ServeConfig(model=str(runs), host="0.0.0.0")


def test_a_full_queue_answers_503_with_retry_after(runs):  # noqa: F811
    s = server(runs, max_queue=1, batch_window_ms=50)
    raw = dumps({"rows": candidates(2000).to_dicts()})

    async def burst() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=s.app())
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            return await asyncio.gather(*(c.post("/predict", content=raw, headers=JSON) for _ in range(12)))

    answers = asyncio.run(burst())
    busy = [r for r in answers if r.status_code == 503]
    assert busy and all(r.headers["retry-after"] == "1" for r in busy)
    assert all(r.status_code in (200, 503) for r in answers) and any(r.status_code == 200 for r in answers)


def test_reload_storms_and_half_copied_runs(runs, tmp_path):  # noqa: F811
    s = server(runs)
    with InProcess(s.app()) as c:
        t0 = time.perf_counter()
        answers = [c.post("/reload") for _ in range(30)]
        assert time.perf_counter() - t0 < 1.5  # each an `unchanged` of a few stat calls, not a load
        assert {r.json()["status"] for r in answers} == {"unchanged"}
        newer = _train_next(runs)
        weights = tmp_path / "weights.safetensors"
        shutil.move(newer / "weights.safetensors", weights)  # the copy is not complete yet
        r = c.post("/reload")
        assert r.status_code == 409 and "missing file weights.safetensors" in r.json()["error"]
        assert c.post("/reload").status_code == 409  # refused again at once, not loaded again
        shutil.move(weights, newer / "weights.safetensors")  # now it is
        r = c.post("/reload")
        assert r.status_code == 200 and r.json()["run"] == newer.name, r.text
        (newer.parent / "linked").symlink_to(tmp_path)
        (newer.parent / "LATEST").write_text("linked\n")
        r = c.post("/reload")
        assert r.status_code == 409 and "symbolic link" in r.json()["error"]
        (newer.parent / "LATEST").write_text(newer.name + "\n")
        (newer.parent / "linked").unlink()


def test_a_network_bind_without_a_token_refuses_to_start(runs, monkeypatch):  # noqa: F811
    from typer.testing import CliRunner

    from wdcli.cli import app

    from .test_serve_procs import free_port

    args = ["serve", "--model", str(runs / "runs" / "apps"), "--host", "0.0.0.0", "--port", str(free_port()), "--check"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 2 and "exposes the server to the network" in r.output
    monkeypatch.setenv("WDCLI_SERVE_TOKEN", "s3cret")
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0 and "http://0.0.0.0:" in r.output


def test_reload_errors_name_no_absolute_path(runs, tmp_path):  # noqa: F811
    """A 409 names the run by its folder under --model, and the holdout by its file name: a client learns nothing
    of where the server keeps its files."""
    holdout = tmp_path / "holdout.csv"
    candidates(50, seed=21).write_csv(holdout)  # (no label: a new run cannot be verified on it)
    s = Server(ServeConfig(model=str(runs / "runs" / "apps"), watch=False, verify_input=str(holdout)))
    latest = runs / "runs" / "apps" / "LATEST"
    current = latest.read_text()
    newer = _train_next(runs)
    errors = []
    try:
        with InProcess(s.app()) as c:
            errors.append(c.post("/reload").json()["error"])  # the holdout has no label
            weights = tmp_path / "weights.safetensors"
            shutil.move(newer / "weights.safetensors", weights)  # half copied
            errors.append(c.post("/reload").json()["error"])
            shutil.move(weights, newer / "weights.safetensors")
            latest.write_text("gone\n")
            errors.append(c.post("/reload").json()["error"])
    finally:
        latest.write_text(current)
    assert "clicked" in errors[0] and "holdout.csv" in errors[0] and newer.name in errors[1], errors
    assert "gone" in errors[2], errors
    assert not any(str(tmp_path.parent) in e or "/tmp" in e for e in errors), errors


def test_a_list_joined_by_another_separator_is_refused_and_says_how_to_send_it(client):
    """'app1,app2' where the spec splits on '|' is one unknown value: the row would be scored as if its list held
    nothing the model knows. The request is refused (422), saying what to send; the same lists joined by '|',
    sent as JSON lists, or holding one value each are scored; so is an unknown value that holds a comma."""
    rows = candidates(20).to_dicts()
    wrong = [{**row, "installed": row["installed"].replace("|", ",")} for row in rows]
    assert any("," in row["installed"] for row in wrong)
    r = client.post("/predict", json={"rows": wrong})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert "column 'installed' holds 'app" in error and "each piece split on ',' is one" in error
    assert "columns.installed.separator is '|': send each row's values as a JSON list, or joined by '|'" in error
    joined_right = [{**row, "installed": "app1|app2"} for row in rows[:5]]
    for fine in (
        rows,
        [{**row, "installed": row["installed"].split("|") if row["installed"] else []} for row in rows],
        [{**row, "installed": "app1,unknown"} for row in rows],  # (a piece unknown: no sure mistake)
        [{**row, "installed": "app1/app2"} for row in rows],  # ('/' is a part of names: 'Sci-Fi/Fantasy')
        joined_right + [{**row, "installed": "app1,app2"} for row in rows[5:]],  # (a rare value, joined rows beside)
    ):
        r = client.post("/predict", json={"rows": fine})
        assert r.status_code == 200, r.text


def test_list_values_past_max_values_are_refused_before_they_are_looked_up(runs):  # noqa: F811
    """A list column's values are counted after splitting: a string of 2,000 separators is 2,001 values (a hostile
    probe: 472 rows of 65,536 '|' took 2.5 GB and stalled every client for 6 s). Past --max-values, 413 naming
    the option, joined or sent as lists; within it, scored."""
    rows = candidates(20).to_dicts()
    with InProcess(server(runs, max_values=1_000).app()) as c:
        lists = [{**row, "installed": row["installed"].split("|")} for row in rows[1:]]
        for first, rest in (("|" * 2_000, rows[1:]), (["app1"] * 2_000, lists)):
            r = timed(c, "/predict", {"rows": [{**rows[0], "installed": first}] + rest})
            assert r.status_code == 413 and "--max-values" in r.json()["error"] and "'installed'" in r.text, r.text
        assert timed(c, "/predict", {"rows": [{**row, "installed": "|" * 40} for row in rows]}).status_code == 200


def test_a_group_column_of_mixed_types_is_refused(client):
    """`1`, `"1"` and `true` in /rank's group column would be read as one group by a table (a hostile probe: two
    requests' candidates ranked together with a 200): 422; values of one type are ranked apart."""
    rows = candidates(6).to_dicts()
    mixed = [{**row, "user": v} for row, v in zip(rows, [1, "1", True, 1, "1", True])]
    r = timed(client, "/rank", {"rows": mixed})
    assert r.status_code == 422 and "column 'user' groups the candidates by values of several types" in r.text
    same = [{**row, "user": v} for row, v in zip(rows, [1, 2, 3, 1, 2, 3])]
    r = timed(client, "/rank", {"rows": same})
    assert r.status_code == 200 and len(r.json()["groups"]) == 3, r.text


def test_bodies_received_at_once_are_bounded_and_counted_back(runs):  # noqa: F811
    """Bodies being received count against RECEIVING bodies of --max-body-mb a worker (40 bodies of 30 MB held a
    byte short of their end took 1.2 GB): with others' bytes at the bound a body is answered 503 with
    Retry-After; every body's bytes are counted back when it is read, whatever its answer."""
    from wdcli.serve.app import RECEIVING

    s = server(runs, max_body_mb=1)
    raw = dumps({"rows": candidates(20).to_dicts()})
    with InProcess(s.app()) as c:
        assert c.post("/predict", content=raw, headers=JSON).status_code == 200
        assert c.post("/predict", content=b"{" * 10 + b" " * (2 << 20), headers=JSON).status_code == 413
        assert s.receiving == 0
        s.receiving = RECEIVING * s.max_body - 100  # (others' bodies, arriving)
        r = c.post("/predict", content=raw, headers=JSON)
        assert r.status_code == 503 and r.headers["retry-after"] == "1" and "retry" in r.json()["error"]
        assert s.receiving == RECEIVING * s.max_body - 100


def test_large_bodies_are_parsed_a_few_at_a_time(runs, monkeypatch):  # noqa: F811
    """What parsing builds is what costs (a probe: 8 bodies of 6M strings at once took 2.5 GB): a worker parses at
    most PARSES large bodies at once, the others waiting their turn; each is answered."""
    from wdcli.serve import app as served

    s = server(runs)
    at_once = most = 0
    real = served.parse

    def parse(*args):
        nonlocal at_once, most
        at_once += 1
        most = max(most, at_once)
        time.sleep(0.05)
        try:
            return real(*args)
        finally:
            at_once -= 1

    monkeypatch.setattr(served, "parse", parse)
    raw = dumps({"rows": candidates(2000).to_dicts()})
    assert len(raw) > served.PARSE_IN_THREAD

    async def burst() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=s.app())
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            return await asyncio.gather(*(c.post("/predict", content=raw, headers=JSON) for _ in range(8)))

    assert all(r.status_code == 200 for r in asyncio.run(burst()))
    assert most == served.PARSES
