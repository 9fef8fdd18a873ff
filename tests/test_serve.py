"""`wdcli serve`: the endpoints, bad requests (4xx with a JSON error, never a 500), micro-batching, hot reload
with no failed request, and the command over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import httpx
import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wdcli.run import run_training
from wdcli.score import Scorer
from wdcli.serve.app import ServeConfig, Server
from wdcli.spec import load_spec

from .conftest import apps_frame


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """runs/apps with one run (LATEST points at it), trained on the conftest's apps-like frame."""
    from .conftest import APPS_SPEC

    folder = tmp_path_factory.mktemp("serve")
    apps_frame(400).write_csv(folder / "apps.csv")
    (folder / "apps.yaml").write_text(APPS_SPEC.format(path="apps.csv"))
    spec = load_spec(folder / "apps.yaml", ["train.epochs=1", f"train.output={folder / 'runs'}"])
    run_training(spec)
    return folder


class InProcess:
    """The app in-process on an event loop of its own, its lifespan (the watcher) run, with blocking calls."""

    def __init__(self, app):
        self.app, self.loop = app, asyncio.new_event_loop()

    def __enter__(self) -> InProcess:
        self.lifespan = self.app.router.lifespan_context(self.app)
        self.run(self.lifespan.__aenter__())
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://127.0.0.1:8000")
        return self

    def __exit__(self, *exc) -> None:
        self.run(self.http.aclose())
        self.run(self.lifespan.__aexit__(None, None, None))
        self.loop.close()

    def run(self, coroutine):
        return self.loop.run_until_complete(coroutine)

    def post(self, path: str, **kwargs) -> httpx.Response:
        kwargs.setdefault("headers", {"content-type": "application/json"})
        return self.run(self.http.post(path, **kwargs))

    def get(self, path: str) -> httpx.Response:
        return self.run(self.http.get(path))


def server(runs: Path, **options) -> Server:
    return Server(ServeConfig(model=str(runs / "runs" / "apps"), watch=False, **options))


def candidates(n: int = 30, seed: int = 5) -> pl.DataFrame:
    return apps_frame(n, seed=seed).drop("clicked")


def test_predict_and_rank_answer_what_the_scorer_says(runs):
    s = server(runs)
    frame = candidates()
    expected = Scorer.load(runs / "runs" / "apps").score(frame)
    with InProcess(s.app()) as client:
        r = client.post("/predict", json={"rows": frame.to_dicts()})
        assert r.status_code == 200, r.text
        assert np.allclose(r.json()["scores"], expected, atol=1e-12)
        r = client.post("/predict", json={"columns": frame.to_dict(as_series=False), "keep": ["user"]})
        assert np.allclose([row["score"] for row in r.json()["rows"]], expected, atol=1e-12)
        assert r.json()["rows"][0]["user"] == frame["user"][0]

        frame = frame.with_columns(user=pl.Series([f"u{i % 4}" for i in range(len(frame))]))  # (groups of 7-8)
        r = client.post("/rank", json={"rows": frame.to_dicts(), "top_k": 2, "keep": ["impression"]})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["group_by"] == "user"  # the spec's label.group, present in the rows
        assert [g["group"] for g in body["groups"]] == frame["user"].unique(maintain_order=True).to_list()
        for g in body["groups"]:
            rows = [i for i, u in enumerate(frame["user"]) if u == g["group"]]
            best = sorted(rows, key=lambda i: -expected[i])[:2]
            assert len(rows) > 2 and expected[best[0]] > expected[best[1]]  # (an order to get right)
            assert [c["index"] for c in g["candidates"]] == best
            assert [c["rank"] for c in g["candidates"]] == list(range(1, len(best) + 1))
            assert all(c["impression"] == frame["impression"][c["index"]] for c in g["candidates"])
        r = client.post("/rank", json={"rows": frame.drop("user").to_dicts()})  # no group: one list
        assert len(r.json()["groups"]) == 1 and len(r.json()["groups"][0]["candidates"]) == len(frame)

        assert client.get("/health").json()["status"] == "ok"
        meta = client.get("/metadata").json()
        assert meta["name"] == "apps" and meta["format_version"] == 1 and meta["run"]
        assert {f["name"] for f in meta["features"]} >= {"installed", "impression", "installed_x_impression"}
        text = client.get("/metrics").text
        assert 'wdcli_requests_total{route="predict",status="200"' in text
        assert "wdcli_request_seconds_bucket" in text and "wdcli_candidates_total" in text


