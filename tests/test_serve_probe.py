"""`wdcli serve` against attacks issue 21 did not list, found by a second probe: objects whose keys multiply a
frame, `keep` that multiplies the answer, bodies in an encoding or a compression the server does not read,
and a request that names two hosts. Each is answered within a second with a 4xx naming the problem, or
correctly."""

from __future__ import annotations

import gzip

from wdcli.serve.bodies import dumps

from .test_serve import InProcess, candidates, runs, server  # noqa: F401 (runs: a fixture)
from .test_serve_hostile import JSON, client, timed  # noqa: F401 (client: a fixture)


def test_objects_in_a_read_column_are_refused_before_a_frame_is_built(client):  # noqa: F811
    # 5,000 rows, each an object with a key of its own, would be a frame of 5,000 struct fields (gigabytes)
    rows = [{**row, "country": {f"k{i}": 1}} for i, row in enumerate(candidates(5000).to_dicts())]
    r = timed(client, "/predict", {"rows": rows})
    assert r.status_code == 422 and "column 'country' holds objects" in r.json()["error"], r.text
    r = timed(client, "/predict", {"rows": [{**row, "installed": [{"a": "x"}]} for row in candidates(5).to_dicts()]})
    assert r.status_code == 422 and "column 'installed' holds objects" in r.json()["error"], r.text


def test_lists_of_lists_in_a_read_column_are_refused(client):  # noqa: F811
    """No model reads a list of lists: Polars would make [["a"]] a value of its own (its text), scored with no
    complaint; in a column the model reads it is a 422 naming the column, in one it does not it is let be."""
    rows = candidates(4).to_dicts()
    nested = [{**row, "installed": [["a"]] if i == 0 else ["b"]} for i, row in enumerate(rows)]
    r = timed(client, "/predict", {"rows": nested})
    assert r.status_code == 422 and "column 'installed' holds lists of lists" in r.json()["error"], r.text
    r = timed(client, "/predict", {"rows": [{**row, "unread": [["a"]]} for row in rows]})
    assert r.status_code == 200, r.text


def test_a_list_in_a_categorical_column_tells_the_client_to_send_one_value(client):  # noqa: F811
    """A walk's client sent a one-value column as a JSON list and read 'declare it kind: multivalent', advice for
    the spec's author; the client is told what to send."""
    rows = [{**row, "country": ["US", "DE"]} for row in candidates(3).to_dicts()]
    r = timed(client, "/predict", {"rows": rows})
    error = r.json()["error"]
    assert r.status_code == 422 and "column 'country' holds lists; send one value for it in each row" in error, r.text
    assert "declare" not in error


def test_kept_columns_are_echoed_as_sent_at_the_cost_of_the_body(client):  # noqa: F811
    rows = candidates(3000).to_dicts()
    objects = [{**row, "x": {f"k{i}": 1}} for i, row in enumerate(rows)]  # one key each: not a 3,000-field table
    r = timed(client, "/predict", {"rows": objects, "keep": ["x"]})
    assert r.status_code == 200 and r.json()["rows"][7] == {"x": {"k7": 1}, "score": r.json()["scores"][7]}
    assert len(r.content) < 2 * len(dumps({"rows": objects}))
    mixed = [{**row, "id": 1 if i % 2 else "a"} for i, row in enumerate(rows[:4])]
    r = timed(client, "/predict", {"rows": mixed, "keep": ["id"]})
    assert [k["id"] for k in r.json()["rows"]] == ["a", 1, "a", 1]  # not the text '1'
    r = timed(client, "/rank", {"rows": mixed, "keep": ["id"], "top_k": 1})
    assert all(isinstance(c["id"], str | int) for g in r.json()["groups"] for c in g["candidates"])


def test_keep_of_columns_most_rows_lack_is_refused(client):  # noqa: F811
    # 900 kept names, each in one row of 3,000: the answer would hold 2.7 million nulls for a small body
    rows = candidates(3000).to_dicts()
    for j in range(900):
        rows[j][f"c{j}"] = 1
    r = timed(client, "/predict", {"rows": rows, "keep": [f"c{j}" for j in range(900)]})
    assert r.status_code == 422 and "'keep' names 'c0', which 2,999 of 3,000 candidates lack" in r.json()["error"]
    assert len(r.content) < 1000
    r = timed(client, "/predict", {"rows": rows[:3], "keep": [f"x{i}" for i in range(50_000)]})
    assert r.status_code == 422 and "and 49,990 more" in r.json()["error"] and len(r.content) < 1000
    r = timed(client, "/predict", {"rows": [{**row, "id": None} for row in rows[:3]], "keep": ["id"]})
    assert r.status_code == 200 and r.json()["rows"][0] == {"id": None, "score": r.json()["scores"][0]}


def test_a_group_column_of_objects_is_refused(client):  # noqa: F811
    rows = [{**row, "g": {f"k{i}": 1}} for i, row in enumerate(candidates(3000).to_dicts())]
    r = timed(client, "/rank", {"rows": rows, "group_by": "g"})
    assert r.status_code == 422 and "column 'g' holds objects" in r.json()["error"], r.text


def test_compressed_or_non_utf8_bodies_say_so(client):  # noqa: F811
    raw = dumps({"rows": candidates(3).to_dicts()})
    r = timed(client, "/predict", gzip.compress(raw), {**JSON, "content-encoding": "gzip"})
    assert r.status_code == 415 and "content-encoding 'gzip'" in r.json()["error"].lower(), r.text
    r = timed(client, "/predict", raw, {**JSON, "content-encoding": "gzip"})  # a plain body that says it is not
    assert r.status_code == 415
    assert timed(client, "/predict", raw, {**JSON, "content-encoding": "identity"}).status_code == 200
    r = timed(client, "/predict", raw.decode().encode("utf-16"), JSON)
    assert r.status_code == 400 and "not UTF-8" in r.json()["error"], r.text
    latin = dumps({"rows": [{**row, "country": "Zürich"} for row in candidates(3).to_dicts()]})
    r = timed(client, "/predict", latin.decode().encode("latin-1"), JSON)
    assert r.status_code == 400 and "not UTF-8" in r.json()["error"], r.text


def test_a_request_naming_two_hosts_is_refused(client):  # noqa: F811
    raw = dumps({"rows": candidates(3).to_dicts()})
    headers = [("content-type", "application/json"), ("host", "127.0.0.1"), ("host", "evil.example")]
    r = client.run(client.http.post("/predict", content=raw, headers=headers))
    assert r.status_code == 400 and "Host" in r.json()["error"], r.text


def test_concurrent_reloads_of_one_worker_do_not_fail(tmp_path):
    """Two /reload answered by one worker at once wrote their acknowledgements through one temporary file (named
    after the process): one of them failed with a 500, and the other waited 10 s for it."""
    from concurrent.futures import ThreadPoolExecutor

    from wdcli.serve.workers import Generation

    generation = Generation(tmp_path, 2)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: (generation.bump(), generation.ack(i, "run")), range(400)))
    assert generation.current() >= 1 and generation.serving(0, "run") == 1
