"""The server's guard at the door: who may ask (a bearer token, the Host and Origin a request names) and how
long a connection may hold the server without asking (uvicorn's HTTP protocol with a deadline for the request
head and a bound on its size).

A browser on the same machine can reach a loopback server: a page can POST a text/plain or form body without
asking first (CSRF), and a name that resolves to 127.0.0.1 (DNS rebinding) lets a page read the answers. So a
request must name the server by a name it answers to (Host; Origin when a browser sends one), bodies must be
JSON (a browser asks the server before sending one cross-site, and wdcli answers no), and with a token every
request must carry it. A server bound to another address than loopback needs a token.

Each connection holds a file descriptor, and a process has a limited number of them. So a process keeps at most
`GuardedProtocol.max_connections` open (fewer than its descriptors): a new connection past them closes the one
that has been idle (no request in flight) the longest; when none is idle, the one whose body has been arriving
the longest, answered 408; when every one is being answered, itself. A flood of idle connections, or of bodies
sent a byte at a time, then closes its own oldest sockets, and a client that sends its request at once (as
/health's do) is answered: it would be closed only after every such connection older than it.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import resource
from collections import OrderedDict
from typing import ClassVar

from starlette.requests import Request
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

TOKEN_ENVIRONMENT = "WDCLI_SERVE_TOKEN"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
MAX_HEAD = 64 << 10  # bytes of a request's line and headers
FILES_KEPT = 64  # descriptors not given to connections: the process's own files, and those accepted at once


def _answer(status: int, reason: str, message: str) -> bytes:
    """An HTTP answer written by the guard itself, with the JSON error every answer of the app's has."""
    body = json.dumps({"error": message, "status": status}).encode()
    head = f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
    return head.encode() + b"connection: close\r\n\r\n" + body


