"""The gateway's side of the sequencer: concurrent requests become group commits.

Each request hands its command to :meth:`Sequencer.submit` and awaits it. Everything submitted in
one event-loop turn goes to ``Node.submit_batch`` as one batch; the node's journal thread merges
all batches waiting for the disk into one write and one fsync (group commit). A request is
answered only after its command is durable, applied, *and* folded into the live view, so a
client that reads right after its 201 sees its own write: the node calls the view's fold (a
listener) before the batch's callback, which answers every request of the batch at once.
"""

from __future__ import annotations

import asyncio
import time
from bisect import bisect_left
from collections.abc import Callable
from typing import Any, Protocol

import structlog

from cambist.domain.commands import Command
from cambist.domain.events import CommandRejected
from cambist.gateways.rest.errors import ApiError
from cambist.gateways.rest.keystore import IdemRecord, KeyStore
from cambist.gateways.rest.metrics import Metrics
from cambist.gateways.rest.view import AppliedLike, View
from cambist.log.errors import CodecError

log = structlog.get_logger("cambist.sequencer")


def _unavailable(cause: BaseException) -> ApiError:
    """What every request gets once the node has failed: 503, not a guess at the state."""
    log.error("sequencer.node_failed", error=repr(cause))
    return ApiError("unavailable", "the exchange is not accepting commands; see server logs")


class NodeLike(Protocol):
    """What the gateway needs of ``cambist.node.Node``."""

    engine: Any

    def submit_batch(
        self, cmds: list[Command], on_done: Callable[[list[Any] | None, BaseException | None], None]
    ) -> None: ...

    def listen(self, listener: Callable[[list[Any]], None]) -> None: ...


