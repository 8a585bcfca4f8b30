"""Bybit v5 spot public: ``publicTrade``, ``orderbook.50`` and ``orderbook.1`` topics.

Integrity: any snapshot resets the book (``u = 1`` means the service restarted); deltas
carry the update id ``u``, which advances by one per message on a book, so a repeated ``u``
is a duplicate and a jump is a gap that resubscribes that book. ``u`` is the same on every
connection, so books dedup on it; trades dedup on the trade id ``i``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Final

import msgspec

from cambist.feeds.book import L2Book, SyncedBook, Verdict
from cambist.feeds.scaled import levels, scaled, text
from cambist.feeds.timefmt import ms_ns
from cambist.feeds.types import (
    BUY,
    NO_SEQ,
    SELL,
    Ack,
    BookUpdate,
    Event,
    FeedError,
    Level,
    Quote,
    Side,
    Trade,
)
from cambist.feeds.venue import Subscription, VenueSession, VenueWire
from cambist.feeds.venues._bybit_wire import (
    BookMsg,
    BTrade,
    Head,
    TradeMsg,
)
from cambist.feeds.wirescan import MS_LIMIT, boolean, ch, dec, lit, pairs, string_end, uint, unit_at

if TYPE_CHECKING:
    from mypy_extensions import i64

MS = 1_000_000
_NATIVE: Final = not __file__.endswith(".py")
"""Compiled by mypyc: the usual messages are read by the byte-level fast path (``_fast``)."""
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
        if _NATIVE:
            events = _fast(self, raw, recv_ts)
            if events is not None:
                return events
        return self.parse_checked(raw, recv_ts)

    def parse_checked(self, raw: bytes, recv_ts: int) -> list[Event]:
        """Every message through msgspec's decoders (``parse`` when interpreted, and for
        anything the compiled byte-level ``_fast`` does not take)."""
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


# The byte-level fast path ---------------------------------------------------------------------
#
# Compiled, a ``publicTrade``, ``orderbook.50`` or ``orderbook.1`` message in Bybit's exact
# layout is read by the native byte readers of ``wirescan`` instead of msgspec (decoding into
# the wire Structs and reading their fields back through generic attribute lookups was most
# of the compiled gate's work per Bybit message). It takes a strict subset of what
# ``parse_checked`` accepts: topic, type, ts and data in that order, a trade's keys in
# Bybit's order (``L`` optional) followed by plain string, integer or boolean fields
# (``BT``, ``RPI``, ``seq``, ...), a book's ``s``, ``b``, ``a``, ``u`` and an optional
# ``seq``, then an optional ``cts``. Anything else returns None and the checked path decides,
# with its errors: another key order or spacing, escapes, non-ASCII, numbers outside what an
# ``i64`` holds exactly, more decimals than the scale, an unknown symbol, a book type other
# than snapshot or delta, an orderbook.1 side without a level, no trade. Parsing is
# stateless here, so the whole message is replaced. Its events equal the checked path's
# (tests/feeds/test_bybit_fast.py).

_TOPIC: Final = b'{"topic":"'
_TRADE_TOPIC: Final = b"publicTrade."
_BOOK_TOPIC: Final = b"orderbook."
_QUOTE_DEPTH: Final = b"1."
_TYPE: Final = b'","type":"'
_SNAPSHOT: Final = b'snapshot"'
_DELTA: Final = b'delta"'
_TS: Final = b',"ts":'
_TRADES_DATA: Final = b',"data":['
_T: Final = b'{"T":'
_S: Final = b',"s":"'
_SIDE: Final = b'","S":"'
_BUY: Final = b'Buy"'
_SELL: Final = b'Sell"'
_V: Final = b',"v":"'
_P: Final = b',"p":"'
_L: Final = b',"L":"'
_I: Final = b',"i":"'
_BT: Final = b',"BT":'
_TRADE_KEYS: Final = (b"T", b"s", b"S", b"v", b"p", b"i")
"""``BTrade``'s fields: a repeat in the tail would replace a value already read."""
_BOOK_DATA: Final = b',"data":{"s":"'
_B: Final = b'","b":'
_A: Final = b',"a":'
_U: Final = b',"u":'
_SEQ: Final = b',"seq":'
_CTS: Final = b',"cts":'
_TRADES_END: Final = b"]}"


# The event classes as C statics: ``types.py`` is not compiled, so a bare ``Trade(...)``
# would first look the class up in this module's globals (about 130 instructions).
_EV_TRADE: Final = Trade
_EV_QUOTE: Final = Quote
_EV_BOOK: Final = BookUpdate


def _fast(s: Session, raw: bytes, recv_ts: int) -> list[Event] | None:
    """The events of a publicTrade or orderbook message in Bybit's layout, or None (above)."""
    i = lit(raw, 0, _TOPIC)
    j = lit(raw, i, _TRADE_TOPIC)
    if j >= 0:
        return _fast_trades(s, raw, j, recv_ts)
    j = lit(raw, i, _BOOK_TOPIC)
    if j >= 0:
        return _fast_book(s, raw, j, recv_ts)
    return None


