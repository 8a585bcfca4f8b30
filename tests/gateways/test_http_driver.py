"""The HTTP server drives each request's coroutine itself (no asyncio Task per request): the
ways a handler can wait, fail or be slow, against a stand-in application."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

from cambist.gateways.rest.app import Response
from cambist.gateways.rest.errors import ApiError
from cambist.gateways.rest.http import HttpServer


class _App:
    """Answers by path: waits on a bare yield, a timer, a future set later, or raises."""

    max_body = 1024

    def __init__(self) -> None:
        self.later: list[asyncio.Future[bytes]] = []
        self.counted: list[tuple[str, int]] = []

    def refused(self, err: ApiError, route_name: str) -> Response:
        return Response(err.status, err.body())

    def count(self, route_name: str, status: int) -> None:
        self.counted.append((route_name, status))

    async def handle(self, method: str, path: str, raw_path: bytes, qs: bytes,
                     headers: dict[bytes, bytes], body: bytes) -> Response:  # fmt: skip
        if path == "/yield":
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            return Response(200, b"yielded")
        if path == "/timer":
            await asyncio.sleep(0.02)
            return Response(200, b"timer")
        if path == "/later":
            fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
            self.later.append(fut)
            return Response(200, await fut)
        if path == "/boom":
            raise RuntimeError("handler bug")
        return Response(200, b"now")


async def _request(port: int, *paths: str) -> list[bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"".join(f"GET {p} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for p in paths))
    bodies = []
    # The answers read before the server closed the connection: the tests compare this list
    # with what they expect, so a closed connection shows as missing answers.
    with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
        for _ in paths:
            head = await reader.readuntil(b"\r\n\r\n")
            size = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            bodies.append(await reader.readexactly(size))
    writer.close()
    return bodies


async def _scenario(check: Any) -> None:
    app = _App()
    server = HttpServer(app, graceful_s=2.0)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]
    serving = asyncio.get_running_loop().create_task(server.serve(sock))
    await asyncio.sleep(0.05)
    try:
        await check(app, server, port)
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 5)


def test_http_driver_handlers_that_yield_or_sleep_are_answered_in_order() -> None:
    async def check(app: _App, server: HttpServer, port: int) -> None:
        got = await _request(port, "/yield", "/now", "/timer", "/now", "/yield")
        assert got == [b"yielded", b"now", b"timer", b"now", b"yielded"]
        assert server.active == 0

    asyncio.run(_scenario(check))


def test_http_driver_handler_resumed_by_a_future_answers_and_runs_what_is_queued_behind() -> None:
    async def check(app: _App, server: HttpServer, port: int) -> None:
        pending = asyncio.ensure_future(_request(port, "/later", "/now", "/now"))
        for _ in range(100):
            if app.later:
                break
            await asyncio.sleep(0.01)
        assert server.active == 1  # the first waits; the two behind it are queued, not started
        app.later[0].set_result(b"resumed")
        assert await pending == [b"resumed", b"now", b"now"]
        assert server.active == 0

    asyncio.run(_scenario(check))


def test_http_driver_handler_exception_closes_only_its_connection() -> None:
    async def check(app: _App, server: HttpServer, port: int) -> None:
        assert await _request(port, "/boom", "/now") == []  # closed, nothing answered
        assert await _request(port, "/now") == [b"now"]  # the server goes on
        assert server.active == 0

    asyncio.run(_scenario(check))


def test_http_driver_graceful_stop_waits_for_a_request_in_flight() -> None:
    async def check(app: _App, server: HttpServer, port: int) -> None:
        pending = asyncio.ensure_future(_request(port, "/later"))
        for _ in range(100):
            if app.later:
                break
            await asyncio.sleep(0.01)
        server.should_exit = True  # the stop begins while the request waits
        await asyncio.sleep(0.2)
        app.later[0].set_result(b"finished during the stop")
        assert await pending == [b"finished during the stop"]

    asyncio.run(_scenario(check))