def test_ranks_metrics_read_each_candidates_own_label(runs):
    """`Scorer.rank`'s metrics against the references of test_metrics, from the input's labels and scores."""
    from .test_metrics import by_hand

    scorer = Scorer.load(runs / "runs" / "apps")
    frame = apps_frame(80, seed=7).with_columns(user=pl.Series([f"u{i % 5}" for i in range(80)]))
    ranked = scorer.rank(frame, k=5)
    y, s = frame["clicked"].to_numpy().astype(float), scorer.score(frame)
    ref = by_hand(y, s, frame["user"].to_numpy(), 5)
    assert ranked.metrics is not None and ranked.metrics["groups_with_positives"] == ref["groups"] == 5
    for name, key in (("ndcg", "ndcg@5"), ("map", "map"), ("mrr", "mrr"), ("gauc", "gauc")):
        assert ranked.metrics[key] == pytest.approx(ref[name], abs=1e-9), name


BAD = [
    (b"{not json", 400, "not valid JSON"),
    (b"[1, 2]", 400, "JSON object"),
    (b'{"rows": [], "columns": {}}', 400, "one of the two"),
    (b'{"rows": "x"}', 400, "list of objects"),
    (b'{"rows": [{"age": 1}]}', 422, "missing column"),
    (b'{"columns": {"age": [1, 2], "user": [1]}}', 422, "different lengths"),
    (b'{"rows": []}', 422, "no candidates"),
    (b'{"rows": [{"x": 1}], "top_k": 3}', 400, "unknown key 'top_k'"),
]


@pytest.mark.parametrize("body,status,text", BAD)
def test_bad_requests_get_4xx_json_errors(runs, body, status, text):
    with InProcess(server(runs).app()) as client:
        r = client.post("/predict", content=body)
        assert r.status_code == status and text in r.json()["error"], r.text


def test_wrong_types_sizes_and_routes(runs):
    frame = candidates(5)
    with InProcess(server(runs, max_body_mb=1.0, max_candidates=1000).app()) as client:
        r = client.post("/predict", json={"rows": frame.with_columns(age=pl.lit("old")).to_dicts()})
        assert r.status_code == 422 and "'age'" in r.json()["error"]
        r = client.post("/predict", json={"rows": frame.with_columns(impression=pl.struct(a=pl.lit(1))).to_dicts()})
        assert r.status_code == 422 and "'impression'" in r.json()["error"]
        mixed = frame.to_dicts()
        mixed[1]["age"] = "x"
        r = client.post("/predict", json={"rows": mixed})
        assert r.status_code == 422, r.text
        r = client.post("/predict", content=b'{"rows": [' + b'{"a": 1},' * 200_000 + b'{"a": 1}]}')
        assert r.status_code == 413 and "max-body-mb" in r.json()["error"]
        r = client.post("/predict", json={"columns": {"age": [1] * 1001}})
        assert r.status_code == 413 and "at most 1,000" in r.json()["error"]
        r = client.post("/rank", json={"rows": frame.to_dicts(), "top_k": 0})
        assert r.status_code == 400 and "top_k" in r.json()["error"]
        r = client.post("/rank", json={"rows": frame.to_dicts(), "group_by": "nope"})
        assert r.status_code == 422 and "nope" in r.json()["error"]
        assert (
            client.get("/nowhere").status_code == 404 and "no such endpoint" in client.get("/nowhere").json()["error"]
        )
        assert client.get("/predict").status_code == 405
        assert client.get("/health").status_code == 200  # still up


def test_a_million_candidates_are_refused(runs):
    with InProcess(server(runs).app()) as client:
        r = client.post("/predict", content=b'{"columns": {"age": [' + b"1," * 999_999 + b"1]}}")
        assert r.status_code == 413 and "1,000,000 candidates" in r.json()["error"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),  # NaN too
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {}, optional={c: json_values for c in ("user", "installed", "impression", "country", "age", "other")}
        ),
        max_size=4,
    ),
    columns=st.dictionaries(
        st.sampled_from(["user", "installed", "impression", "country", "age"]),
        st.lists(json_values, min_size=1, max_size=3),
        max_size=5,
    ),
)
def test_fuzzed_requests_never_get_a_500(fuzz_client, rows, columns):
    for path in ("/predict", "/rank"):
        for body in ({"rows": rows}, {"columns": columns}):
            r = fuzz_client.post(path, content=json.dumps(body).encode())
            assert r.status_code < 500, (body, r.text)
            assert r.status_code == 200 or "error" in r.json()


@pytest.fixture(scope="module")
def fuzz_client(runs):
    with InProcess(server(runs).app()) as client:
        yield client


