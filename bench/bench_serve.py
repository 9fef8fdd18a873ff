"""`wdcli serve` over real HTTP on loopback: latency at a fixed request rate, and throughput at saturation.

    python bench/bench_serve.py --model runs/apps            # (trains a 3-epoch apps model if none is given)

It starts `wdcli serve` as a separate process on 127.0.0.1 and drives it from a load generator in this process
(asyncio, keep-alive HTTP/1.1 connections; a minimal client, so that the generator costs little of the same
machine's CPU). Phases, each bounded in time:
  1. light load: 20 requests/s, to show that micro-batching adds no latency when requests arrive alone;
  2. the target: requests of 200 candidates at 200 requests/s for 30 s (open loop: a request's latency counts
     from the moment it was due, so a slow server cannot hide its queue);
  3. saturation: N connections sending back to back for 10 s: candidates scored per second.
Every response is checked (status 200, one score per candidate); errors are counted. The server's own
/metrics give the mean number of requests per micro-batch.

`--adversarial` runs another section instead (issue 21): the valid load (--rate, --seconds) while one hostile
request a second arrives, each kind of `hostile.py` in turn (deep nesting, thousands of keys, a 2 MB string,
wrong content types, reloads, idle connections, ...). It reports the valid requests' errors and p99, the
server's peak RSS, and each hostile request's status and time (a correct server: the expected 4xx or a correct
answer within a second).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import hostile  # noqa: E402  (bench/hostile.py, beside this file)


class Connection:
    """One keep-alive HTTP/1.1 connection to the server."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    @staticmethod
    async def open(port: int) -> Connection:
        return Connection(*await asyncio.open_connection("127.0.0.1", port))

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.writer.write(head + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        status = int(raw[9:12])
        length = 0
        for line in raw.split(b"\r\n")[1:]:
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


class Load:
    def __init__(self, port: int, bodies: list[bytes], candidates: int):
        self.port, self.bodies, self.candidates = port, bodies, candidates
        self.idle: list[Connection] = []
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.scored = 0
        self.reconnects = 0  # idle connections the server had closed, sent again on a new one

    async def one(self, i: int, due: float) -> None:
        body = self.bodies[i % len(self.bodies)]
        reused = bool(self.idle)
        conn = self.idle.pop() if reused else await Connection.open(self.port)
        try:
            try:
                status, body = await conn.request("POST", "/predict", body)
            except (OSError, asyncio.IncompleteReadError):
                if not reused:
                    raise
                # the server closed this idle keep-alive connection (uvicorn: after 5 s idle), as any HTTP
                # client meets now and then: send again on a new one, as httpx and browsers do
                conn.close()
                self.reconnects += 1
                conn = await Connection.open(self.port)
                status, body = await conn.request("POST", "/predict", body)
        except (OSError, asyncio.IncompleteReadError) as e:
            self.errors.append(f"{type(e).__name__}: {e}")
            conn.close()
            return
        self.latencies.append(time.perf_counter() - due)
        self.idle.append(conn)
        if status != 200:
            self.errors.append(f"{status}: {body[:200]!r}")
        elif i % 50 == 0 and len(json.loads(body)["scores"]) != self.candidates:
            self.errors.append("wrong number of scores")
        else:
            self.scored += self.candidates

    async def fixed_rate(self, rate: float, seconds: float) -> None:
        """Open loop: request i is due at start + i / rate, whatever happened to the others."""
        start, tasks = time.perf_counter(), []
        for i in range(int(rate * seconds)):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.one(i, due)))
        await asyncio.gather(*tasks)

    async def saturate(self, connections: int, seconds: float) -> None:
        """Closed loop: each connection sends its next request as soon as it has the answer."""
        end = time.perf_counter() + seconds

        async def worker(k: int) -> None:
            i = k
            while time.perf_counter() < end:
                await self.one(i, time.perf_counter())
                i += connections

        await asyncio.gather(*(worker(k) for k in range(connections)))

    def report(self, name: str, seconds: float) -> dict:
        lat = np.array(self.latencies) * 1e3
        out = {
            "phase": name,
            "requests": len(lat),
            "errors": len(self.errors),
            "p50_ms": float(np.percentile(lat, 50)) if len(lat) else None,
            "p90_ms": float(np.percentile(lat, 90)) if len(lat) else None,
            "p99_ms": float(np.percentile(lat, 99)) if len(lat) else None,
            "max_ms": float(lat.max()) if len(lat) else None,
            "requests_per_s": len(lat) / seconds,
            "candidates_per_s": self.scored / seconds,
            "reconnects": self.reconnects,
        }
        print(
            f"{name:>28}: {out['requests']:6,} requests, {out['errors']} errors, p50 {out['p50_ms']:.2f} ms, "
            f"p90 {out['p90_ms']:.2f} ms, p99 {out['p99_ms']:.2f} ms, max {out['max_ms']:.1f} ms, "
            f"{out['requests_per_s']:,.0f} req/s, {out['candidates_per_s']:,.0f} candidates/s"
            + (f" ({self.reconnects} stale keep-alive connections reopened)" if self.reconnects else ""),
            flush=True,
        )
        for e in self.errors[:3]:
            print(f"{'':>30}error: {e}")
        return out


