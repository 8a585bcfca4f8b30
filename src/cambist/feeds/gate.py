"""One market-data gate: N redundant connections per venue, merged, into the log.

``Core`` (``core.py``, compiled in the native build) is the synchronous per-connection
pipeline (parse, integrity, merge) with no I/O; it is re-exported here. ``Connection`` adds the
socket: connect with exponential backoff and full jitter, subscribe, a silence watchdog
per connection and per book, resubscription or paced REST snapshots to resync one book.
``Gate`` owns the connections of one venue, the merger and the batching to the sink.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import aiohttp
import structlog

from cambist.feeds.book import SyncedBook, Verdict
from cambist.feeds.core import Core, Counters
from cambist.feeds.merge import Merger
from cambist.feeds.scaled import Scale
from cambist.feeds.sink import Sink
from cambist.feeds.types import (
    FeedError,
    Instrument,
    Record,
)

log = structlog.get_logger("cambist.feeds")
__all__ = ["Backoff", "Connection", "Core", "Counters", "Gate", "GateConfig", "Pacer"]


@dataclass
class GateConfig:
    """Tunables of one venue's gate; the defaults suit the live venues."""

    connections: int = 2
    ws_url: str = ""
    rest_url: str = ""
    silence_s: float = 5.0
    """No message at all for this long: the connection is dead, reconnect."""
    book_silence_s: float = 30.0
    """One book silent this long while the connection talks: resync that book."""
    backoff_base_s: float = 0.2
    backoff_cap_s: float = 30.0
    snapshot_rate: float = 5.0
    """REST snapshots per second across the venue (Binance weight limits)."""
    snapshot_burst: int = 10
    flush_every: int = 512
    flush_interval_s: float = 0.002
    scales: dict[str, Scale] = field(default_factory=dict)
    """Decimals of prices and sizes per symbol (``scaled.DEFAULT_SCALE`` when absent)."""


class Backoff:
    """Exponential backoff with full jitter, so hundreds of reconnects spread out."""

    def __init__(self, base: float, cap: float, rng: random.Random | None = None) -> None:
        self.base, self.cap, self.attempt = base, cap, 0
        self.rng = rng or random.Random()

    def next_delay(self) -> float:
        delay = self.rng.uniform(0, min(self.cap, self.base * 2**self.attempt))
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0


