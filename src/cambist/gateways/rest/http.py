"""The gateway's own HTTP/1.1 server: an asyncio Protocol on httptools calling ``RestApp.handle``.

Why not uvicorn: measured on the 2-core machine for the same trivial JSON answer, uvicorn's
httptools ASGI cycle (a scope dict, a receive/send pair and two messages per answer, a
request-response cycle object and flow control per request) cost ~56 us of server CPU per
request against ~13 us for a bare httptools protocol, i.e. more than the gateway's own work on
an order once that is trimmed. This protocol parses with the same parser (httptools) and hands
method, path, query, headers and body straight to :meth:`RestApp.handle`; the ASGI entry point
stays for in-process tests and tools.

What it does and does not do: keep-alive and HTTP/1.0 ``Connection: close``, pipelining (answers
in request order, one request of a connection handled at a time), ``Expect: 100-continue``,
bodies over ``max_body`` read and discarded then refused with 413 (so the client gets the
answer), idle keep-alive connections closed after ``keep_alive_s``, reading paused while the
client is not reading its answers. No upgrades (WebSocket) and no HTTP/2: refused with 400.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine, Iterator
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import unquote

import httptools
import structlog

from cambist.gateways.rest.app import Response
from cambist.gateways.rest.errors import ApiError

log = structlog.get_logger("cambist.http")

_REASONS = {s.value: s.phrase.encode() for s in HTTPStatus}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_PERCENT = ord("%")
"""Looked for as a byte value: ``b"%" in raw`` first tries the operand as an integer, and the
TypeError it formats and drops cost ~2k instructions a request (callgrind)."""
_MAX_QUEUED = 32
"""Pipelined requests parsed ahead of the one being answered before reading pauses."""


class ServedApp(Protocol):
    """What the server needs of the application: :class:`~cambist.gateways.rest.app.RestApp`
    in one process, or a worker's stand-in that forwards each request to the engine process
    (:mod:`cambist.server.worker`, ``cambist serve --workers N``)."""

    max_body: int

    def refused(self, err: ApiError, route_name: str) -> Response: ...

    def count(self, route_name: str, status: int) -> None: ...

    async def handle(
        self,
        method: str,
        path: str,
        raw_path: bytes,
        qs: bytes,
        headers: dict[bytes, bytes],
        body: bytes,
    ) -> Response: ...


Parsed = tuple[str, bytes, dict[bytes, bytes], bytes | None, bool]
"""method, URL, headers (lowercase names), body (None: over ``max_body``), keep-alive."""


@contextlib.contextmanager
def exit_on_signals(loop: asyncio.AbstractEventLoop, on_exit: Callable[[], None]) -> Iterator[None]:
    """SIGINT and SIGTERM call ``on_exit`` while inside (only in the main thread: tests run
    servers in threads and stop them with ``should_exit``)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_exit)
    try:
        yield
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def head_of(resp: Response, keep_alive: bool) -> bytes:
    """Status line and headers of an answer."""
    parts = [
        b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n"
        % (resp.status, _REASONS.get(resp.status, b"Unknown"), resp.content_type, len(resp.body))
    ]
    for name, value in resp.headers:
        parts.append(b"%s: %s\r\n" % (name, value))
    if not keep_alive:
        parts.append(b"connection: close\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


class HttpProtocol(asyncio.Protocol):
    """One client connection."""

    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.app = server.app
        self.max_body = server.app.max_body
        self.parser = httptools.HttpRequestParser(self)
        self.transport: Any = None
        self.url = b""
        self.headers: dict[bytes, bytes] = {}
        self.body: list[bytes] = []
        self.size = 0
        self.too_large = False
        self.queue: deque[Parsed] = deque()
        self.busy = False
        self.running: Coroutine[Any, Any, None] | None = None
        """The request being handled, driven by :meth:`_step` (no asyncio Task)."""
        self.starting = False
        self.paused = False
        self.write_paused = False
        self.closed = False
        self.idle_since = time.monotonic()

    # -- transport callbacks --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        # A request being handled runs to its end (its command may already be in the log); its
        # answer just has nowhere to go.
        self.closed = True
        self.queue.clear()
        self.server.connections.discard(self)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._refuse_and_close("upgrades are not supported")
        except httptools.HttpParserError as exc:
            self._refuse_and_close(f"malformed HTTP request: {exc}")

    def pause_writing(self) -> None:
        """The client is not reading its answers: stop reading its requests until it does."""
        self.write_paused = True
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        if not self.paused:
            self.transport.resume_reading()

    # -- parser callbacks -----------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = {}
        self.body = []
        self.size = 0
        self.too_large = False

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.lower()] = value

    def on_headers_complete(self) -> None:
        declared = self.headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            self.too_large = True
        elif self.headers.get(b"expect", b"").lower() == b"100-continue":
            self.transport.write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        if self.too_large:
            return
        self.size += len(body)
        if self.size > self.max_body:
            self.too_large = True
            self.body = []
        else:
            self.body.append(body)

    def on_message_complete(self) -> None:
        if self.closed:  # pipelined behind a request that closed the connection: never run
            return
        chunks = self.body
        body = None if self.too_large else (chunks[0] if len(chunks) == 1 else b"".join(chunks))
        method = self.parser.get_method().decode("latin-1")
        parsed = (method, self.url, self.headers, body, self.parser.should_keep_alive())
        if self.busy:
            self.queue.append(parsed)
            if len(self.queue) >= _MAX_QUEUED and not self.paused:
                self.paused = True
                self.transport.pause_reading()
        else:
            self._start(parsed)

    # -- answering ------------------------------------------------------------------------------

    def _start(self, parsed: Parsed) -> None:
        """Handle ``parsed`` now, and then the requests pipelined behind it.

        A request's coroutine is driven here rather than wrapped in an asyncio Task: the Task
        per request cost ~12% of the server's CPU (creating it, registering it in asyncio's
        interpreted WeakSet of all tasks, a loop turn before it first runs, a callback when it
        ends). The coroutine runs at once until it waits on a future, and that future's
        completion resumes it (:meth:`_wake`); one answered without waiting (``GET /time``, a
        refusal) lets this loop start the next pipelined request, without recursion however
        many a client pipelines.
        """
        self.starting = True
        try:
            while True:
                self.busy = True
                self.server.active += 1
                self.running = self._run(parsed)
                self._step()
                if self.busy or self.closed or not self.queue:
                    return
                parsed = self._next_queued()
        finally:
            self.starting = False

    def _step(self) -> None:
        """Run the request's coroutine to its next wait (what ``Task.__step`` does for a task:
        a future it waits on resumes it when done, a bare yield resumes it next loop turn)."""
        coro = self.running
        if coro is None:
            return
        try:
            waited: Any = coro.send(None)
        except StopIteration:
            self._finished()
            if not self.starting and not self.busy and self.queue and not self.closed:
                self._start(self._next_queued())  # resumed by a future: go on from here
            return
        except (KeyboardInterrupt, SystemExit):
            self._finished()
            raise
        except BaseException:
            self._finished()
            log.exception("http.request_failed")
            return
        if getattr(waited, "_asyncio_future_blocking", None) is not None:
            waited._asyncio_future_blocking = False
            waited.add_done_callback(self._wake)
        elif waited is None:
            self.server.loop_or_running().call_soon(self._step)
        else:  # as asyncio's Task: only futures may be awaited
            self._finished()
            coro.close()
            log.error("http.bad_await", awaited=repr(waited))
            self._close()

    def _wake(self, _done: Any) -> None:
        self._step()

    def _finished(self) -> None:
        self.running = None
        self.server.active -= 1

    def _next_queued(self) -> Parsed:
        parsed = self.queue.popleft()
        if self.paused and len(self.queue) < _MAX_QUEUED // 2:
            self.paused = False
            if not self.write_paused:
                self.transport.resume_reading()
        return parsed

    async def _run(self, parsed: Parsed) -> None:
        method, url, headers, body, keep_alive = parsed
        try:
            if body is None:
                limit = f"bodies are limited to {self.max_body} bytes"
                resp = self.app.refused(ApiError("body_too_large", limit), "unmatched")
            else:
                try:
                    # httptools' stubs say bytes, but absent parts are None (and the mypyc
                    # build checks declared types at the boundary): read them untyped.
                    target: Any = httptools.parse_url(url)
                except httptools.HttpParserInvalidURLError:
                    resp = self.app.refused(ApiError("not_found", "invalid URL"), "unmatched")
                else:
                    given: bytes | None = target.path
                    query: bytes | None = target.query
                    raw = given or b"/"
                    text = raw.decode("latin-1")
                    path = unquote(text) if _PERCENT in raw else text
                    resp = await self.app.handle(method, path, raw, query or b"", headers, body)
        except BaseException:
            self._close()
            raise
        self._answer(resp, keep_alive and not self.server.stopping, method == "HEAD")

    def _answer(self, resp: Response, keep_alive: bool, head_only: bool) -> None:
        self.busy = False
        if self.closed:
            return
        head = head_of(resp, keep_alive)
        self.transport.write(head if head_only else head + resp.body)
        if not keep_alive:
            self._close()
            return
        if not self.queue:
            self.idle_since = time.monotonic()
        # else the next request starts once this one's coroutine has returned (_step, _start)

    def _refuse_and_close(self, message: str) -> None:
        if self.busy or self.closed:  # an answer is still due first: just drop the connection
            self._close()
            return
        log.info("http.bad_request", error=message)
        self.app.count("unmatched", 400)
        resp = Response(400, b"Invalid HTTP request received.", b"text/plain; charset=utf-8")
        self.transport.write(head_of(resp, False) + resp.body)
        self._close()

    def _close(self) -> None:
        if not self.closed:
            self.closed = True
            self.transport.close()

    def close_if_idle(self, idle_before: float) -> None:
        if not self.busy and not self.queue and self.idle_since <= idle_before:
            self._close()