def batch_mean(port: int) -> float:
    """Mean requests per micro-batch so far, from the server's /metrics."""

    async def get() -> str:
        c = await Connection.open(port)
        _, body = await c.request("GET", "/metrics")
        c.close()
        return body.decode()

    values = {}
    for line in asyncio.run(get()).splitlines():
        if line.startswith(("wdcli_batch_requests_sum", "wdcli_batch_requests_count")):
            values[line.split("{")[0]] = float(line.split()[-1])
    return values.get("wdcli_batch_requests_sum", 0) / max(values.get("wdcli_batch_requests_count", 0), 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model: str, port: int, extra: list[str]) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "wdcli", "serve", "--model", model, "--port", str(port), *extra]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        if server.poll() is not None:
            sys.exit(f"the server stopped: {server.stderr.read()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    sys.exit("the server did not start in 120 s")


def bodies_of(candidates: int, count: int, form: str) -> list[bytes]:
    frame = pl.read_csv(ROOT / "specs" / "data" / "apps_candidates.csv")
    rng = np.random.default_rng(0)
    out = []
    for _ in range(count):
        rows = frame[rng.choice(len(frame), candidates, replace=candidates > len(frame))]
        doc = {"rows": rows.to_dicts()} if form == "rows" else {"columns": rows.to_dict(as_series=False)}
        out.append(json.dumps(doc).encode())
    return out


def phases(port: int, bodies: list[bytes], args) -> list[dict]:
    """Light load, the target rate, saturation: the figures of each."""
    results = []
    for name, run in (
        ("light load, 20 req/s", lambda ld: ld.fixed_rate(20, 5)),
        (f"{args.rate:g} req/s for {args.seconds:g} s", lambda ld: ld.fixed_rate(args.rate, args.seconds)),
        (
            f"saturation, {args.connections} connections",
            lambda ld: ld.saturate(args.connections, args.saturate_seconds),
        ),
    ):
        load = Load(port, bodies, args.candidates)
        before = time.perf_counter()
        asyncio.run(run(load))
        r = load.report(name, time.perf_counter() - before)  # until the last answer
        r["requests_per_batch"] = batch_mean(port)
        results.append(r)
    print(f"mean requests per micro-batch over the whole run: {results[-1]['requests_per_batch']:.2f}")
    return results


def adversarial(port: int, pid: int, bodies: list[bytes], args) -> dict:
    """The valid load at --rate for --seconds, one hostile request a second, the server's RSS sampled."""
    load, outcomes, peak = Load(port, bodies, args.candidates), [], [hostile.rss_mb(pid)]
    kinds = [k for k in hostile.kinds(ROOT / "specs" / "data" / "apps_candidates.csv") if args.only in k[0]]

    async def run() -> None:
        async def sample() -> None:
            while True:
                peak.append(hostile.rss_mb(pid))
                await asyncio.sleep(0.2)

        sampler = asyncio.create_task(sample())
        await asyncio.gather(
            load.fixed_rate(args.rate, args.seconds), hostile.hostile(port, args.seconds, kinds, outcomes)
        )
        sampler.cancel()

    before = time.perf_counter()
    asyncio.run(run())
    r = load.report(f"{args.rate:g} req/s + 1 hostile/s", time.perf_counter() - before)
    r.update(server_rss_peak_mb=max(peak), server_rss_start_mb=peak[0], hostile=outcomes)
    print(f"server RSS: {peak[0]:.0f} MB at the start, {max(peak):.0f} MB at the peak")
    for o in sorted(outcomes, key=lambda o: o["kind"]):
        print(f"  {'ok ' if o['ok'] else 'BAD'} {o['status']:3d} in {o['seconds'] * 1e3:7.1f} ms  {o['kind']}")
    print(f"hostile requests answered as they should within 1 s: {sum(o['ok'] for o in outcomes)} of {len(outcomes)}")
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="the apps run to serve; default: train one (3 epochs) in a temporary folder")
    ap.add_argument("--candidates", type=int, default=200)
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--connections", type=int, default=8, help="saturation phase")
    ap.add_argument("--saturate-seconds", type=float, default=10.0)
    ap.add_argument("--format", choices=["columns", "rows"], default="columns")
    ap.add_argument("--server", default="", help="extra `wdcli serve` options, e.g. '--batch-window-ms 0'")
    ap.add_argument("--json", help="also write the figures here")
    ap.add_argument("--adversarial", action="store_true", help="the valid load with hostile requests (issue 21)")
    ap.add_argument("--only", default="", help="--adversarial: only the hostile kinds whose name holds this")
    args = ap.parse_args()
    model = args.model
    if model is None:
        model = tempfile.mkdtemp(prefix="wdcli-bench-serve-") + "/apps"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "wdcli",
                "train",
                str(ROOT / "specs" / "apps.yaml"),
                "-q",
                "--set",
                "train.epochs=3",
                "--output",
                model,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    port = free_port()
    print(
        f"serving {model} on 127.0.0.1:{port}; {args.candidates} candidates per request ({args.format}); "
        f"{os.cpu_count()} cores"
    )
    bodies = bodies_of(args.candidates, 64, args.format)
    server = start_server(model, port, args.server.split())
    try:
        results = [adversarial(port, server.pid, bodies, args)] if args.adversarial else phases(port, bodies, args)
    finally:
        server.terminate()
        server.wait(timeout=30)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