def _fast_trades(s: Session, raw: bytes, i: i64, recv_ts: int) -> list[Event] | None:
    i = string_end(raw, lit(raw, string_end(raw, i), _TYPE))  # the topic's symbol, the type
    _, i = uint(raw, lit(raw, ch(raw, i, 34), _TS))  # the message's time (trades carry theirs)
    i = lit(raw, i, _TRADES_DATA)
    out: list[Event] = []
    while True:
        t, i = uint(raw, lit(raw, i, _T))
        i = lit(raw, i, _S)
        u, i = unit_at(s.wire_units, raw, i)
        if u is None:
            return None
        i = lit(raw, i, _SIDE)
        side: Side = BUY
        j = lit(raw, i, _BUY)
        if j < 0:
            side = SELL
            j = lit(raw, i, _SELL)
        q, i = dec(raw, lit(raw, j, _V), u.size)
        p, i = dec(raw, lit(raw, i, _P), u.price)
        j = lit(raw, i, _L)
        if j >= 0:
            j = string_end(raw, j)
            i = j + 1 if j >= 0 else -1
        i = lit(raw, i, _I)
        t0 = i
        i = string_end(raw, i)
        t1 = i
        i = ch(raw, i, 34)
        j = lit(raw, i, _BT)
        if j >= 0:
            _, i = boolean(raw, j)
        i = _tail(raw, i, _TRADE_KEYS)  # usually just the brace
        if i < 0 or t >= MS_LIMIT:
            return None
        tid = raw[t0:t1].decode("ascii")
        out.append(_EV_TRADE("bybit", u.symbol, side, p, q, tid, t * 1_000_000, recv_ts))
        j = ch(raw, i, 44)
        if j < 0:
            break
        i = j
    return out if lit(raw, i, _TRADES_END) == len(raw) else None


def _fast_book(s: Session, raw: bytes, i: i64, recv_ts: int) -> list[Event] | None:
    quote = lit(raw, i, _QUOTE_DEPTH) >= 0  # orderbook.1.<symbol>: the best bid and offer
    i = lit(raw, string_end(raw, i), _TYPE)
    snap = True
    j = lit(raw, i, _SNAPSHOT)
    if j < 0:
        snap = False
        j = lit(raw, i, _DELTA)
    ts, i = uint(raw, lit(raw, j, _TS))
    i = lit(raw, i, _BOOK_DATA)
    u, i = unit_at(s.wire_units, raw, i)
    if u is None:
        return None
    ps: i64 = u.price
    ss: i64 = u.size
    bids: list[Level] = []
    asks: list[Level] = []
    i = pairs(raw, lit(raw, i, _B), ps, ss, bids)
    i = pairs(raw, lit(raw, i, _A), ps, ss, asks)
    seq, i = uint(raw, lit(raw, i, _U))
    j = lit(raw, i, _SEQ)
    if j >= 0:
        _, i = uint(raw, j)
    i = ch(raw, i, 125)  # }
    j = lit(raw, i, _CTS)
    if j >= 0:
        _, i = uint(raw, j)
    if ch(raw, i, 125) != len(raw) or ts >= MS_LIMIT:
        return None
    symbol = u.symbol
    if quote:
        if not bids or not asks:
            return None
        bp, bq = bids[0]
        ap, aq = asks[0]
        return [_EV_QUOTE("bybit", symbol, bp, bq, ap, aq, seq, ts * 1_000_000, recv_ts)]
    reset = snap and seq == 1
    return [
        _EV_BOOK(
            "bybit", symbol, snap, bids, asks, seq, seq - 1, ts * 1_000_000, recv_ts, NO_SEQ, reset
        )
    ]


def _tail(raw: bytes, i: i64, taken: tuple[bytes, ...]) -> i64:
    """The rest of an object from ``i`` (a comma or its closing brace) and the position
    after the brace: the values must be plain strings, integers or booleans, and no key may
    be one of ``taken`` (read before; msgspec keeps the last of repeated keys)."""
    while True:
        j = ch(raw, i, 125)  # }
        if j >= 0 or i < 0:
            return j
        k0 = lit(raw, i, b',"')
        k1 = string_end(raw, k0)
        if k1 < 0:
            return -1
        kn: i64 = k1 - k0
        for key in taken:
            if kn == len(key) and lit(raw, k0, key) == k1:
                return -1
        i = _skip(raw, ch(raw, k1 + 1, 58))  # :


def _skip(raw: bytes, i: i64) -> i64:
    """A plain value at ``i``: a string without escapes, an integer or a boolean."""
    if i < 0 or i >= len(raw):
        return -1
    c: i64 = raw[i]
    if c == 34:
        j = string_end(raw, i + 1, True)
        return j + 1 if j >= 0 else -1
    if c == 45:  # -
        j = i + 1
        v, j = uint(raw, j)
        return j if v != 0 else -1
    if 48 <= c <= 57:
        _, j = uint(raw, i)
        return j
    _, j = boolean(raw, i)
    return j


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
