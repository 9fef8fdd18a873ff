"""The hostile requests of `bench_serve.py --adversarial` (issue 21): one a second, each kind in turn, while
valid clients send 200 requests a second. Each kind is raw bytes on a connection of its own, and what a
correct server answers (a status, within a second)."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import polars as pl

Sender = Callable[[int], Awaitable[tuple[int, float]]]


def request(path: str, body: bytes, content_type: str = "application/json", host: str = "127.0.0.1", length=None):
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body) if length is None else length}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


async def send(port: int, data: bytes) -> tuple[int, float]:
    """Send one request on a new connection: its status (0: no answer) and the seconds to the answer."""
    t0 = time.perf_counter()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(data)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        writer.close()
        return int(head[9:12]), time.perf_counter() - t0
    except (OSError, asyncio.IncompleteReadError, TimeoutError):
        return 0, time.perf_counter() - t0


def nested(levels: int) -> str:
    return '{"k":' * levels + '"x"' + "}" * levels


def kinds(candidates: Path) -> list[tuple[str, tuple[int, ...], Sender]]:
    """(name, the statuses a correct server answers, the sender) of each hostile kind."""
    rows = pl.read_csv(candidates).head(50).drop("installed").to_dicts()
    valid = json.dumps({"rows": rows})

    def rows_with(column: str, value: str, all_rows: bool = True) -> bytes:
        """The rows with `value` (JSON text) in `column`: in every row, or in the first."""
        marker = '"__value__"'
        changed = [{**r, column: "__value__"} if all_rows or i == 0 else r for i, r in enumerate(rows)]
        return json.dumps({"rows": changed}).replace(marker, value).encode()

    def post(path: str, body: bytes, **kw) -> Sender:
        return lambda port: send(port, request(path, body, **kw))

    distinct = json.dumps({"rows": [{**rows[i % len(rows)], f"extra{i}": 1} for i in range(6000)]}).encode()
    objects = json.dumps({"rows": [{**rows[i % len(rows)], "country": {f"k{i}": 1}} for i in range(6000)]}).encode()
    lacking = [{**rows[i % len(rows)], **({f"c{i}": 1} if i < 900 else {})} for i in range(5000)]
    kept = json.dumps({"rows": lacking, "keep": [f"c{i}" for i in range(900)]}).encode()
    return [
        ("deep nesting (1,000 levels) in a read column", (413,), post("/predict", rows_with("country", nested(1000)))),
        ("deep nesting in an unused column", (413,), post("/predict", rows_with("unused", nested(1000)))),
        ("6,000 distinct keys", (413,), post("/predict", distinct)),
        (
            "a 2 MB string in impression_app",
            (413,),
            post("/predict", rows_with("impression_app", '"' + "x" * (2 << 20) + '"', False)),
        ),
        (
            "keep naming a column twice",
            (200,),
            post("/predict", valid[:-1].encode() + b', "keep": ["country", "country"]}'),
        ),
        (
            "rank keep: score, rank, index",
            (422,),
            post("/rank", valid[:-1].encode() + b', "keep": ["score", "rank", "index"]}'),
        ),
        ("hour = 1e308", (200,), post("/predict", rows_with("hour", "1e308"))),
        ("a text/plain body", (415,), post("/predict", valid.encode(), content_type="text/plain")),
        ("a form body", (415,), post("/predict", valid.encode(), content_type="application/x-www-form-urlencoded")),
        ("POST /reload", (200,), post("/reload", b"")),
        ("Host: evil.example", (421,), post("/predict", valid.encode(), host="evil.example")),
        ("a body declared over --max-body-mb", (413,), post("/predict", b"{}", length=40 << 20)),
        ("not JSON", (400,), post("/predict", b"{not json")),
        ("300 idle connections, then /health", (200,), idle_then_health),
        ("objects of 6,000 distinct keys in a read column", (422,), post("/predict", objects)),
        ("keep of 900 columns most rows lack", (422,), post("/rank", kept)),
        ("a gzip body", (415,), lambda port: send(port, gzipped(valid.encode()))),
    ]


def gzipped(body: bytes) -> bytes:
    packed = gzip.compress(body)
    return request("/predict", packed).replace(b"\r\n\r\n", b"\r\nContent-Encoding: gzip\r\n\r\n", 1)


async def idle_then_health(port: int, count: int = 300) -> tuple[int, float]:
    """Open connections that send nothing, hold them a second, ask /health meanwhile."""
    writers = []
    for _ in range(count):
        try:
            writers.append((await asyncio.open_connection("127.0.0.1", port))[1])
        except OSError:
            break
    status, seconds = await send(port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    await asyncio.sleep(1)
    for w in writers:
        w.close()
    return status, seconds


async def hostile(port: int, seconds: float, every: list, results: list[dict]) -> None:
    """One hostile request a second, each of `every` (`kinds`, made beforehand: making them takes the load
    generator's time) in turn, for `seconds`; each outcome appended to `results`."""
    start = time.perf_counter()
    tasks = []
    for i in range(int(seconds) if every else 0):
        await asyncio.sleep(max(0.0, start + i + 0.5 - time.perf_counter()))
        name, expected, sender = every[i % len(every)]

        async def one(name=name, expected=expected, sender=sender) -> None:
            status, took = await sender(port)
            results.append({"kind": name, "status": status, "seconds": took, "ok": status in expected and took < 1})

        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, MB (Linux /proc)."""
    total = 0
    for p in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