async def _concurrently(app, bodies: list[dict]) -> list[httpx.Response]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000") as client:
        return await asyncio.gather(*(client.post("/predict", json=b) for b in bodies))


def test_concurrent_requests_are_scored_as_one_batch(runs):
    s = server(runs, batch_window_ms=50)
    frames = [candidates(20, seed=i) for i in range(12)]
    bad = frames[3].with_columns(age=pl.lit("old"))
    responses = asyncio.run(
        _concurrently(
            s.app(),
            [{"rows": f.to_dicts()} for f in frames[:3]]
            + [{"rows": bad.to_dicts()}]
            + [{"rows": f.to_dicts()} for f in frames[4:]],
        )
    )
    scorer = Scorer.load(runs / "runs" / "apps")
    for i, r in enumerate(responses):
        if i == 3:  # the bad one alone fails
            assert r.status_code == 422 and "'age'" in r.json()["error"]
        else:
            assert r.status_code == 200 and np.allclose(r.json()["scores"], scorer.score(frames[i]), atol=1e-9)
    batches = s.stats.batch_requests
    assert sum(batches.counts) < len(frames) and batches.sum == len(frames)  # fewer batches than requests


def test_a_request_that_fails_its_batch_is_scored_again_alone_and_fails_alone(runs, monkeypatch):
    """A request of the same columns and types as the others, whose values pass every check, but whose batch
    fails when scored (here: a scorer made to fail on one app): each request of that batch is scored again
    alone, so the others get their scores and it alone gets the error (a value error: 422)."""
    s = server(runs, batch_window_ms=50)
    frames = [candidates(20, seed=i) for i in range(12)]
    frames[5] = frames[5].with_columns(impression=pl.lit("app-marked"))  # (an app never seen: valid)
    scorer = Scorer.load(runs / "runs" / "apps")
    expected = [scorer.score(f) for f in frames]
    score, failed = Scorer.score, []

    def failing(self, frame, where="input", first_row=0):
        if "app-marked" in frame["impression"]:
            failed.append(len(frame))
            raise ValueError("the marked app cannot be scored")
        return score(self, frame, where, first_row)

    monkeypatch.setattr(Scorer, "score", failing)
    responses = asyncio.run(_concurrently(s.app(), [{"rows": f.to_dicts()} for f in frames]))
    for i, r in enumerate(responses):
        if i == 5:
            error = r.json()["error"]
            assert r.status_code == 422 and "column 'impression' = 'app-marked'" in error, r.text
            assert "the marked app cannot be scored" not in error  # (the exception's own words: in the log)
        else:
            assert r.status_code == 200 and np.allclose(r.json()["scores"], expected[i], atol=1e-9), (i, r.text)
    assert max(failed) > 20 and failed.index(max(failed)) < failed.index(20), failed  # (with others, then alone)


def test_a_value_the_model_fails_on_is_named_in_the_servers_words(runs, monkeypatch):
    """A scoring error of the library's (Polars' here) is answered 422 naming the column, the value and its row,
    and what to send instead; the library's message goes to the log. An error no one column explains says what
    the model reads."""
    frame = candidates(30).with_columns(country=pl.Series(["us"] * 17 + ["xx-marked"] + ["de"] * 12))
    score = Scorer.score

    def failing(self, frame, where="input", first_row=0):
        if "xx-marked" in frame["country"] or (frame["impression"] == "pair-marked").sum() > 1:
            raise pl.exceptions.ComputeError("casting from Utf8View to Int64 failed\n\nResolved plan until failure:")
        return score(self, frame, where, first_row)

    monkeypatch.setattr(Scorer, "score", failing)
    with InProcess(server(runs).app()) as client:
        error = client.post("/predict", json={"rows": frame.to_dicts()}).json()["error"]
        assert "row 18: column 'country' = 'xx-marked'" in error and "send text or a number" in error, error
        marked = candidates(30).with_columns(impression=pl.lit("pair-marked"))  # (fails 2 rows at a time, not 1)
        r = client.post("/predict", json={"rows": marked.to_dicts()})
        assert r.status_code == 422 and "installed" in r.json()["error"] and "age" in r.json()["error"], r.text
        assert not any(word in error + r.text for word in ("casting", "Utf8View", "plan", "Polars"))


