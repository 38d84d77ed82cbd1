"""The HTTP plumbing both emulated hosts share, and the per-request pipeline around an app.

Pipeline, in the order real infrastructure would apply it: kill failpoints due on arrival → holds → outage (the
load balancer answers 503) → scripted/random drop before the app → throttle reservation (a host's own
``Throttling``: Canvas's token buckets, docs/canvas.md §4) → injected latency (slept while the reservation is held, like
server time; a GET's or HEAD's answer is computed during it, so the emulator's own work does not add to it) →
scripted/random error → the app → throttle settlement and headers → kill failpoints due after the app →
scripted/random drop after the app → answer.

``ThreadingHTTPServer`` with HTTP/1.1 keep-alive: clients reuse connections, so every answer carries an
exact Content-Length. The Canvas host, its upload host and the Guru host are ``App``s served by this module.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from profilesync_sandbox.faults import Faults
from profilesync_sandbox.requestlog import RequestRecord
from profilesync_sandbox.routing import RouteMatch
from profilesync_sandbox.wire import Request, Response, text_response

log = logging.getLogger("profilesync_sandbox")
request_log = logging.getLogger("profilesync_sandbox.requests")  # one DEBUG line per request

_READS = frozenset({"GET", "HEAD"})  # requests whose answer the app computes during their latency
_OUTAGE_PAGE = "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>\n"


class App(Protocol):
    """One emulated host's behaviour."""

    host_name: str  # "canvas", "upload" or "guru": the name in the request log and in fault rules

    def match(self, request: Request) -> RouteMatch | None: ...

    def handle(self, request: Request, match: RouteMatch | None) -> Response:
        """A fully rendered answer."""
        ...

    def fault_response(self, request: Request, status: int, body: Any) -> Response: ...


class Bucket(Protocol):
    """A throttle's buckets: reserve before the request runs, settle its real cost after."""

    def reserve(self, key: str) -> bool:
        """False when the request must be refused (the caller then settles 0)."""
        ...

    def settle(self, key: str, cost: float) -> float:
        """The bucket's remaining room once ``cost`` is charged."""
        ...


@dataclass(frozen=True)
class Throttling:
    """A host's request throttle as the pipeline applies it."""

    bucket: Bucket
    key: Callable[[Request], str | None]  # the bucket a request is charged to; None: not throttled
    cost: Callable[[str | None], float]  # route key → what the request is charged
    refusal: Callable[[float], Response]  # the throttled answer, given the bucket's remaining room
    headers: Callable[[float, float], list[tuple[str, str]]]  # (cost, remaining) → headers on every answer


