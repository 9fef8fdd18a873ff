"""`wdcli serve`: a trained model over HTTP (Starlette under uvicorn), with micro-batching and hot reload.

    POST /predict   {"rows": [...]} or {"columns": {...}}  -> {"model": run, "scores": [...]}
    POST /rank      the same, + "group_by", "top_k"        -> {"model": run, "groups": [{"group", "candidates"}]}
    POST /reload    load the run --model points at now (verified first, with --verify-input)
    GET  /health, /metadata, /metrics (Prometheus text)

A bad request gets a 4xx and a JSON body `{"error": "...", "status": N}` that names the problem; the server
never answers a bad request with a 500, and never stops on one. What a request may cost is bounded
(`bodies.Limits`, the body size, the time to send it, the requests waiting: 503 with Retry-After past it); who
may ask is `http.Access`. See docs/serving.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ..errors import WdcliError
from .batcher import Batcher
from .bodies import BadRequest, Limits, Parsed, dumps, parse
from .http import TOKEN_ENVIRONMENT, Access, GuardedProtocol, connections_that_fit, is_loopback, json_body
from .models import Loaded, Models, log
from .stats import Stats
from .workers import Generation, die_with_parent

ENVIRONMENT = "WDCLI_SERVE_CONFIG"  # how --workers N hands the options to each worker process
PARSE_IN_THREAD = 64 << 10  # bodies larger than this are parsed off the event loop
PARSES = 2  # large bodies parsed at once by a worker (Python parses one at a time anyway: the GIL); what a
# parse builds is what costs (a probe: 8 bodies of 6M strings in an unused list, parsed at once, took 2.5 GB)
RANK_IN_THREAD = 2_000  # /rank answers of more candidates are made off the event loop
RECEIVING = 8  # bodies of --max-body-mb a worker receives at once, at most (in bytes: 256 MB by default)


@dataclass(frozen=True)
class ServeConfig:
    model: str | None = None  # a run folder, or a folder with a LATEST pointer (runs/apps); None: runs/
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    batch_window_ms: float = 2.0
    max_batch: int = 8192  # candidates scored in one micro-batch
    max_candidates: int = 100_000  # per request
    max_body_mb: float = 32.0
    watch: bool = True
    watch_interval: float = 2.0
    verify_input: str | None = None  # a labelled holdout: a new run must pass `verify` against the current one
    separator: str | None = None  # the fields' separator of a .csv verify_input; None: the served run's data.csv
    threads: int = 1  # torch threads per worker
    access_log: bool = False
    max_columns: int = 1_000  # distinct keys in a request (bodies.Limits)
    max_depth: int = 8  # lists or objects within a value
    max_containers: int = 1_000_000  # lists and objects in a body
    max_string: int = 65_536  # characters in a string
    max_values: int = 2_000_000  # values of the list columns the model reads, after splitting, in a request
    max_queue: int = 256  # requests waiting to be scored, per worker; past it 503 with Retry-After
    max_connections: int = 1_000  # open connections per worker, fewer where the open-file limit is lower
    header_timeout: float = 10.0  # seconds for a request's line and headers to arrive
    body_timeout: float = 30.0  # seconds for its body
    token: str | None = None  # bearer token every request must carry (--token, WDCLI_SERVE_TOKEN)
    allowed_hosts: tuple[str, ...] = ()  # Host names answered; () = the loopback names when bound to loopback
    shared: str | None = None  # (--workers N) the folder the workers share (workers.Generation)
    parent: int | None = None  # (--workers N) the process that started the workers
    limits: Limits = field(init=False)

    def __post_init__(self):
        limits = Limits(
            self.max_candidates, self.max_columns, self.max_depth, self.max_string, self.max_containers, self.max_values
        )
        object.__setattr__(self, "limits", limits)
        if not is_loopback(self.host) and not self.token:
            raise WdcliError(
                f"--host {self.host} exposes the server to the network, and it would answer anyone: give it a "
                f"token (--token, or the environment variable {TOKEN_ENVIRONMENT}) that every request must carry"
            )


def _json(body: dict, status: int = 200) -> Response:
    return Response(dumps(body), status_code=status, media_type="application/json")


def _error(status: int, message: str) -> Response:
    return _json({"error": message, "status": status}, status)


class Server:
    def __init__(self, config: ServeConfig):
        import torch

        torch.set_num_threads(max(1, config.threads))
        self.config = config
        self.stats = Stats()
        generation = Generation(config.shared, config.workers) if config.shared else None
        source = Path(config.model) if config.model else None
        self.models = Models(source, self.stats, config.verify_input, config.separator, generation)
        self.batcher = Batcher(
            self.models, self.stats, config.batch_window_ms / 1000, config.max_batch, config.max_queue
        )
        self.max_body = int(config.max_body_mb * (1 << 20))
        self.receiving = 0  # bytes of the bodies being received now (this worker's event loop: no lock)
        self.parsing = asyncio.Semaphore(PARSES)  # (bound to a loop only when a body waits its turn)
        self.access = Access(config.host, config.token, config.allowed_hosts)

    # --------------------------------------------------------------------------------------- endpoints
    async def predict(self, request: Request) -> Response:
        parsed, scores, model = await self._scored(request, ranking=False)
        body = {"model": model.run, "scores": scores.tolist()}
        if parsed.keep:
            body["rows"] = [{**kept, "score": score} for kept, score in zip(parsed.kept, body["scores"])]
        return _json(body)

    async def rank(self, request: Request) -> Response:
        parsed, scores, model = await self._scored(request, ranking=True)
        default = model.scorer.spec.label.group
        group = parsed.group_by or (default if default in parsed.frame.columns else None)
        answer = lambda: _json({"model": model.run, "group_by": group, "groups": ranked(parsed, scores, group)})  # noqa: E731
        # (100,000 candidates' groups are a second of work: off the event loop, as a large body's parsing is)
        return await asyncio.to_thread(answer) if len(scores) > RANK_IN_THREAD else answer()

    async def reload(self, request: Request) -> Response:
        status, body = await self.models.reload_all()
        return _json(body, status)

    async def health(self, request: Request) -> Response:
        return _json({"status": "ok", "model": self.models.current.run, "uptime_s": round(self.models.uptime(), 1)})

    async def metadata(self, request: Request) -> Response:
        return _json(self.models.current.metadata)

    async def metrics(self, request: Request) -> Response:
        text = self.stats.text(self.models.current.metadata)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    # ------------------------------------------------------------------------------------------ helpers
    async def _scored(self, request: Request, ranking: bool) -> tuple[Parsed, np.ndarray, Loaded]:
        if why := json_body(request):
            raise BadRequest(415, why)
        self.batcher.receiving_started()
        try:
            try:
                async with asyncio.timeout(self.config.body_timeout):
                    body = await self._body(request)
            except TimeoutError:
                raise BadRequest(
                    408, f"the body did not arrive within {self.config.body_timeout:g} s; send it at once"
                ) from None
            spec = self.models.current.scorer.spec
            args = (body, spec, self.config.limits, ranking)
            if len(body) > PARSE_IN_THREAD:
                async with self.parsing:
                    parsed = await asyncio.to_thread(parse, *args)
            else:
                parsed = parse(*args)
        finally:
            self.batcher.receiving_done()
        scores, model = await self.batcher.score(parsed.frame)
        return parsed, scores, model

    async def _body(self, request: Request) -> bytes:
        """The request's body, within --max-body-mb; and, so that many slow bodies at once cannot exhaust memory
        (40 bodies of 30 MB held a byte short of their end took a worker's memory up by 1.2 GB), within
        RECEIVING bodies of that size being received at once by this worker: past it 503, retry later."""
        size = request.headers.get("content-length")
        if size is not None and size.isdigit() and int(size) > self.max_body:
            raise BadRequest(
                413,
                f"the body is {int(size):,} bytes; this server takes at most {self.max_body:,} "
                "(wdcli serve --max-body-mb)",
            )
        chunks, total = [], 0
        try:
            async for chunk in request.stream():
                total += len(chunk)
                self.receiving += len(chunk)
                if total > self.max_body:
                    raise BadRequest(413, f"the body is over {self.max_body:,} bytes (wdcli serve --max-body-mb)")
                if self.receiving > RECEIVING * self.max_body:
                    raise BadRequest(
                        503,
                        f"this server is receiving {self.receiving:,} bytes of bodies at once, its most; retry",
                        {"Retry-After": "1"},
                    )
                chunks.append(chunk)
        except ClientDisconnect:
            raise BadRequest(400, "the client went away before sending the whole body") from None
        finally:
            self.receiving -= total
        return b"".join(chunks)

    def route(self, path: str, handler, methods: list[str]) -> Route:
        name = path.strip("/")

        async def endpoint(request: Request) -> Response:
            t0 = time.perf_counter()
            try:
                if denied := self.access.denied(request):
                    raise BadRequest(*denied, {"WWW-Authenticate": "Bearer"} if denied[0] == 401 else None)
                response = await handler(request)
            except BadRequest as e:
                response = _error(e.status, e.message)
                response.headers.update(e.headers or {})
            except Exception:  # noqa: BLE001 - a bug answers 500 (its text in the log, not the answer); the server goes on
                log.exception("%s failed", path)
                response = _error(500, "internal error: the request was not answered; the server's log has the details")
            self.stats.request(name, response.status_code, time.perf_counter() - t0)
            return response

        return Route(path, endpoint, methods=methods)

    def app(self) -> Starlette:
        @contextlib.asynccontextmanager
        async def lifespan(app):
            loop = asyncio.get_running_loop()
            tasks = [loop.create_task(self.models.watch(self.config.watch_interval))] if self.config.watch else []
            if self.models.generation is not None:
                tasks.append(loop.create_task(self.models.follow()))
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                self.batcher.close()

        async def http_error(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, HTTPException)  # the handler is registered for HTTPException only
            message = {
                404: f"no such endpoint: {request.url.path}",
                405: f"{request.method} is not allowed on {request.url.path}",
            }.get(exc.status_code, exc.detail)
            return _error(exc.status_code, message)

        routes = [
            self.route("/predict", self.predict, ["POST"]),
            self.route("/rank", self.rank, ["POST"]),
            self.route("/reload", self.reload, ["POST"]),
            self.route("/health", self.health, ["GET"]),
            self.route("/metadata", self.metadata, ["GET"]),
            self.route("/metrics", self.metrics, ["GET"]),
        ]
        return Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error})


def ranked(parsed: Parsed, scores: np.ndarray, group: str | None) -> list[dict]:
    """Each group's candidates best first (ties: request order), the top k of each, with their index in the
    request, rank, score and the kept columns."""
    frame, k, kept = parsed.frame, parsed.top_k, parsed.kept
    if group is None:
        parts = [(None, np.arange(len(frame)))]
    else:  # the groups in the order they first appear
        values = frame[group].to_list()
        rows = frame.select(group).with_row_index("i").group_by(group, maintain_order=True).agg("i")["i"]
        parts = [(values[r[0]], np.asarray(r, dtype=np.int64)) for r in rows.to_list()]
    out = []
    for value, indices in parts:
        order = indices[np.argsort(-scores[indices], kind="stable")][:k]
        out.append(
            {
                "group": value,
                "candidates": [
                    {"index": int(i), "rank": r, "score": float(scores[i]), **(kept[i] if kept else {})}
                    for r, i in enumerate(order, start=1)
                ],
            }
        )
    return out


def create_app(config: ServeConfig) -> Starlette:
    return Server(config).app()


def app_from_environment() -> Starlette:
    """The app of one worker process (uvicorn's factory, with --workers N): it ends with its parent."""
    config = json.loads(os.environ[ENVIRONMENT])
    config["allowed_hosts"] = tuple(config["allowed_hosts"])
    config.pop("limits", None)
    config = ServeConfig(**config)
    if config.parent is not None:
        die_with_parent(config.parent)
    _guard(config)
    return create_app(config)


def serve(config: ServeConfig, server: Server | None = None) -> None:
    """Run the server until stopped (Ctrl-C or SIGTERM); one worker serves `server` if given (loaded)."""
    import uvicorn

    _guard(config)

    def run(app: Starlette | str, factory: bool = False, workers: int | None = None) -> None:
        uvicorn.run(
            app,
            host=config.host,
            port=config.port,
            access_log=config.access_log,
            log_level="info",
            loop="auto",
            http=GuardedProtocol,
            timeout_keep_alive=5,
            timeout_graceful_shutdown=5,
            factory=factory,
            workers=workers,
        )

    if config.workers == 1:
        run((server or Server(config)).app())
        return
    with tempfile.TemporaryDirectory(prefix="wdcli-serve-") as shared:
        worker = {**asdict(config), "shared": shared, "parent": os.getpid()}
        worker.pop("limits")
        os.environ[ENVIRONMENT] = json.dumps(worker)
        run("wdcli.serve.app:app_from_environment", factory=True, workers=config.workers)


def _guard(config: ServeConfig) -> None:
    """The guard's settings in this process: the head deadline, and the connections it keeps open (as many as
    asked, or as the open-file limit leaves room for, raised first where it can be)."""
    GuardedProtocol.head_timeout = config.header_timeout
    GuardedProtocol.max_connections = connections_that_fit(config.max_connections)
    if GuardedProtocol.max_connections < config.max_connections and config.parent is None:  # (said once)
        log.warning(
            "at most %d connections per worker, not %d (--max-connections): the open-file limit leaves room for "
            "no more (ulimit -n)",
            GuardedProtocol.max_connections,
            config.max_connections,
        )