class Sequencer:
    def __init__(
        self,
        node: NodeLike,
        view: View,
        store: KeyStore,
        metrics: Metrics,
        *,
        max_batch: int = 4096,
        max_inflight: int = 1,
    ) -> None:
        self.node = node
        self.view = view
        self.store = store
        self.metrics = metrics
        self.max_batch = max_batch
        self.max_inflight = max_inflight
        self._cmds: list[Command] = []
        self._futures: list[asyncio.Future[AppliedLike]] = []
        self._idem: list[IdemRecord] = []
        self._arrived: list[float] = []
        self._scheduled = False
        self.inflight = 0
        """Batches handed to the node and not yet answered."""
        self._view_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        """The running loop, looked up once: ``asyncio.get_running_loop()`` makes a getpid
        system call in CPython 3.11 (3% of the server's CPU when called per command)."""
        self.failed: BaseException | None = None
        node.listen(self.fold)

    @property
    def depth(self) -> int:
        """Commands waiting for the next group commit."""
        return len(self._cmds)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is None or loop.is_closed():
            loop = self._loop = asyncio.get_running_loop()
        return loop

    async def stop(self) -> None:
        """Wait until every submitted command is answered (or failed)."""
        while (self.inflight or self._scheduled or self._cmds) and self.failed is None:
            await asyncio.sleep(0.001)

    def submit(self, cmd: Command, idem: IdemRecord | None = None) -> asyncio.Future[AppliedLike]:
        """Queue ``cmd`` for the next group commit; the future resolves once it is visible."""
        loop = self._running_loop()
        fut: asyncio.Future[AppliedLike] = loop.create_future()
        if self.failed is not None:
            fut.set_exception(_unavailable(self.failed))
            return fut
        self._cmds.append(cmd)
        self._futures.append(fut)
        self._arrived.append(time.perf_counter())
        if idem is not None:
            self._idem.append(idem)
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return fut

    def _flush(self) -> None:
        """Hand what is queued to the node as one batch, unless enough batches are in flight.

        By default one batch is outstanding at a time: what arrives while it is on its way to
        the disk waits here and goes as the next batch when it is answered (the classic group
        commit). Two in flight let the journal's write overlap the engine's work, but on two
        cores the loop always has requests to parse meanwhile, and at 10,000 orders/s two in
        flight made batches of 7-9 commands against 13-24 with one, and cost ~5% more CPU per
        order (per batch: a journal wake-up, a GIL hand-over each way, a durable write); the
        p99 was no different out of the noise (docs/benchmarks.md, stop 17). Sending one batch
        per loop turn without any limit spent ~8% of the CPU waking the journal thread for
        batches of a few commands.
        """
        self._scheduled = False
        if self.inflight >= self.max_inflight or not self._cmds:
            return
        cmds, self._cmds = self._cmds, []
        futs, self._futures = self._futures, []
        arrived, self._arrived = self._arrived, []
        idem, self._idem = self._idem, []
        for i in range(0, len(cmds), self.max_batch):
            j = i + self.max_batch
            self._send(cmds[i:j], futs[i:j], arrived[i:j], idem if i == 0 else [])

    def _send(
        self,
        cmds: list[Command],
        futs: list[asyncio.Future[AppliedLike]],
        arrived: list[float],
        idem: list[IdemRecord],
    ) -> None:
        t0 = time.perf_counter()

        def settled(applied: list[Any] | None, exc: BaseException | None) -> None:
            self._settle(cmds, futs, arrived, t0, applied, exc)

        try:
            if idem:
                self.store.idem_pending(idem)
            self.node.submit_batch(cmds, settled)
        except (CodecError, ValueError, TypeError, OverflowError) as exc:
            # Refused while encoding, before anything was journaled (the gateway's validation
            # should make this unreachable): fail this batch only.
            for f in futs:
                if not f.done():
                    f.set_exception(RuntimeError(f"command not encodable: {exc!r}"))
            return
        except Exception as exc:  # the node is broken: refuse from now on rather than guess
            self._broken(exc, futs)
            return
        self.inflight += 1

    def _settle(
        self,
        cmds: list[Command],
        futs: list[asyncio.Future[AppliedLike]],
        arrived: list[float],
        t0: float,
        applied: list[Any] | None,
        exc: BaseException | None,
    ) -> None:
        """The node's callback for one batch: answer its requests, then send what waited."""
        self.inflight -= 1
        if exc is not None or applied is None:
            self._broken(exc or RuntimeError("the node answered without a result"), futs)
            return
        if self.failed is not None:  # the view's fold failed: its state cannot be trusted
            self._broken(self.failed, futs)
            return
        now = time.perf_counter()
        for f, a in zip(futs, applied, strict=True):
            if not f.done():
                f.set_result(a)
        self._observe(cmds, arrived, now, now - t0)
        if self._cmds and not self._scheduled:
            # A turn later, after the answered requests have run on (each may submit again):
            # sending at once made smaller batches and more commits (measured: 33 commands
            # per batch instead of 43 closed loop, 5% more CPU per order).
            self._scheduled = True
            self._running_loop().call_soon(self._flush)

    def _broken(self, exc: BaseException, futs: list[asyncio.Future[AppliedLike]]) -> None:
        self.failed = exc
        err = _unavailable(exc)
        for f in [*futs, *self._futures]:
            if not f.done():
                f.set_exception(err)
        self._cmds, self._futures, self._arrived, self._idem = [], [], [], []

    def _observe(self, cmds: list[Command], arrived: list[float], now: float, took: float) -> None:
        """Metrics once per group commit: counts per command type added up first, latencies
        straight into the histogram's buckets (per command, these calls were ~3% of the CPU).

        The per-command loop looks up each command type's series once per batch (by the type
        object: no ``__name__`` lookup or label tuple per command) and counts it there; the
        counter and the histogram's sum are added to once per type."""
        m = self.metrics
        m.batch_size.observe(len(cmds))
        m.batch_latency.observe(took)
        hist = m.command_latency
        buckets = hist.buckets
        by_type: dict[type, tuple[list[float], list[float]]] = {}
        for cmd, t in zip(cmds, arrived, strict=True):
            kind = type(cmd)
            found = by_type.get(kind)
            if found is None:
                label = (kind.__name__,)
                series = hist.series.get(label)
                if series is None:
                    series = hist.series[label] = [0.0] * (len(buckets) + 2)
                found = by_type[kind] = (series, [0.0, 0.0])
            value = now - t
            found[0][bisect_left(buckets, value)] += 1.0
            tally = found[1]
            tally[0] += 1.0
            tally[1] += value
        for kind, (series, tally) in by_type.items():
            series[-1] += tally[1]
            m.commands.inc(kind.__name__, amount=tally[0])

    # -- the view's feed ----------------------------------------------------------------------

    def fold(self, batch: list[Any]) -> None:
        """The node's listener: fold an applied batch into the view before its requests are
        answered. A fold that raises leaves the view behind the engine: from then on every
        request gets 503 (and readiness says so) rather than answers from a wrong view."""
        if self.failed is not None:
            return
        view_apply = self.view.apply
        rejections = self.metrics.rejections
        try:
            for applied in batch:
                view_apply(applied)
                for e in applied.events:
                    if type(e) is CommandRejected:
                        rejections.inc(e.reason.value)
        except Exception as exc:
            log.exception("sequencer.view_fold_failed", seq=getattr(applied, "seq", None))
            self.failed = exc
            return
        self._wake()

    def _wake(self) -> None:
        if not self._view_waiters:
            return
        pos = self.view.last_seq
        keep = []
        for seq, fut in self._view_waiters:
            if seq <= pos:
                if not fut.done():
                    fut.set_result(None)
            else:
                keep.append((seq, fut))
        self._view_waiters = keep

    async def wait_view(self, seq: int, timeout: float) -> bool:
        """Wait until the view has folded ``seq``; False on timeout."""
        if self.view.last_seq >= seq:
            return True
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._view_waiters.append((seq, fut))
        try:
            await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            return False
        return True