class Pacer:
    """Token bucket for REST snapshot fetches shared by all connections of a venue."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.stamp = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
                self.stamp = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)


class Connection:
    """One WebSocket to one venue with reconnect, watchdogs and per-book resync."""

    def __init__(self, gate: Gate, conn: int) -> None:
        self.gate = gate
        self.conn = conn
        cfg = gate.config
        self.core = Core(gate.venue, gate.symbols, conn, gate.merger, gate.stats[conn], cfg.scales)
        self.stats = gate.stats[conn]
        self.backoff = Backoff(cfg.backoff_base_s, cfg.backoff_cap_s)
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.last_msg = time.monotonic()
        self._book_marks: dict[str, tuple[str, float]] = {}
        self.fetching: set[str] = set()
        self._fetches: set[asyncio.Task[None]] = set()
        self.connected = asyncio.Event()

    async def run(self) -> None:
        cfg = self.gate.config
        url = cfg.ws_url or self.core.session.ws_url
        while True:
            try:
                async with self.gate.http.ws_connect(url, heartbeat=None, max_msg_size=0) as ws:
                    self.ws = ws
                    await self._session(ws)
            except asyncio.CancelledError:
                raise
            except (aiohttp.ClientError, OSError, TimeoutError) as e:
                self.stats.note_error(f"connect: {e}")
            finally:
                self.ws = None
                self.connected.clear()
                self.gate.merger.connection_lost(self.conn)
            self.stats.reconnects += 1
            await asyncio.sleep(self.backoff.next_delay())

    async def _session(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        core = self.core
        core.new_session()
        self.fetching.clear()
        for text in core.session.subscribe():
            await ws.send_str(text)
        self.connected.set()
        now = time.monotonic()
        self.last_msg = now
        self._book_marks.clear()
        tasks = [asyncio.create_task(self._watchdog(ws))]
        if core.session.app_ping:
            tasks.append(asyncio.create_task(self._pinger(ws)))
        gate = self.gate
        healthy_at = now + 1.0
        try:
            async for msg in ws:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    raw = msg.data.encode()
                elif msg.type is aiohttp.WSMsgType.BINARY:
                    raw = msg.data
                else:
                    break
                recv_ts = time.time_ns()
                mono = time.monotonic()
                self.last_msg = mono
                if mono > healthy_at:
                    self.backoff.reset()
                for symbol in core.handle(raw, recv_ts):
                    await self.resync(symbol)
                gate.maybe_flush()
        finally:
            for t in [*tasks, *self._fetches]:
                t.cancel()

    async def resync(self, symbol: str) -> None:
        """Discard one book and get a fresh one: paced REST snapshot or resubscription."""
        core = self.core
        synced = core.books[symbol]
        if synced.needs_rest_snapshot:
            if symbol in self.fetching:
                return
            if synced.live or not getattr(synced, "buffer", None):
                core.reset_book(symbol)
            self.fetching.add(symbol)
            task = asyncio.create_task(self._fetch_snapshot(symbol, synced))
            self._fetches.add(task)
            task.add_done_callback(self._fetches.discard)
            return
        core.reset_book(symbol)
        ws = self.ws
        if ws is not None and not ws.closed:
            for text in core.session.resubscribe_book(symbol):
                await ws.send_str(text)

    async def _fetch_snapshot(self, symbol: str, synced: SyncedBook) -> None:
        core, cfg = self.core, self.gate.config
        url = core.session.snapshot_url(cfg.rest_url or core.session.rest_url, symbol)
        backoff = Backoff(cfg.backoff_base_s, cfg.backoff_cap_s)
        try:
            while self.ws is not None and core.books.get(symbol) is synced:
                await self.gate.pacer.acquire()
                try:
                    async with self.gate.http.get(url) as resp:
                        body = await resp.read()
                        if resp.status != 200:
                            raise FeedError(f"snapshot HTTP {resp.status}")
                    snap = core.session.parse_snapshot(symbol, body, time.time_ns())
                except (aiohttp.ClientError, OSError, FeedError, TimeoutError) as e:
                    self.stats.note_error(f"snapshot {symbol}: {e}")
                    await asyncio.sleep(backoff.next_delay())
                    continue
                self.stats.snapshots_fetched += 1
                if core.books.get(symbol) is not synced:
                    return
                verdict, _ = synced.on_rest_snapshot(snap)
                if verdict is Verdict.SNAPSHOT:
                    self.gate.merger.book(self.conn, snap, synced, verdict)
                    self.gate.maybe_flush()
                    return
        finally:
            self.fetching.discard(symbol)

    async def _watchdog(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        cfg = self.gate.config
        period = min(cfg.silence_s, cfg.book_silence_s) / 4
        while not ws.closed:
            await asyncio.sleep(period)
            now = time.monotonic()
            if now - self.last_msg > cfg.silence_s:
                self.stats.watchdog_trips += 1
                await ws.close()
                return
            # per-book silence: a book whose state has not moved for too long
            for symbol, synced in self.core.books.items():
                key = f"{symbol}:{synced.last_seq}:{synced.last_ts}"
                prev = self._book_marks.get(symbol)
                if prev is None or prev[0] != key:
                    self._book_marks[symbol] = (key, now)
                elif now - prev[1] > cfg.book_silence_s:
                    self.stats.watchdog_trips += 1
                    self._book_marks.pop(symbol, None)
                    await self.resync(symbol)

    async def _pinger(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        text = self.core.session.app_ping
        while not ws.closed:
            await asyncio.sleep(self.core.session.ping_interval)
            await ws.send_str(text)


class Gate:
    """All connections of one venue feeding one merger and one sink."""

    def __init__(
        self,
        venue: ModuleType,
        symbols: Sequence[str],
        sink: Sink,
        config: GateConfig | None = None,
    ) -> None:
        self.venue = venue
        self.symbols = list(symbols)
        self.sink = sink
        self.config = config or GateConfig()
        self.pending: list[Record] = []
        self.merger = Merger(self.pending.append)
        self.stats = [Counters() for _ in range(self.config.connections)]
        self.pacer = Pacer(self.config.snapshot_rate, self.config.snapshot_burst)
        self.http: aiohttp.ClientSession = None  # type: ignore[assignment]
        self.connections: list[Connection] = []
        self._last_flush = time.monotonic()

    def maybe_flush(self) -> None:
        if len(self.pending) >= self.config.flush_every:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.sink.append(self.pending)
            self.pending.clear()
        self._last_flush = time.monotonic()

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(self.config.flush_interval_s)
            self.flush()

    def instruments(self) -> list[Instrument]:
        """The scales of every symbol, as the log records them before any price."""
        session = self.venue.Session(self.symbols, self.config.scales)
        name = session.name
        return [Instrument(name, s, *session.scales[s]) for s in self.symbols]

    async def run(self) -> None:
        """Run until cancelled."""
        self.pending.extend(self.instruments())
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            self.http = http
            self.connections = [Connection(self, i) for i in range(self.config.connections)]
            tasks = [asyncio.create_task(c.run()) for c in self.connections]
            tasks.append(asyncio.create_task(self._flusher()))
            try:
                await asyncio.gather(*tasks)
            finally:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                self.flush()
                self.sink.flush()

    def totals(self) -> dict[str, Any]:
        keys = (
            "messages",
            "malformed",
            "resyncs",
            "reconnects",
            "snapshots_fetched",
            "watchdog_trips",
        )
        out: dict[str, Any] = {k: sum(getattr(s, k) for s in self.stats) for k in keys}
        out["duplicates"] = self.merger.duplicates
        out["resnapshots"] = self.merger.resnapshots
        out["failovers"] = self.merger.failovers
        return out