class Pipeline:
    """Faults, throttle and latency around an app, plus the request log."""

    def __init__(
        self,
        app: App,
        *,
        faults: Faults,
        latency_ms: float,
        record: Callable[[RequestRecord], None],
        throttling: Throttling | None = None,
    ) -> None:
        self.app = app
        self.faults = faults
        self.latency_s = latency_ms / 1000.0
        self.record = record
        self.throttling = throttling

    def run(self, request: Request, arrived: float | None = None) -> Response | None:
        """The answer, or None when the connection must be dropped without one. ``arrived``: the monotonic time
        the request's first line was read (its latency runs from then), else now."""
        started = time.time()
        arrived = time.monotonic() if arrived is None else arrived
        match = self.app.match(request)
        route = match.key if match else None
        host = self.app.host_name
        response = self._run(request, match, host, arrived)
        self.record(
            RequestRecord(
                method=request.method,
                host=host,
                path=request.raw_path,
                query=request.query_string,
                status=response.status if response else 0,
                had_authorization=request.header("authorization") is not None,
                as_user_id=request.params.get("as_user_id"),
                timestamp=started,
                route=route,
                dropped=response is None,
            )
        )
        return response

    def _run(self, request: Request, match: RouteMatch | None, host: str, arrived: float) -> Response | None:
        method, path = request.method, request.raw_path
        if self.faults.kill_if_due(host, method, path, when="before"):
            return None  # the client was killed as the request arrived: it is never handled
        if self.faults.wait_if_held(host, method, path):
            arrived = time.monotonic()  # a held request's latency runs once it is let go
        if self.faults.in_outage():
            self._sleep()
            return text_response(503, _OUTAGE_PAGE, "text/html; charset=utf-8")
        drop_after = self.faults.config.drop_after
        if self.faults.take("drop", host, method, path) or (not drop_after and self.faults.random_drop()):
            self._sleep()
            return None
        throttling = self.throttling
        key = throttling.key(request) if throttling else None
        if throttling and key and not throttling.bucket.reserve(key):
            # refused requests cost nothing but the refund (docs/canvas.md §4.2)
            remaining = throttling.bucket.settle(key, 0.0)
            self._sleep()
            return throttling.refusal(remaining)
        # A read's answer is computed while its latency runs (it still takes the latency, not latency + the
        # emulator's own rendering time); a write takes effect only once its latency has passed.
        read = method in _READS
        try:
            if not read:
                self._sleep()
            rule = self.faults.take("fail", host, method, path)
            status = rule.status if rule else self.faults.random_error()
            if status is not None:
                response = self.app.fault_response(request, status, rule.body if rule else None)
            else:
                response = self.app.handle(request, match)
        finally:
            if read:
                self._sleep(since=arrived)
            if throttling and key:
                cost = throttling.cost(match.key if match else None)
                remaining = throttling.bucket.settle(key, cost)
        if throttling and key:
            response.headers.extend(throttling.headers(cost, remaining))
        if self.faults.kill_if_due(host, method, path, when="after"):
            return None  # the request took effect; the client died before it could read the answer
        if self.faults.take("drop", host, method, path, after=True) or (drop_after and self.faults.random_drop()):
            return None
        return response

    def _sleep(self, since: float | None = None) -> None:
        """The injected latency, or what is left of it ``since`` a monotonic time."""
        left = self.latency_s - (time.monotonic() - since if since is not None else 0.0)
        if left > 0:
            time.sleep(left)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server: _Server
    timeout = 120  # idle keep-alive connections give up eventually
    disable_nagle_algorithm = True  # a body larger than the buffer goes out in a second write: no 40 ms wait
    # Buffered: the headers and a body of up to 64 KiB (a page of 100 users is about 32 KiB) leave in one write,
    # flushed by handle_one_request, so the client reads an answer in one wake-up rather than two.
    wbufsize = 1 << 16

    def parse_request(self) -> bool:
        self.arrived = time.monotonic()  # the request line was just read: parsing the headers is server time too
        return super().parse_request()

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except ValueError:
            self.send_error(400)
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = Request.parse(self.command, self.path, headers, body, self.client_address[0])
        try:
            response = self.server.pipeline.run(request, self.arrived)
        except Exception:  # the emulator must never hang a client: answer 500 and say why in the log
            log.exception("sandbox %s failed on %s %s", self.server.pipeline.app.host_name, self.command, self.path)
            response = text_response(500, "sandbox internal error\n")
        if response is None:
            self._drop()
            return
        request_log.debug(
            "%s %s %s -> %s", self.server.pipeline.app.host_name, self.command, self.path, response.status
        )
        self.send_response(response.status)
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if response.close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _drop(self) -> None:
        """Close the connection with no answer at all (the client sees a reset / remote disconnect)."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # _serve logs each request once, at DEBUG on profilesync_sandbox.requests

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format, *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256  # concurrency tests open many connections at once
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that vanished mid-request (killed, timed out) is routine for a server: no traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):  # reset, broken pipe, aborted
            log.debug("sandbox client %s went away", client_address)
            return
        super().handle_error(request, client_address)

    def close_all(self) -> None:
        with self.connections_lock:
            open_now = list(self.connections)
        for conn in open_now:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class EmulatorServer:
    """One emulated host on its own port and thread."""

    def __init__(self, pipeline: Pipeline, host: str, port: int) -> None:
        self.pipeline = pipeline
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._bound_port: int | None = None  # kept after stop(), so URLs stay printable

    def start(self) -> None:
        self._server = _Server(self._address, self.pipeline)
        self._bound_port = int(self._server.server_address[1])
        name = f"sandbox-{self.pipeline.app.host_name}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name=name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.close_all()  # wake idle keep-alive threads so they end
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    @property
    def port(self) -> int:
        if self._bound_port is None:
            raise RuntimeError("the server was never started")
        return self._bound_port

    @property
    def host(self) -> str:
        return self._address[0]

    @property
    def base_url(self) -> str:
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self.port}"
