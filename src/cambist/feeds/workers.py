"""One process per venue group, so the gates use every core.

A single Python process runs one core's worth of parsing, book checks and dedup; a machine
with more cores than that is idle while the gate saturates. ``WorkerPool`` starts one worker
process per venue group. A worker runs its venues' ``Gate``s on its own event loop and ships
what the parent needs through a pipe, one frame per message:

* ``L`` + a msgpack batch of records (exactly what ``FileSink`` frames): the parent appends it
  to the one market-data log without decoding it;
* ``T`` + msgpack rows of every live merged book's best bid and offer, every ``tops_s``: the
  parent's consolidated view (``ConsolidatedBook(rows=pool.tops)``), at most that old;
* ``S`` + msgpack per-venue counters, with the tops.

Only the parent writes the log, so batches of different venues never interleave inside a
frame. A worker that dies (crash, OOM kill) is restarted with exponential backoff and counted
in ``restarts``; its gates resync from scratch, as after a reconnect. A worker whose parent
went away exits (its pipe breaks).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing as mp
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import msgspec
import structlog

from cambist.feeds.consolidated import TopRow, merger_tops
from cambist.feeds.gate import Backoff, Gate, GateConfig
from cambist.feeds.sink import Sink, batch_len, encode_batch
from cambist.feeds.types import Record
from cambist.feeds.venues import VENUES

log = structlog.get_logger("cambist.feeds")
_ENC = msgspec.msgpack.Encoder()
_ROWS = msgspec.msgpack.Decoder(list[TopRow])


def tune_gc() -> None:
    """Fewer, cheaper collections for a process that allocates per message but keeps little.

    The gate's per-message objects (events, levels) die young and hold no cycles, yet each
    young collection walks everything not frozen; start-up objects (modules, decoders,
    venue tables) are frozen out of the collector and the young generation is collected less
    often, so the rare long pauses that make the p99 shrink.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


@dataclass
class WorkerSpec:
    """What one worker runs: its venues' gates (one ``GateConfig`` per venue)."""

    venues: list[str]
    symbols: list[str]
    configs: dict[str, GateConfig] = field(default_factory=dict)
    tops_s: float = 0.05


class PipeSink:
    """A worker's sink: each batch goes to the parent as one encoded frame."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.count = 0

    def append(self, records: Sequence[Record]) -> None:
        self.conn.send_bytes(b"L" + encode_batch(records))
        self.count += len(records)

    def append_encoded(self, payload: bytes) -> int:
        self.conn.send_bytes(b"L" + payload)
        n = batch_len(payload)
        self.count += n
        return n

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None


def _worker_main(spec: WorkerSpec, conn: Connection) -> None:
    """Entry point of a worker process (spawned: no state inherited from the parent)."""
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    tune_gc()
    with contextlib.suppress(BrokenPipeError, ConnectionResetError, KeyboardInterrupt):
        asyncio.run(_worker(spec, conn))


async def _worker(spec: WorkerSpec, conn: Connection) -> None:
    sink = PipeSink(conn)
    gates = [
        Gate(VENUES[v], spec.symbols, sink, spec.configs.get(v, GateConfig())) for v in spec.venues
    ]
    tasks = [asyncio.create_task(g.run()) for g in gates]
    parent = os.getppid()
    try:
        while os.getppid() == parent:
            await asyncio.sleep(spec.tops_s)
            rows = [row for g in gates for row in merger_tops(g.merger)]
            conn.send_bytes(b"T" + _ENC.encode(rows))
            stats = {g.venue.Session.name: g.totals() for g in gates}
            conn.send_bytes(b"S" + _ENC.encode(stats))
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class _Worker:
    def __init__(self, index: int, spec: WorkerSpec) -> None:
        self.index = index
        self.spec = spec
        self.proc: Any = None
        self.conn: Connection | None = None
        self.backoff = Backoff(0.2, 10.0)
        self.started = 0.0


class WorkerPool:
    """The parent side: starts the workers, writes their batches, restarts the dead."""

    def __init__(self, specs: Sequence[WorkerSpec], sink: Sink) -> None:
        self.workers = [_Worker(i, s) for i, s in enumerate(specs)]
        self.sink = sink
        self.restarts = 0
        self.records = 0
        self._tops: dict[int, list[TopRow]] = {}
        self._stats: dict[int, dict[str, Any]] = {}
        self._ctx = mp.get_context("spawn")

    def tops(self) -> list[TopRow]:
        """Best bid and offer of every live merged book, as the workers last reported."""
        return [row for rows in self._tops.values() for row in rows]

    def totals(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for stats in self._stats.values():
            out.update(stats)
        out["workers"] = {"count": len(self.workers), "restarts": self.restarts}
        return out

    def _start(self, w: _Worker) -> None:
        parent_end, child_end = self._ctx.Pipe(duplex=False)
        w.proc = self._ctx.Process(
            target=_worker_main, args=(w.spec, child_end), name=f"feeds-{w.index}", daemon=True
        )
        w.proc.start()
        child_end.close()
        w.conn = parent_end
        w.started = time.monotonic()
        asyncio.get_running_loop().add_reader(parent_end.fileno(), self._drain, w)

    def _drain(self, w: _Worker) -> None:
        conn = w.conn
        if conn is None:
            return
        try:
            while conn.poll():
                self._handle(w, conn.recv_bytes())
        except (EOFError, OSError):
            self._lost(w)

    def _handle(self, w: _Worker, data: bytes) -> None:
        kind, body = data[:1], memoryview(data)[1:]
        if kind == b"L":
            self.records += self.sink.append_encoded(bytes(body))
        elif kind == b"T":
            self._tops[w.index] = _ROWS.decode(body)
        elif kind == b"S":
            self._stats[w.index] = msgspec.msgpack.decode(body)

    def _lost(self, w: _Worker) -> None:
        if w.conn is not None:
            asyncio.get_running_loop().remove_reader(w.conn.fileno())
            w.conn.close()
            w.conn = None
        self._tops.pop(w.index, None)  # nobody vouches for those books any more

    async def run(self) -> None:
        """Run every worker until cancelled; restart any that dies."""
        for w in self.workers:
            self._start(w)
        try:
            while True:
                await asyncio.sleep(0.05)
                for w in self.workers:
                    if w.proc.is_alive():
                        if time.monotonic() - w.started > 5.0:
                            w.backoff.reset()
                        continue
                    self._drain(w)  # whatever it sent before dying still counts
                    self._lost(w)
                    self.restarts += 1
                    log.warning("feeds worker died", worker=w.index, exitcode=w.proc.exitcode)
                    await asyncio.sleep(w.backoff.next_delay())
                    self._start(w)
        finally:
            for w in self.workers:
                self._lost(w)
                if w.proc is not None and w.proc.is_alive():
                    w.proc.terminate()
            for w in self.workers:
                if w.proc is not None:
                    await asyncio.to_thread(w.proc.join, 5)
            self.sink.flush()


def groups(venues: Sequence[str], n: int) -> list[list[str]]:
    """Venues dealt round-robin into ``n`` groups (at most one group per venue)."""
    n = max(1, min(n, len(venues)))
    return [list(venues[i::n]) for i in range(n)]
