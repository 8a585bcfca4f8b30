"""``cambist emulate``: serve one venue's WebSocket and REST snapshot from a synthetic market.

Faults are injected per connection and never on the connection currently protected, so
that one connection stays healthy at every moment (the condition under which the gate must
deliver a complete stream). The protected role rotates to another clean, subscribed
connection from time to time, so failover is exercised too.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from types import ModuleType

import msgspec
from aiohttp import WSMsgType, web

from cambist.feeds.emulator.market import BookChange, Market
from cambist.feeds.types import Trade
from cambist.feeds.venue import Subscription, VenueWire

FAULTS = ("disconnect", "stall", "gap", "duplicate", "reorder", "bad_checksum", "garbage")


@dataclass
class FaultConfig:
    rate: float = 0.0
    """Probability, per message to a connection, that a fault hits it."""
    kinds: tuple[str, ...] = FAULTS
    rotate_every: int = 3000
    """Messages between rotations of the protected connection."""
    stall_s: float = 2.0


@dataclass
class Peer:
    ws: web.WebSocketResponse
    wire: VenueWire
    opened: float
    subs: set[tuple[str, str]] = field(default_factory=set)
    held: str | None = None
    stalled: bool = False
    sent: int = 0
    clean: int = 0
    """Messages sent since the last fault or subscription change."""


class Emulator:
    """One venue: market generator, WebSocket and REST endpoints, fault injection."""

    def __init__(
        self,
        venue: ModuleType,
        symbols: list[str],
        rate: float = 1000.0,
        seed: int = 1,
        faults: FaultConfig | None = None,
        keep_history: bool = True,
    ) -> None:
        self.venue = venue
        self.wire_cls: type[VenueWire] = venue.Wire
        self.symbols = symbols
        self.market = Market(
            venue.Session.name, symbols, seed, self.wire_cls.book_depth, keep_history=keep_history
        )
        self.rate = rate
        self.faults = faults or FaultConfig()
        self.rng = random.Random(seed + 1)
        self.peers: list[Peer] = []
        self.protected: Peer | None = None
        self.paused = False
        self.sent_at: dict[str, int] = {}
        self.record_sends = False
        self.fault_counts: dict[str, int] = dict.fromkeys(FAULTS, 0)
        self._shared_wire = self.wire_cls(symbols)
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.port = 0

    # server -------------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        app = web.Application()
        if self.wire_cls.rest_path:
            app.router.add_get(self.wire_cls.rest_path, self._rest)
        app.router.add_get("/{tail:.*}", self._ws)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        self.port = int(sockets[0].getsockname()[1]) if sockets else port
        self._tasks = [asyncio.create_task(self._generate()), asyncio.create_task(self._beat())]
        return self.port

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for p in list(self.peers):
            await p.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _rest(self, request: web.Request) -> web.Response:
        symbol = self.wire_cls(self.symbols).rest_symbol(dict(request.query))
        if symbol not in self.market.symbols:
            return web.json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)
        bids, asks, seq = self.market.snapshot(symbol)
        body = self._shared_wire.rest_snapshot(symbol, bids, asks, seq)
        return web.Response(body=body, content_type="application/json")

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, heartbeat=None, max_msg_size=0)
        await ws.prepare(request)
        peer = Peer(ws, self.wire_cls(self.symbols), time.monotonic())
        self.peers.append(peer)
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                try:
                    subs, replies = peer.wire.on_client(msg.data)
                except (msgspec.DecodeError, AttributeError, KeyError, TypeError):
                    continue
                for text in replies:
                    await self._send(peer, text, faults=False)
                for sub in subs:
                    await self._subscribe(peer, sub)
        finally:
            self.peers.remove(peer)
            if self.protected is peer:
                self.protected = None
        return ws

    async def _subscribe(self, peer: Peer, sub: Subscription) -> None:
        key = (sub.channel, sub.symbol)
        if sub.action == "unsubscribe":
            peer.subs.discard(key)
            return
        peer.subs.add(key)
        if sub.channel == "book" and self.wire_cls.rest_path == "":
            bids, asks, seq = self.market.snapshot(sub.symbol)
            st = self.market.symbols[sub.symbol]
            text = peer.wire.book(
                sub.symbol, True, bids, asks, -1, seq, st.book_ts, self.market.view_of(st)
            )
            await self._send(peer, text, faults=False)

    # generation ---------------------------------------------------------------------------
    async def _generate(self) -> None:
        period = 0.002
        budget = 0.0
        last = time.monotonic()
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            budget += (now - last) * self.rate
            last = now
            if self.paused:
                budget = 0.0
                continue
            n = int(budget)
            budget -= n
            for _ in range(n):
                await self._emit(self.market.step())

    async def _emit(self, ev: BookChange | list[Trade]) -> None:
        self._rotate()
        if isinstance(ev, list):
            symbol, channel = ev[0].symbol, "trades"
            if self.record_sends:
                now = time.time_ns()
                for t in ev:
                    self.sent_at[t.trade_id] = now
        else:
            symbol, channel = ev.symbol, "book"
        for peer in list(self.peers):
            if (channel, symbol) not in peer.subs:
                continue
            if isinstance(ev, list):
                texts = peer.wire.trades(ev)
            else:
                texts = [self._book_text(peer, ev, False)]
            for text in texts:
                await self._send(
                    peer, text, faults=True, change=ev if not isinstance(ev, list) else None
                )
            if channel == "book" and ("quotes", symbol) in peer.subs and not isinstance(ev, list):
                q = self.market.quote(symbol, ev.ts)
                if q is not None:
                    await self._send(peer, peer.wire.quote(q), faults=True)

    def _book_text(self, peer: Peer, ev: BookChange, corrupt: bool) -> str:
        st = self.market.symbols[ev.symbol]
        return peer.wire.book(
            ev.symbol,
            False,
            ev.bids,
            ev.asks,
            ev.prev_seq,
            ev.seq,
            ev.ts,
            self.market.view_of(st),
            corrupt,
        )

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            for peer in list(self.peers):
                text = peer.wire.heartbeat_message(self.market._ts())
                if text and peer.subs:
                    await self._send(peer, text, faults=False)

    # faults -------------------------------------------------------------------------------
    def _rotate(self) -> None:
        """Keep one protected connection; hand the role to another clean one now and then."""
        live = [p for p in self.peers if p.subs and not p.stalled and not p.ws.closed]
        prot = self.protected
        if prot is not None and prot not in live:
            prot = None
        if prot is None or prot.clean >= self.faults.rotate_every:
            full = len(self.symbols) * 2
            candidates = [
                p for p in live if p is not prot and len(p.subs) >= full and p.clean > 200
            ]
            if candidates:
                prot = min(candidates, key=lambda p: p.opened)
                prot.clean = 0
            elif prot is None and live:
                prot = min(live, key=lambda p: p.opened)
        self.protected = prot

    async def _send(
        self, peer: Peer, text: str, faults: bool, change: BookChange | None = None
    ) -> None:
        if peer.stalled or peer.ws.closed:
            return
        cfg = self.faults
        if faults and cfg.rate and peer is not self.protected and self.rng.random() < cfg.rate:
            kind = self.rng.choice(cfg.kinds)
            if kind == "bad_checksum" and (change is None or self.wire_cls.book_depth == 0):
                kind = "gap"
            self.fault_counts[kind] += 1
            peer.clean = 0
            if kind == "disconnect":
                await peer.ws.close()
                return
            if kind == "stall":
                peer.stalled = True
                return
            if kind == "gap":
                return
            if kind == "duplicate":
                await self._write(peer, text)
            elif kind == "reorder":
                if peer.held is None:
                    peer.held = text
                    return
            elif kind == "bad_checksum" and change is not None:
                text = self._book_text(peer, change, True)
            elif kind == "garbage":
                await self._write(peer, text[: len(text) // 2])
        await self._write(peer, text)
        if peer.held is not None and peer.held is not text:
            held, peer.held = peer.held, None
            await self._write(peer, held)

    async def _write(self, peer: Peer, text: str) -> None:
        try:
            await peer.ws.send_str(text)
        except (ConnectionError, RuntimeError):
            return
        peer.sent += 1
        peer.clean += 1
