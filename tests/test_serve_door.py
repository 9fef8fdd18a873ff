"""`wdcli serve`'s guard at the door (wdcli/serve/http.py) over real sockets: the deadline and the size bound of a
request's head, 408 for a body slower than --body-timeout, room for a new client when every connection is
dribbling a body, and a Host required of a loopback server. Small timeouts keep it to seconds."""

from __future__ import annotations

import select
import socket
import time

import pytest

from .test_serve import runs  # noqa: F401 (a fixture)
from .test_serve_procs import free_port, start

CONNECTIONS, HEAD_S, BODY_S = 4, 0.5, 3.0  # --max-connections, --header-timeout, --body-timeout
SLOW_POST = (
    b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n"
    b"Connection: close\r\n\r\n" + b'{"rows": ['
)


@pytest.fixture(scope="module")
def port(runs):  # noqa: F811
    port = free_port()
    options = ["--max-connections", CONNECTIONS, "--header-timeout", HEAD_S, "--body-timeout", BODY_S, "--no-watch"]
    p = start(runs / "runs" / "apps", port, *map(str, options))
    yield port
    p.terminate()
    p.wait(timeout=30)


def connect(port: int, sent: bytes = b"") -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(sent)
    return s


def answer(s: socket.socket, timeout: float = 10) -> bytes:
    """What the server sends until it closes the connection (b"" when it closes without a word)."""
    s.settimeout(timeout)
    chunks = []
    try:
        while data := s.recv(65536):
            chunks.append(data)
    except ConnectionResetError:
        pass
    s.close()
    return b"".join(chunks)


def test_a_head_not_sent_in_time_is_closed(port):
    silent, partial = connect(port), connect(port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    t0 = time.perf_counter()
    assert answer(silent) == b"" and answer(partial) == b""
    assert HEAD_S * 0.8 < time.perf_counter() - t0 < HEAD_S + 2


def test_a_head_over_64_kb_is_refused(port):
    s = connect(port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    for _ in range(20):  # 8 KB at a time, until the server answers (so that nothing it has not read is left)
        s.sendall(b"X-Big: " + b"a" * 8184 + b"\r\n")
        if select.select([s], [], [], 0.05)[0]:
            break
    got = answer(s)
    assert got.startswith(b"HTTP/1.1 400") and b"too large" in got, got[:200]


def test_a_body_slower_than_body_timeout_is_408(port):
    s = connect(port, SLOW_POST)
    t0 = time.perf_counter()
    got = answer(s, timeout=BODY_S + 10)
    assert got.startswith(b"HTTP/1.1 408") and b"did not arrive within 3 s" in got, got[:300]
    assert BODY_S * 0.8 < time.perf_counter() - t0 < BODY_S + 3


def test_bodies_dribbled_on_every_connection_do_not_lock_out_health(port):
    """--max-connections clients each sending a body slowly held every connection: a new one was closed at once
    until their --body-timeout. Now the one whose body has been arriving longest is answered 408 and closed."""
    slow = []
    try:
        for _ in range(CONNECTIONS):
            slow.append(connect(port, SLOW_POST))
            time.sleep(0.05)  # (in order: the first is the one whose body has been arriving longest)
        time.sleep(0.3)
        t0 = time.perf_counter()
        health = answer(connect(port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"))
        assert health.startswith(b"HTTP/1.1 200") and b'"status":"ok"' in health, health[:300]
        assert time.perf_counter() - t0 < 1.0
        evicted = answer(slow[0], timeout=1.0)
        assert evicted.startswith(b"HTTP/1.1 408") and b"--max-connections" in evicted, evicted[:300]
    finally:
        for s in slow:
            s.close()
        time.sleep(0.2)  # (the server sees them go)


def test_a_request_without_host_is_refused(port):
    got = answer(connect(port, b"GET /health HTTP/1.1\r\nConnection: close\r\n\r\n"))
    assert got.startswith(b"HTTP/1.1 400") and b"Host" in got, got[:300]
    got = answer(connect(port, b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"))
    assert got.startswith(b"HTTP/1.1 200"), got[:300]
