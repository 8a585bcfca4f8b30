"""One HTTP worker process of ``cambist serve --workers N``: ``python -m cambist.server.worker``.

It accepts connections on the server's port (``SO_REUSEPORT``: the kernel spreads new
connections over the workers), parses HTTP with the gateway's own server
(:mod:`cambist.gateways.rest.http`) and forwards every request over the link
(:mod:`cambist.server.link`) to the engine process, which authenticates, sequences and answers
it. So a worker holds no state: it can be killed at any moment, and the engine process starts
another; requests it was carrying are lost like those of a dropped connection (a command the
engine already received still executes, and an idempotent retry gets its first answer).

When the link to the engine process closes (it stopped, or died), the worker stops accepting
and answers what it still holds with 503 ``unavailable``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import socket
import sys

import structlog

from cambist.gateways.rest.app import Response
from cambist.gateways.rest.errors import ApiError
from cambist.gateways.rest.http import HttpServer
from cambist.server.link import (
    FramedProtocol,
    LinkCount,
    LinkHello,
    LinkRequest,
    LinkResponse,
    engine_decoder,
)

log = structlog.get_logger("cambist.worker")
GRACEFUL_S = 10.0
"""How long a stopping worker lets requests it holds finish (the engine process waits a little
longer for its workers)."""


def _unavailable() -> Response:
    err = ApiError("unavailable", "the exchange is not accepting requests; see server logs")
    return Response(err.status, err.body(), headers=err.headers)


class EngineLink(FramedProtocol):
    """The worker's connection to the engine process; many requests in flight at once."""

    def __init__(self) -> None:
        super().__init__(engine_decoder(), self._answered)
        self.waiting: dict[int, asyncio.Future[Response]] = {}
        self.next_id = 0
        self.closed = asyncio.Event()

    def _answered(self, batch: list[LinkResponse]) -> None:
        waiting = self.waiting
        for r in batch:
            fut = waiting.pop(r.id, None)
            if fut is not None and not fut.done():
                fut.set_result(Response(r.status, r.body, r.content_type, r.headers))

    def connection_lost(self, exc: Exception | None) -> None:
        for fut in self.waiting.values():
            if not fut.done():
                fut.set_result(_unavailable())
        self.waiting.clear()
        self.closed.set()

    def send(self, message: LinkRequest | LinkCount | LinkHello, size: int = 0) -> None:
        if self.writer is not None and not self.closed.is_set():
            self.writer.send(message, size)

    def request(
        self,
        method: str,
        path: str,
        raw_path: bytes,
        qs: bytes,
        headers: dict[bytes, bytes],
        body: bytes | None,
    ) -> asyncio.Future[Response]:
        fut: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        if self.closed.is_set():
            fut.set_result(_unavailable())
            return fut
        self.next_id += 1
        self.waiting[self.next_id] = fut
        size = len(body) if body is not None else 0
        self.send(LinkRequest(self.next_id, method, path, raw_path, qs, headers, body), size)
        return fut


class RemoteApp:
    """Stands in for :class:`~cambist.gateways.rest.app.RestApp` in a worker's HTTP server."""

    def __init__(self, link: EngineLink, max_body: int) -> None:
        self.link = link
        self.max_body = max_body

    def refused(self, err: ApiError, route_name: str) -> Response:
        self.link.send(LinkCount(route_name, err.status, err.code))
        return Response(err.status, err.body(), headers=err.headers)

    def count(self, route_name: str, status: int) -> None:
        self.link.send(LinkCount(route_name, status))

    async def handle(
        self,
        method: str,
        path: str,
        raw_path: bytes,
        qs: bytes,
        headers: dict[bytes, bytes],
        body: bytes,
    ) -> Response:
        return await self.link.request(method, path, raw_path, qs, headers, body)


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` shared with the other workers (``SO_REUSEPORT``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(4096)
    return sock


async def run_worker(link_path: str, host: str, port: int, max_body: int) -> None:
    loop = asyncio.get_running_loop()
    link = EngineLink()
    await loop.create_unix_connection(lambda: link, link_path)
    sock = listen(host, port)
    server = HttpServer(RemoteApp(link, max_body), graceful_s=GRACEFUL_S)

    async def stop_when_unlinked() -> None:
        await link.closed.wait()
        if not server.should_exit:
            log.warning("worker.engine_link_closed", pid=os.getpid())
        server.should_exit = True

    watcher = loop.create_task(stop_when_unlinked())
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 100)
    link.send(LinkHello(os.getpid()))
    try:
        await server.serve(sock)
    finally:
        watcher.cancel()
        if link.transport is not None:
            link.transport.close()


def main(argv: list[str] | None = None) -> None:
    from cambist.server.logsetup import configure_logging

    ap = argparse.ArgumentParser(prog="python -m cambist.server.worker", description=__doc__)
    ap.add_argument("--link", required=True, help="the engine process's Unix socket")
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--max-body", type=int, required=True)
    ap.add_argument("--log-level", default="info")
    args = ap.parse_args(argv)
    configure_logging(args.log_level)
    try:
        import uvloop

        uvloop.run(run_worker(args.link, args.host, args.port, args.max_body))
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        asyncio.run(run_worker(args.link, args.host, args.port, args.max_body))
    sys.exit(0)


if __name__ == "__main__":
    main()
