"""The engine process's side of ``cambist serve --workers N``: starting, watching and stopping
the HTTP worker processes (:mod:`cambist.server.worker`), and answering what they forward.

Each worker connects to a Unix socket in a private temporary directory and forwards parsed
requests (:mod:`cambist.server.link`); here each becomes a call of the same
:meth:`RestApp.handle <cambist.gateways.rest.app.RestApp.handle>` that serves HTTP directly in
one-process mode, so authentication, rate limits, idempotency and the sequencer behave exactly
alike. A worker that dies is started again (with a growing pause if it keeps dying); the port is
reserved here with ``SO_REUSEPORT`` but never listened on, so no connection waits on this
process's socket.

Shutdown (SIGINT/SIGTERM): the workers get SIGTERM and finish what they hold (their answers are
still made here), at most ``graceful_s``; then the link closes and the caller stops the gateway
and the node.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import structlog

from cambist.gateways.rest.app import RestApp
from cambist.gateways.rest.errors import ApiError
from cambist.gateways.rest.http import exit_on_signals
from cambist.gateways.rest.metrics import Counter, Gauge
from cambist.server.link import (
    FramedProtocol,
    LinkCount,
    LinkHello,
    LinkRequest,
    LinkResponse,
    WorkerMessage,
    worker_decoder,
)
from cambist.server.worker import GRACEFUL_S

log = structlog.get_logger("cambist.workers")

RESTART_PAUSE_S = (0.2, 10.0)
"""First and longest pause before starting a worker again after it died: the pause doubles
while a worker keeps dying, and is back to the first after it ran :data:`STABLE_S`."""
STABLE_S = 30.0


def reserve_port(host: str, port: int) -> socket.socket:
    """Bind ``host:port`` (0: any free port) with ``SO_REUSEPORT`` without listening: the port
    is known before the workers start and they can all listen on it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


class WorkerConnection(FramedProtocol):
    """One worker's link: each forwarded request handled by the app, answers batched back."""

    def __init__(self, pool: WorkerPool) -> None:
        super().__init__(worker_decoder(), self._received)
        self.pool = pool
        self.app = pool.app
        self.loop = asyncio.get_running_loop()

    def connection_lost(self, exc: Exception | None) -> None:
        self.pool.links.discard(self)

    def _received(self, batch: list[WorkerMessage]) -> None:
        tasks = self.pool.tasks
        for msg in batch:
            if type(msg) is LinkRequest:
                task = self.loop.create_task(self._answer(msg))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            elif type(msg) is LinkCount:
                if msg.code:
                    self.app.metrics.rejections.inc(msg.code)
                self.app.count(msg.route, msg.status)
            elif type(msg) is LinkHello:
                self.pool.hello(msg.pid, self)

    async def _answer(self, r: LinkRequest) -> None:
        if r.body is None:
            limit = f"bodies are limited to {self.app.max_body} bytes"
            resp = self.app.refused(ApiError("body_too_large", limit), "unmatched")
        else:
            resp = await self.app.handle(r.method, r.path, r.raw_path, r.query, r.headers, r.body)
        if self.writer is not None:
            answer = LinkResponse(r.id, resp.status, resp.body, resp.content_type, resp.headers)
            self.writer.send(answer, len(resp.body))


class WorkerPool:
    """N worker processes in front of ``app``; ``should_exit`` (or a signal) stops them."""

    def __init__(
        self,
        app: RestApp,
        *,
        workers: int,
        host: str,
        port: int,
        log_level: str = "info",
        graceful_s: float = GRACEFUL_S,
    ) -> None:
        self.app = app
        self.count = workers
        self.host = host
        self.port = port
        self.log_level = log_level
        self.graceful_s = graceful_s
        self.should_exit = False
        self.procs: list[subprocess.Popen[bytes]] = []
        self.links: set[WorkerConnection] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.ready: set[int] = set()
        self.restarts = Counter("cambist_worker_restarts", "HTTP workers started again")
        app.metrics.add(self.restarts)
        app.metrics.add(Gauge("cambist_workers_ready", "HTTP worker processes linked and ready",
                              lambda: float(len(self.ready))))  # fmt: skip
        self._dir = Path(tempfile.mkdtemp(prefix="cambist-link-"))
        self.link_path = str(self._dir / "engine.sock")
        self._server: asyncio.AbstractServer | None = None
        self._ready_event = asyncio.Event()

    def hello(self, pid: int, link: WorkerConnection) -> None:
        self.links.add(link)
        self.ready.add(pid)
        log.info("workers.ready", pid=pid, ready=len(self.ready), of=self.count)
        if len(self.ready) >= self.count:
            self._ready_event.set()

    def _spawn(self) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-m", "cambist.server.worker", "--link", self.link_path,
               "--host", self.host, "--port", str(self.port),
               "--max-body", str(self.app.max_body), "--log-level", self.log_level]  # fmt: skip
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL)

    async def start(self, timeout_s: float = 60.0) -> None:
        """Start the link and the workers; return once every worker is listening."""
        loop = asyncio.get_running_loop()
        os.chmod(self._dir, 0o700)
        self._server = await loop.create_unix_server(lambda: WorkerConnection(self),
                                                     self.link_path)  # fmt: skip
        self.procs = [self._spawn() for _ in range(self.count)]
        deadline = time.monotonic() + timeout_s
        while not self._ready_event.is_set():
            dead = [p for p in self.procs if p.poll() is not None]
            if dead:
                await self.stop()
                raise RuntimeError(f"an HTTP worker exited at start (code {dead[0].returncode})")
            if time.monotonic() > deadline:
                await self.stop()
                raise RuntimeError(f"HTTP workers not ready after {timeout_s:.0f} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready_event.wait(), 0.05)

    async def serve(self) -> None:
        """Watch the workers until ``should_exit`` or SIGINT/SIGTERM; start any that died."""
        loop = asyncio.get_running_loop()
        pause = [RESTART_PAUSE_S[0]] * len(self.procs)
        due = [0.0] * len(self.procs)
        started = [time.monotonic()] * len(self.procs)
        with exit_on_signals(loop, self._exit):
            while not self.should_exit:
                await asyncio.sleep(0.1)
                now = time.monotonic()
                for i, proc in enumerate(self.procs):
                    if proc.poll() is None:
                        continue
                    if not due[i]:
                        self.ready.discard(proc.pid)
                        if now - started[i] > STABLE_S:
                            pause[i] = RESTART_PAUSE_S[0]
                        log.warning("workers.died", pid=proc.pid, code=proc.returncode,
                                    restart_in_s=pause[i])  # fmt: skip
                        due[i] = now + pause[i]
                        pause[i] = min(pause[i] * 2, RESTART_PAUSE_S[1])
                    elif now >= due[i]:
                        self.procs[i] = self._spawn()
                        self.restarts.inc()
                        started[i] = now
                        due[i] = 0.0
        await self.stop()

    async def stop(self) -> None:
        """SIGTERM every worker, wait for them (answering what they forward), then unlink."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.graceful_s + 2.0
        while any(p.poll() is None for p in self.procs) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        while self.tasks:
            await asyncio.sleep(0.005)
        if self._server is not None:
            self._server.close()
            self._server = None
        for link in list(self.links):
            if link.transport is not None:
                link.transport.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def _exit(self) -> None:
        self.should_exit = True
