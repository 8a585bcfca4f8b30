"""One process per share of the books, so the gates use every core.

A single Python process runs one core's worth of parsing, book checks and dedup; a machine
with more cores than that is idle while the gate saturates. ``WorkerPool`` starts one worker
process per share: some venues' symbols, where one venue's symbols may be split between
workers (each then opens its own connections for its part), so the load can be spread evenly
even when the venues are few or unequal. A worker runs one ``Gate`` per venue of its share on
its own event loop and ships what the parent needs through a pipe, one frame per message:

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
from collections.abc import Mapping, Sequence
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
    """What one worker runs: a gate per venue of ``books`` (venue -> the symbols this worker
    ingests of it), each with that venue's ``GateConfig``."""

    books: dict[str, list[str]]
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

    def append_encoded(self, payload: bytes | memoryview) -> int:
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
        Gate(VENUES[v], syms, sink, spec.configs.get(v, GateConfig()))
        for v, syms in spec.books.items()
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
        """Per-venue counters summed over the workers (a venue split between workers reports
        from each), plus the pool's own."""
        out: dict[str, Any] = {}
        for stats in self._stats.values():
            for venue, counters in stats.items():
                mine = out.setdefault(venue, {})
                for k, n in counters.items():
                    mine[k] = mine.get(k, 0) + n
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
            self.records += self.sink.append_encoded(body)
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


def groups(books: Mapping[str, Sequence[str]], n: int) -> list[dict[str, list[str]]]:
    """The (venue, symbol) books cut into ``n`` shares of equal size (to one book), in order:
    each share is a run of consecutive books, so at most ``n - 1`` venues are split between
    two workers and the extra connections stay few."""
    pairs = [(v, s) for v, syms in books.items() for s in syms]
    n = max(1, min(n, len(pairs)))
    out: list[dict[str, list[str]]] = []
    for i in range(n):
        share: dict[str, list[str]] = {}
        for v, s in pairs[i * len(pairs) // n : (i + 1) * len(pairs) // n]:
            share.setdefault(v, []).append(s)
        out.append(share)
    return out


def parse_shares(
    texts: Sequence[str], books: Mapping[str, Sequence[str]]
) -> list[dict[str, list[str]]]:
    """Shares given by hand (``--group``), one text per worker: comma-separated ``VENUE`` (all
    of its symbols) or ``VENUE:SYMBOL`` items. Every book of the run must be in exactly one
    share, so a typo cannot silently drop a book or ingest it twice."""
    owner: dict[tuple[str, str], int] = {}
    out: list[dict[str, list[str]]] = []
    for i, text in enumerate(texts):
        share: dict[str, list[str]] = {}
        for item in (x.strip() for x in text.split(",")):
            venue, _, symbol = item.partition(":")
            if venue not in books:
                raise ValueError(f"group {i + 1}: {venue!r} is not a venue of this run")
            if symbol and symbol not in books[venue]:
                raise ValueError(f"group {i + 1}: {symbol!r} is not a symbol of this run")
            for s in [symbol] if symbol else books[venue]:
                if (venue, s) in owner:
                    raise ValueError(f"{venue}:{s} is in group {owner[venue, s] + 1} and {i + 1}")
                owner[venue, s] = i
                share.setdefault(venue, []).append(s)
        out.append(share)
    missing = [f"{v}:{s}" for v, syms in books.items() for s in syms if (v, s) not in owner]
    if missing:
        raise ValueError(f"not in any group: {', '.join(missing)}")
    return out


def share_text(share: Mapping[str, Sequence[str]], books: Mapping[str, Sequence[str]]) -> str:
    """The ``--group`` text of a share (a venue with all its symbols by name alone)."""
    items: list[str] = []
    for v, syms in share.items():
        items += [v] if list(syms) == list(books[v]) else [f"{v}:{s}" for s in syms]
    return ",".join(items)
