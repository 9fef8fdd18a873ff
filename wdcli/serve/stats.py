"""The server's counters and histograms, as Prometheus' text format (`GET /metrics`). Updated only from the
event loop's thread, so no locks. With --workers N each worker counts its own requests (label `pid`)."""

from __future__ import annotations

import os
import time
from collections import defaultdict

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)
ROWS_BUCKETS = (1, 10, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 50000)


class Histogram:
    def __init__(self, buckets: tuple[float, ...]):
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        i = 0
        while i < len(self.buckets) and value > self.buckets[i]:
            i += 1
        self.counts[i] += 1
        self.sum += value

    def lines(self, name: str, labels: str) -> list[str]:
        out, total = [], 0
        sep = "," if labels else ""
        for b, c in zip([*self.buckets, "+Inf"], self.counts):
            total += c
            out.append(f'{name}_bucket{{{labels}{sep}le="{b}"}} {total}')
        out += [f"{name}_sum{{{labels}}} {self.sum:.6f}", f"{name}_count{{{labels}}} {total}"]
        return out


class Stats:
    def __init__(self):
        self.started = time.time()
        self.requests: dict[tuple[str, int], int] = defaultdict(int)  # (route, status) -> count
        self.latency: dict[str, Histogram] = {}
        self.candidates = 0
        self.batch_requests = Histogram(BATCH_BUCKETS)  # requests scored together
        self.batch_rows = Histogram(ROWS_BUCKETS)
        self.reloads: dict[str, int] = defaultdict(int)  # result -> count

    def request(self, route: str, status: int, seconds: float) -> None:
        self.requests[(route, status)] += 1
        self.latency.setdefault(route, Histogram(LATENCY_BUCKETS)).observe(seconds)

    def batch(self, requests: int, rows: int) -> None:
        self.batch_requests.observe(requests)
        self.batch_rows.observe(rows)
        self.candidates += rows

    def text(self, model: dict) -> str:
        pid = os.getpid()
        lines = [
            "# HELP wdcli_requests_total Requests answered, by route and status.",
            "# TYPE wdcli_requests_total counter",
        ]
        lines += [
            f'wdcli_requests_total{{route="{r}",status="{s}",pid="{pid}"}} {n}'
            for (r, s), n in sorted(self.requests.items())
        ]
        lines += [
            "# HELP wdcli_request_seconds Time from a request's arrival to its answer.",
            "# TYPE wdcli_request_seconds histogram",
        ]
        for route, h in sorted(self.latency.items()):
            lines += h.lines("wdcli_request_seconds", f'route="{route}",pid="{pid}"')
        lines += [
            "# HELP wdcli_candidates_total Candidates scored.",
            "# TYPE wdcli_candidates_total counter",
            f'wdcli_candidates_total{{pid="{pid}"}} {self.candidates}',
            "# HELP wdcli_batch_requests Requests scored together in one micro-batch.",
            "# TYPE wdcli_batch_requests histogram",
            *self.batch_requests.lines("wdcli_batch_requests", f'pid="{pid}"'),
            "# HELP wdcli_batch_rows Candidates scored in one micro-batch.",
            "# TYPE wdcli_batch_rows histogram",
            *self.batch_rows.lines("wdcli_batch_rows", f'pid="{pid}"'),
            "# HELP wdcli_reloads_total Model reloads, by result.",
            "# TYPE wdcli_reloads_total counter",
        ]
        lines += [f'wdcli_reloads_total{{result="{r}",pid="{pid}"}} {n}' for r, n in sorted(self.reloads.items())]
        lines += [
            "# HELP wdcli_model_info The model being served.",
            "# TYPE wdcli_model_info gauge",
            f'wdcli_model_info{{name="{_label(model["name"])}",run="{_label(model["run"])}",pid="{pid}"}} 1',
            "# HELP wdcli_uptime_seconds Seconds since the server started.",
            "# TYPE wdcli_uptime_seconds gauge",
            f'wdcli_uptime_seconds{{pid="{pid}"}} {time.time() - self.started:.1f}',
        ]
        return "\n".join(lines) + "\n"


def _label(value) -> str:
    """A label value escaped as the text format wants (backslash, quote, newline)."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