def test_a_micro_batch_holds_at_most_max_batch_candidates(runs, monkeypatch):
    """Requests waiting together are split into batches of at most --max-batch candidates (oldest first); a
    request larger than that is scored alone, whole."""
    s = server(runs, batch_window_ms=200, max_batch=25)
    batches: list[tuple[int, int]] = []
    monkeypatch.setattr(s.stats, "batch", lambda requests, rows: batches.append((requests, rows)))
    frames = [candidates(10, seed=i) for i in range(7)] + [candidates(40, seed=7)]
    responses = asyncio.run(_concurrently(s.app(), [{"rows": f.to_dicts()} for f in frames]))
    scorer = Scorer.load(runs / "runs" / "apps")
    for frame, r in zip(frames, responses):
        assert r.status_code == 200 and np.allclose(r.json()["scores"], scorer.score(frame), atol=1e-9)
    assert sum(n for n, _ in batches) == 8 and sum(rows for _, rows in batches) == 110
    assert all(rows <= 25 or n == 1 for n, rows in batches), batches
    assert (1, 40) in batches and any(n == 2 for n, _ in batches), batches  # (and requests did wait together)


def test_a_lone_request_does_not_wait_for_the_window(runs):
    s = server(runs, batch_window_ms=2000)
    body = {"rows": candidates(10).to_dicts()}
    asyncio.run(_concurrently(s.app(), [body]))  # warm up
    t0 = time.perf_counter()
    (r,) = asyncio.run(_concurrently(s.app(), [body]))
    assert r.status_code == 200 and time.perf_counter() - t0 < 1.0


def _train_next(runs: Path, updates: list[str] = ()) -> Path:
    """A new run beside the others (a run id of the same second gets a suffix: no need to wait for the next)."""
    spec = load_spec(runs / "apps.yaml", ["train.epochs=1", "train.seed=9", f"train.output={runs / 'runs'}", *updates])
    return run_training(spec)[1]


def test_hot_reload_swaps_models_without_a_failed_request(runs):
    """The new run is loaded off the event loop: requests go on being answered, and the loop is never held up."""
    s = server(runs)
    app = s.app()
    first = s.models.current.run
    body = {"rows": candidates(50).to_dicts()}

    async def traffic_during_reload() -> tuple[list[httpx.Response], httpx.Response]:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000"
        ) as client:

            async def load() -> list[httpx.Response]:
                out = []
                for _ in range(40):
                    out.append(await client.post("/predict", json=body))
                return out

            task = asyncio.create_task(load())
            await asyncio.sleep(0.05)
            ticks = asyncio.create_task(ticker())
            reload = await client.post("/reload")
            ticks.cancel()
            return await task, reload

    stalls: list[float] = []

    async def ticker() -> None:  # how long the event loop went without a turn while the model was reloaded
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(0.005)
            stalls.append(loop.time() - last)
            last = loop.time()

    newer = _train_next(runs)
    answers, reload = asyncio.run(traffic_during_reload())
    assert max(stalls) < 0.3, f"the event loop stalled {max(stalls):.2f} s during a reload"
    assert reload.status_code == 200 and reload.json()["run"] == newer.name, reload.text
    assert all(r.status_code == 200 for r in answers)
    assert {r.json()["model"] for r in answers} <= {first, newer.name}
    assert s.models.current.run == newer.name


def test_reload_keeps_the_current_model_when_the_new_one_fails_verification(runs, tmp_path):
    holdout = tmp_path / "holdout.csv"
    apps_frame(200, seed=21).write_csv(holdout)
    s = Server(ServeConfig(model=str(runs / "runs" / "apps"), watch=False, verify_input=str(holdout)))
    current = s.models.current.run
    _train_next(runs, ["verify.max_psi=0", "verify.max_moved_share=0", "verify.moved_by=0.00001", "train.seed=11"])
    with InProcess(s.app()) as client:
        r = client.post("/reload")
        assert r.status_code == 409 and "failed verification" in r.json()["error"] and "psi" in r.json()["error"]
        assert client.get("/health").json()["model"] == current
        assert 'wdcli_reloads_total{result="rejected"' in client.get("/metrics").text


