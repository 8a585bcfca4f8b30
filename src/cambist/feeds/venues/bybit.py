"""Bybit v5 spot public: ``publicTrade``, ``orderbook.50`` and ``orderbook.1`` topics.

Integrity: any snapshot resets the book (``u = 1`` means the service restarted); deltas
carry the update id ``u``, which advances by one per message on a book, so a repeated ``u``
is a duplicate and a jump is a gap that resubscribes that book. ``u`` is the same on every
connection, so books dedup on it; trades dedup on the trade id ``i``.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

from cambist.feeds.book import L2Book, SyncedBook, Verdict
from cambist.feeds.scaled import levels, scaled, text
from cambist.feeds.timefmt import ms_ns
from cambist.feeds.types import (
    Ack,
    BookUpdate,
    Event,
    FeedError,
    Level,
    Quote,
    Trade,
)
from cambist.feeds.venue import Subscription, VenueSession, VenueWire
from cambist.feeds.venues._bybit_wire import (
    BookMsg,
    BTrade,
    Head,
    TradeMsg,
)

MS = 1_000_000
DEPTH = 50


_HEAD = msgspec.json.Decoder(Head)
_TRADE = msgspec.json.Decoder(TradeMsg)
_BOOK = msgspec.json.Decoder(BookMsg)
_SIDES = {"Buy": "buy", "Sell": "sell"}


class BybitBook(SyncedBook):
    """Snapshots reset; deltas must continue ``u`` by one."""

    def check(self, u: BookUpdate) -> Verdict:
        if u.prev_seq == self.last_seq:
            return Verdict.APPLIED
        if u.seq <= self.last_seq:
            return Verdict.DROPPED
        return Verdict.RESYNC


class Session(VenueSession):
    name: ClassVar[str] = "bybit"
    stateless_parse: ClassVar[bool] = True
    ws_url: ClassVar[str] = "wss://stream.bybit.com/v5/public/spot"
    app_ping: ClassVar[str] = '{"op":"ping"}'

    @staticmethod
    def to_wire(symbol: str) -> str:
        return symbol.replace("-", "")

    def _op(self, op: str, topics: list[str]) -> str:
        return msgspec.json.encode({"op": op, "args": topics}).decode()

    def subscribe(self) -> list[str]:
        topics = []
        for s in self.symbols:
            w = self.to_wire(s)
            topics += [f"publicTrade.{w}", f"orderbook.{DEPTH}.{w}", f"orderbook.1.{w}"]
        return [self._op("subscribe", topics)]

    def resubscribe_book(self, symbol: str) -> list[str]:
        topic = [f"orderbook.{DEPTH}.{self.to_wire(symbol)}"]
        return [self._op("unsubscribe", topic), self._op("subscribe", topic)]

    def new_book(self, symbol: str) -> SyncedBook:
        return BybitBook(symbol, DEPTH)

    def parse(self, raw: bytes, recv_ts: int) -> list[Event]:
        try:
            if raw.startswith(b'{"topic":"publicTrade.'):
                m = _TRADE.decode(raw)
                return [self._trade(t, recv_ts) for t in m.data]
            head = _HEAD.decode(raw)
            topic = head.topic
            if topic.startswith("orderbook."):
                m2 = _BOOK.decode(raw)
                d = m2.data
                un = self.unit(d.s)
                symbol = un.symbol
                if topic.startswith("orderbook.1."):
                    if not d.b or not d.a:
                        raise FeedError(f"bybit: orderbook.1 for {symbol} without both sides")
                    return [
                        Quote(
                            "bybit",
                            symbol,
                            scaled(d.b[0][0], un.pc, un.price),
                            scaled(d.b[0][1], un.sc, un.size),
                            scaled(d.a[0][0], un.pc, un.price),
                            scaled(d.a[0][1], un.sc, un.size),
                            d.u,
                            ms_ns(m2.ts),
                            recv_ts,
                        )
                    ]
                snap = m2.type == "snapshot"
                if not snap and m2.type != "delta":
                    raise FeedError(f"bybit: unknown book type {m2.type!r}")
                return [
                    BookUpdate(
                        "bybit",
                        symbol,
                        snap,
                        levels(d.b, un),
                        levels(d.a, un),
                        d.u,
                        d.u - 1,
                        ms_ns(m2.ts),
                        recv_ts,
                        reset=snap and d.u == 1,
                    )
                ]
            if topic.startswith("publicTrade."):
                return [self._trade(t, recv_ts) for t in _TRADE.decode(raw).data]
            if head.op:
                if not head.success:
                    raise FeedError(f"bybit: {head.op} failed: {head.ret_msg}")
                return [Ack(head.op)]
        except msgspec.DecodeError as e:
            raise FeedError(f"bybit: {e}") from None
        raise FeedError(f"bybit: unknown topic {topic!r}")

    def _trade(self, t: BTrade, recv_ts: int) -> Trade:
        u = self.unit(t.s)
        symbol = u.symbol
        return Trade(
            "bybit",
            symbol,
            _SIDES.get(t.S) or _bad_side(t.S),  # type: ignore[arg-type]
            scaled(t.p, u.pc, u.price),
            scaled(t.v, u.sc, u.size),
            t.i,
            ms_ns(t.T),
            recv_ts,
        )


def _bad_side(side: str) -> str:
    raise FeedError(f"bybit: bad trade side {side!r}")


def _blevels(levels: list[Level], ps: int, ss: int) -> list[list[str]]:
    return [[text(p, ps), text(q, ss)] for p, q in levels]


class Wire(VenueWire):
    name: ClassVar[str] = "bybit"
    session = Session
    book_depth: ClassVar[int] = DEPTH

    def on_client(self, text: str) -> tuple[list[Subscription], list[str]]:
        msg = msgspec.json.decode(text)
        op = msg.get("op")
        if op == "ping":
            return [], ['{"success":true,"ret_msg":"pong","op":"ping"}']
        if op not in ("subscribe", "unsubscribe"):
            return [], ['{"success":false,"ret_msg":"bad op","op":"unknown"}']
        subs = []
        for topic in msg.get("args", []):
            kind, _, w = topic.rpartition(".")
            ch = {"publicTrade": "trades", f"orderbook.{DEPTH}": "book", "orderbook.1": "quotes"}
            if kind in ch and w in self.by_wire:
                subs.append(Subscription(op, ch[kind], self.by_wire[w]))
        return subs, [msgspec.json.encode({"success": True, "ret_msg": "", "op": op}).decode()]

    def trades(self, trades: list[Trade]) -> list[str]:
        if not trades:
            return []
        w = Session.to_wire(trades[0].symbol)
        ps, ss = self.scales[trades[0].symbol]
        items = ",".join(
            f'{{"T":{t.venue_ts // MS},"s":"{w}","S":"{"Buy" if t.side == "buy" else "Sell"}",'
            f'"v":"{text(t.size, ss)}","p":"{text(t.price, ps)}","L":"PlusTick",'
            f'"i":"{t.trade_id}","BT":false}}'
            for t in trades
        )
        ts = trades[-1].venue_ts // MS
        return [f'{{"topic":"publicTrade.{w}","type":"snapshot","ts":{ts},"data":[{items}]}}']

    def book(
        self,
        symbol: str,
        snapshot: bool,
        bids: list[Level],
        asks: list[Level],
        prev_seq: int,
        seq: int,
        ts: int,
        view: L2Book,
        corrupt: bool = False,
    ) -> str:
        w = Session.to_wire(symbol)
        sc = self.scales[symbol]
        data = msgspec.json.encode(
            {"s": w, "b": _blevels(bids, *sc), "a": _blevels(asks, *sc), "u": seq, "seq": seq * 7}
        ).decode()
        kind = "snapshot" if snapshot else "delta"
        return f'{{"topic":"orderbook.{DEPTH}.{w}","type":"{kind}","ts":{ts // MS},"data":{data}}}'

    def quote(self, q: Quote) -> str:
        w = Session.to_wire(q.symbol)
        ps, ss = self.scales[q.symbol]
        return (
            f'{{"topic":"orderbook.1.{w}","type":"snapshot","ts":{q.venue_ts // MS},"data":'
            f'{{"s":"{w}","b":[["{text(q.bid_price, ps)}","{text(q.bid_size, ss)}"]],'
            f'"a":[["{text(q.ask_price, ps)}","{text(q.ask_size, ss)}"]],'
            f'"u":{q.seq},"seq":{q.seq}}}}}'
        )