MADE_ROOM = _answer(
    408,
    "Request Timeout",
    "the body was still arriving when the server, at its limit of connections (wdcli serve --max-connections), "
    "needed this connection for another client; send the body at once",
)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _name(host: str) -> str:
    """A Host or Origin value's host name, without port or scheme: '[::1]:8000' -> '::1'."""
    host = host.split("://", 1)[-1].lower()
    if host.startswith("["):
        return host[1 : host.find("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class Access:
    """Who may ask: `denied(request)` is None, or the status and the reason."""

    def __init__(self, bound: str, token: str | None, hosts: tuple[str, ...] = ()):
        self.token = token.encode() if token else None
        names = [*hosts] or ([*LOOPBACK_NAMES, bound] if is_loopback(bound) else [])
        self.hosts = {_name(h) for h in names}  # empty: any name (a server on the network, behind its token)

    def denied(self, request: Request) -> tuple[int, str] | None:
        for header in ("host", "origin"):  # (a proxy may read the last where this server reads the first)
            if len(request.headers.getlist(header)) > 1:
                return 400, f"the request names more than one {header.title()}; send one"
        host, origin = request.headers.get("host"), request.headers.get("origin")
        if self.hosts and host is None:  # (a server that checks the name it is asked by is asked by one)
            return 400, "the request names no Host, which HTTP/1.1 requires; send the header 'Host: ADDRESS:PORT'"
        if self.hosts and host is not None and _name(host) not in self.hosts:
            return 421, f"this server does not answer to the name '{_name(host)}' (wdcli serve --allowed-host)"
        if self.hosts and origin == "null":  # (a sandboxed frame, a local file: a page's script, whosever)
            return 403, "requests from pages of no origin (Origin: null) are not answered"
        if self.hosts and origin is not None and _name(origin) not in self.hosts:
            return 403, f"requests from pages of '{_name(origin)}' are not answered"
        if self.token is not None:
            scheme, _, given = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.token):
                return 401, "this server needs its token: send the header 'Authorization: Bearer TOKEN'"
        return None


def json_body(request: Request) -> str | None:
    """Why a body is not taken as JSON, or None."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
        return (
            f"the body is sent as {media or 'no content type'}; send JSON with the header "
            "'Content-Type: application/json'"
        )
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        return f"the body is sent with Content-Encoding '{encoding}', which this server does not read; send it as is"
    return None


def connections_that_fit(wanted: int) -> int:
    """Raise the open-file limit towards `wanted` connections (each a file descriptor) and FILES_KEPT more,
    within the hard limit; the connections that fit under it (at most `wanted`)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted + FILES_KEPT if hard == resource.RLIM_INFINITY else min(wanted + FILES_KEPT, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return wanted if soft == resource.RLIM_INFINITY else max(1, min(wanted, soft - FILES_KEPT))


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol, with a deadline for a request's head (its line and headers), counted from
    the connection (or the previous answer), and a bound on its size. uvicorn closes an idle keep-alive
    connection, but not one that has sent nothing, or sends its headers a byte at a time: those would keep a
    file descriptor each for as long as the client likes. At most `max_connections` are open in this process:
    a new one past them closes the longest idle, or the slowest body (see the module's docstring)."""

    head_timeout: float = 10.0  # set by the app from ServeConfig.header_timeout, in each worker process
    max_connections: int = 1_000  # set by the app: ServeConfig.max_connections, as many as the descriptors allow
    # this process's connections (a descriptor each), and those with no request in flight, longest idle first
    held: ClassVar[set[GuardedProtocol]] = set()
    idle: ClassVar[OrderedDict[GuardedProtocol, None]] = OrderedDict()
    receiving: ClassVar[OrderedDict[GuardedProtocol, None]] = OrderedDict()  # a body arriving, the longest first

    # uvicorn's HttpToolsProtocol narrows asyncio's BaseTransport to Transport here; we keep its signature
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head = 0
        self._in_body = False
        self._deadline: asyncio.TimerHandle | None = None
        if len(self.held) >= self.max_connections and not self._make_room():
            transport.close()  # every connection is being answered: this one waits for none
            return
        self.held.add(self)
        self.idle[self] = None
        self._deadline = self.loop.call_later(self.head_timeout, self._too_slow)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self._in_body:  # (a chunk that ends the head is not counted: the rest of it is body)
            self._head += len(data)
            if self._head > MAX_HEAD and not self.transport.is_closing():
                self._stop()
                self.send_400_response("Request line and headers too large.")

    def on_headers_complete(self) -> None:
        self._stop()
        self._in_body = True
        self.idle.pop(self, None)
        self.receiving[self] = None
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self.receiving.pop(self, None)
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self.receiving.pop(self, None)  # (answered before its body was all read: the rest no longer counts)
        self._head, self._in_body = 0, False
        if not self.transport.is_closing():
            self._deadline = self.loop.call_later(self.head_timeout, self._too_slow)
            if self in self.held and (self.cycle is None or self.cycle.response_complete):  # (not a pipelined one)
                self.idle[self] = None  # idle from now: the last to be closed for a new connection

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop()
        self._forget()
        super().connection_lost(exc)

    def _stop(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def _make_room(self) -> bool:
        """Close a connection for this new one: the longest idle, else the one whose body has been arriving the
        longest (answered 408); False when every one is being answered."""
        if self.idle:
            self.idle.popitem(last=False)[0]._shut()
        elif self.receiving:
            self.receiving.popitem(last=False)[0]._shut(MADE_ROOM)
        else:
            return False
        return True

    def _shut(self, answer: bytes = b"") -> None:
        """Close this connection to make room for a new one (it stops counting at once), with `answer` when no
        answer of the app's has begun on it (the app's, if it comes, is then dropped)."""
        self._stop()
        self._forget()
        cycle = self.cycle
        if answer and cycle is not None and not cycle.response_started and not self.pipeline:
            cycle.disconnected = True  # the app reads the end of the body, and what it answers is not sent
            cycle.message_event.set()
            self.transport.write(answer)
        self.transport.close()

    def _forget(self) -> None:
        self.held.discard(self)
        self.idle.pop(self, None)
        self.receiving.pop(self, None)