def test_verify_input_is_read_with_the_served_runs_separator(tmp_path):
    """A run trained on ';'-separated CSV reads its --verify-input holdout with ';' (data.csv.separator)."""
    from .conftest import APPS_SPEC

    apps_frame(400).write_csv(tmp_path / "apps.csv", separator=";")
    (tmp_path / "apps.yaml").write_text(APPS_SPEC.format(path="apps.csv"))
    sets = ["data.csv.separator=;", "train.epochs=1", f"train.output={tmp_path / 'runs'}"]
    run_training(load_spec(tmp_path / "apps.yaml", sets))
    holdout = tmp_path / "holdout.csv"
    apps_frame(200, seed=21).write_csv(holdout, separator=";")
    s = Server(ServeConfig(model=str(tmp_path / "runs" / "apps"), watch=False, verify_input=str(holdout)))
    loose = ["verify.max_auc_drop=1", "verify.max_logloss_increase=100", "verify.max_calibration_error=100"]
    loose += ["verify.max_gauc_drop=1", "verify.max_moved_share=1", "verify.max_psi=100"]
    newer = run_training(load_spec(tmp_path / "apps.yaml", [*sets, "train.seed=9", *loose]))[1]
    with InProcess(s.app()) as client:
        r = client.post("/reload")
        assert r.status_code == 200 and r.json()["run"] == newer.name, r.text


def test_serve_separator_names_the_verify_inputs(runs, tmp_path):
    from typer.testing import CliRunner

    from wdcli.cli import app

    holdout = tmp_path / "holdout.csv"
    apps_frame(50, seed=21).write_csv(holdout, separator=";")
    args = ["serve", "--model", str(runs / "runs" / "apps"), "--verify-input", str(holdout), "--check"]
    r = CliRunner().invoke(app, [*args, "--port", "8124"])
    assert r.exit_code == 2 and "semicolons" in r.output
    r = CliRunner().invoke(app, [*args, "--port", "8124", "--separator", ";"])
    assert r.exit_code == 0 and "loads" in r.output, r.output


def test_the_watcher_serves_a_new_run(runs):
    s = Server(ServeConfig(model=str(runs / "runs" / "apps"), watch=True, watch_interval=0.2))
    with InProcess(s.app()) as client:
        newer = _train_next(runs)
        deadline = time.time() + 20
        while client.get("/health").json()["model"] != newer.name and time.time() < deadline:
            client.run(asyncio.sleep(0.1))
        assert client.get("/health").json()["model"] == newer.name


def test_the_watcher_tries_a_broken_run_once_and_serves_the_next_good_one(runs, monkeypatch):
    import wdcli.serve.models as served

    s = Server(ServeConfig(model=str(runs / "runs" / "apps"), watch=True, watch_interval=0.02))
    current = s.models.current.run
    loads = []
    real = served.load
    monkeypatch.setattr(served, "load", lambda path: loads.append(path.name) or real(path))
    with InProcess(s.app()) as client:
        broken = _train_next(runs)
        (broken / "weights.safetensors").unlink()  # (while the loop, and so the watcher, waits)
        client.run(asyncio.sleep(0.5))  # some 25 looks of the watcher
        assert loads == [broken.name] and s.stats.reloads["failed"] == 1  # tried once, then skipped
        assert client.get("/health").json()["model"] == current
        newer = _train_next(runs)
        deadline = time.time() + 20
        while client.get("/health").json()["model"] != newer.name and time.time() < deadline:
            client.run(asyncio.sleep(0.05))
        assert client.get("/health").json()["model"] == newer.name and loads == [broken.name, newer.name]


def test_wdcli_serve_over_http(runs):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    p = subprocess.Popen(
        [sys.executable, "-m", "wdcli", "serve", "--model", str(runs / "runs" / "apps"), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                    assert json.loads(r.read())["status"] == "ok"
                    break
            except OSError:
                assert p.poll() is None and time.time() < deadline, p.stderr.read() if p.poll() is not None else ""
                time.sleep(0.2)
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/predict",
            method="POST",
            data=json.dumps({"rows": candidates(3).to_dicts()}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            assert len(json.loads(r.read())["scores"]) == 3
    finally:
        p.terminate()
        _, err = p.communicate(timeout=30)
    assert f"on http://127.0.0.1:{port}" in err


def test_serve_without_a_model_is_a_clear_error(workdir):
    from typer.testing import CliRunner

    from wdcli.cli import app

    r = CliRunner().invoke(app, ["serve", "--port", "8999"])
    assert r.exit_code == 2 and "no trained model" in r.output
    r = CliRunner().invoke(app, ["serve", "--port", "0"])
    assert r.exit_code == 2 and "should be greater than or equal to 1" in r.output


def test_serve_check_loads_and_exits(runs):
    from typer.testing import CliRunner

    from wdcli.cli import app

    with socket.socket() as sock:  # (a free port: --check refuses one in use, as a server started on 8123 did)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    r = CliRunner().invoke(app, ["serve", "--model", str(runs / "runs" / "apps"), "--check", "--port", str(port)])
    assert r.exit_code == 0 and "loads" in r.output and f"http://127.0.0.1:{port}" in r.output