class HttpServer:
    """Serves a :class:`ServedApp` on a bound socket until ``should_exit`` (or SIGINT/SIGTERM).

    Shutdown: stop accepting, close idle connections, let requests being handled finish (at
    most ``graceful_s``), then close the rest; answers given during shutdown carry
    ``connection: close``.
    """

    def __init__(self, app: ServedApp, *, keep_alive_s: float = 5.0, graceful_s: float = 10.0):
        self.app = app
        self.keep_alive_s = keep_alive_s
        self.graceful_s = graceful_s
        self.should_exit = False
        self.stopping = False
        self.connections: set[HttpProtocol] = set()
        self.active = 0
        """Requests being handled (started, not yet answered), across connections."""
        self.loop: asyncio.AbstractEventLoop | None = None

    def loop_or_running(self) -> asyncio.AbstractEventLoop:
        return self.loop if self.loop is not None else asyncio.get_running_loop()

    async def serve(self, sock: socket.socket) -> None:
        loop = self.loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: HttpProtocol(self), sock=sock, backlog=4096)
        with exit_on_signals(loop, self._exit):
            swept = time.monotonic()
            while not self.should_exit:
                await asyncio.sleep(0.1)
                now = time.monotonic()
                if now - swept >= 1.0:
                    swept = now
                    for conn in list(self.connections):
                        conn.close_if_idle(now - self.keep_alive_s)
        self.stopping = True
        server.close()
        for conn in list(self.connections):
            conn.close_if_idle(float("inf"))
        deadline = time.monotonic() + self.graceful_s
        while self.active and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for conn in list(self.connections):
            conn._close()
        await server.wait_closed()

    def _exit(self) -> None:
        self.should_exit = True
