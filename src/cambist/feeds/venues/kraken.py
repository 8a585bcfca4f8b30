"""Kraken WebSocket v2: ``trade``, ``book`` (depth 10) and ``ticker`` channels.

Kraken sends prices and sizes as JSON numbers; the decoders hand their text over
(``float_hook=str``) and ``scaled`` makes exact integers of it, never a float.
The book has no sequence id: integrity is a CRC32 over the top 10 levels per side after
each update (the book truncated to the subscribed depth); on a mismatch that one book is
resubscribed. Kraken builds the checksum from each price and quantity formatted with the
pair's ``price_precision`` and ``qty_precision`` (instrument channel), point and leading
zeros removed: with the pair's scale set to exactly those precisions, that text is the
scaled integer's ``str``. A wrong scale shows as checksum resyncs, never as a wrong book.
Without a shared id, redundant connections are merged by following one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Final

import msgspec

from cambist.feeds.book import L2Book, SyncedBook
from cambist.feeds.scaled import Boxed, Units, number, text
from cambist.feeds.timefmt import ns_rfc3339, rfc3339_ns
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
from cambist.feeds.venues._kraken_crc import DEPTH, CrcBook, checksum
from cambist.feeds.venues._kraken_wire import (
    BookMsg,
    Head,
    KLevel,
    KTicker,
    TickerMsg,
    TradeMsg,
)
from cambist.feeds.wirescan import ch, lit, num, rfc3339, skip_uint, string_end, uint, unit_at

if TYPE_CHECKING:
    from mypy_extensions import i64

_NATIVE: Final = not __file__.endswith(".py")
"""Compiled by mypyc: the usual messages are read by the byte-level fast path (``_fast``)."""


_HEAD = msgspec.json.Decoder(Head)
_TRADE = msgspec.json.Decoder(TradeMsg, float_hook=str)
_BOOK = msgspec.json.Decoder(BookMsg, float_hook=str)
_TICKER = msgspec.json.Decoder(TickerMsg, float_hook=str)
_BOOK_HEAD = b'{"channel":"book",'
_SIDES = {"buy": "buy", "sell": "sell"}


class KrakenBook(SyncedBook):
    """Snapshot loads; each update is applied, truncated, then checked against the CRC32."""

    def __init__(self, symbol: str, depth: int = 0) -> None:
        super().__init__(symbol, depth)
        self.crc = CrcBook(depth)
        """The same object as ``book``, by its own type (a compiled subclass cannot narrow
        an attribute's declared type)."""
        self.book = self.crc

    def verify(self, u: BookUpdate) -> bool:
        return self.crc.checksum() == u.checksum


def _lv(levels: list[KLevel], u: Units) -> list[Level]:
    pc, ps, sc, ss = u.pc, u.price, u.sc, u.size
    out: list[tuple[Boxed, Boxed]] = [
        (number(x.price, pc, ps), number(x.qty, sc, ss)) for x in levels
    ]
    return out


class Session(VenueSession):
    name: ClassVar[str] = "kraken"
    stateless_parse: ClassVar[bool] = True
    ws_url: ClassVar[str] = "wss://ws.kraken.com/v2"
    shared_book_seq: ClassVar[bool] = False
    app_ping: ClassVar[str] = '{"method":"ping"}'

    @staticmethod
    def to_wire(symbol: str) -> str:
        return symbol.replace("-", "/")

    def _sub(self, method: str, channel: str, symbols: list[str], **extra: object) -> str:
        params: dict[str, object] = {"channel": channel, "symbol": symbols, **extra}
        return msgspec.json.encode({"method": method, "params": params}).decode()

    def subscribe(self) -> list[str]:
        wire = [self.to_wire(s) for s in self.symbols]
        return [
            self._sub("subscribe", "trade", wire, snapshot=False),
            self._sub("subscribe", "book", wire, depth=DEPTH),
            self._sub("subscribe", "ticker", wire),
        ]

    def resubscribe_book(self, symbol: str) -> list[str]:
        w = [self.to_wire(symbol)]
        return [
            self._sub("unsubscribe", "book", w, depth=DEPTH),
            self._sub("subscribe", "book", w, depth=DEPTH),
        ]

    def new_book(self, symbol: str) -> SyncedBook:
        return KrakenBook(symbol, DEPTH)

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
            if raw.startswith(_BOOK_HEAD):
                return self._book(_BOOK.decode(raw), recv_ts)
            head = _HEAD.decode(raw)
            ch = head.channel
            if ch == "book":
                return self._book(_BOOK.decode(raw), recv_ts)
            if ch == "trade":
                out: list[Event] = []
                for t in _TRADE.decode(raw).data:
                    side = _SIDES.get(t.side)
                    if side is None:
                        raise FeedError(f"kraken: bad trade side {t.side!r}")
                    u = self.unit(t.symbol)
                    symbol = u.symbol
                    out.append(
                        Trade(
                            "kraken",
                            symbol,
                            side,  # type: ignore[arg-type]
                            number(t.price, u.pc, u.price),
                            number(t.qty, u.sc, u.size),
                            str(t.trade_id),
                            rfc3339_ns(t.timestamp),
                            recv_ts,
                        )
                    )
                return out
            if ch == "ticker":
                return [self._ticker(k, recv_ts) for k in _TICKER.decode(raw).data]
            if ch in ("heartbeat", "status") or head.method in ("subscribe", "unsubscribe", "pong"):
                if not head.success:
                    raise FeedError(f"kraken: {head.method} failed: {head.error}")
                return [Ack(ch or head.method)]
        except msgspec.DecodeError as e:
            raise FeedError(f"kraken: {e}") from None
        raise FeedError(f"kraken: unknown message channel={head.channel!r}")

    def _book(self, m: BookMsg, recv_ts: int) -> list[Event]:
        snap = m.type == "snapshot"
        out: list[Event] = []
        for b in m.data:
            u = self.unit(b.symbol)
            symbol = u.symbol
            out.append(
                BookUpdate(
                    "kraken",
                    symbol,
                    snap,
                    _lv(b.bids, u),
                    _lv(b.asks, u),
                    NO_SEQ,
                    NO_SEQ,
                    rfc3339_ns(b.timestamp) if b.timestamp else 0,
                    recv_ts,
                    b.checksum,
                )
            )
        return out

    def _ticker(self, k: KTicker, recv_ts: int) -> Quote:
        u = self.unit(k.symbol)
        symbol = u.symbol
        pc, ps, sc, ss = u.pc, u.price, u.sc, u.size
        return Quote(
            "kraken",
            symbol,
            number(k.bid, pc, ps),
            number(k.bid_qty, sc, ss),
            number(k.ask, pc, ps),
            number(k.ask_qty, sc, ss),
            NO_SEQ,
            rfc3339_ns(k.timestamp) if k.timestamp else 0,
            recv_ts,
        )


# The byte-level fast path --------------------------------------------------------------------
#
# Compiled, trade, book and ticker messages in Kraken's exact layout are read by the native
# byte readers of ``wirescan`` instead of msgspec with ``float_hook=str`` (which made a ``str``
# of every price and size, then the text cache an int of it). Anything else returns None and
# takes the checked path with its errors: another key order or spacing, escapes, non-ASCII,
# exponents or more decimals than the pair's scale, a missing timestamp, an unknown symbol.
# tests/feeds/test_kraken_fast.py checks it gives the checked path's events or declines.

_TRADE_HEAD: Final = b'{"channel":"trade","type":"'
_BOOK_FAST_HEAD: Final = b'{"channel":"book","type":"'
_TICKER_HEAD: Final = b'{"channel":"ticker","type":"'
_DATA: Final = b'","data":['
_SYMBOL: Final = b'{"symbol":"'
_SIDE: Final = b'","side":"'
_PRICE: Final = b'","price":'
_QTY: Final = b',"qty":'
_ORD_TYPE: Final = b',"ord_type":"'
_TRADE_ID: Final = b',"trade_id":'
_TIMESTAMP: Final = b',"timestamp":'
_BIDS: Final = b'","bids":'
_ASKS: Final = b',"asks":'
_CHECKSUM: Final = b',"checksum":'
_LEVEL_PRICE: Final = b'{"price":'
_BID: Final = b'","bid":'
_BID_QTY: Final = b',"bid_qty":'
_ASK: Final = b',"ask":'
_ASK_QTY: Final = b',"ask_qty":'
_UPDATE: Final = b"update"
_SNAPSHOT: Final = b"snapshot"
_BUY_TEXT: Final = b"buy"
_SELL_TEXT: Final = b"sell"
# The event classes as C statics: ``types.py`` is not compiled, so a bare ``Trade(...)``
# would first look the class up in this module's globals (about 130 instructions).
_EV_TRADE: Final = Trade
_EV_QUOTE: Final = Quote
_EV_BOOK: Final = BookUpdate


def _fast(s: Session, raw: bytes, recv_ts: int) -> list[Event] | None:
    """The events of a trade, book or ticker message in Kraken's layout, or None."""
    if len(raw) < 40 or raw[0] != 123 or raw[11] != 34:  # '{"channel":"'
        return None
    i = lit(raw, 0, _BOOK_FAST_HEAD)
    if i >= 0:
        return _fast_book(s, raw, i, recv_ts)
    i = lit(raw, 0, _TRADE_HEAD)
    if i >= 0:
        return _fast_trades(s, raw, i, recv_ts)
    i = lit(raw, 0, _TICKER_HEAD)
    if i >= 0:
        return _fast_ticker(s, raw, i, recv_ts)
    return None


def _kind(raw: bytes, i: i64) -> tuple[bool, i64]:
    """``update`` or ``snapshot`` and the position after ``","data":[``."""
    j = lit(raw, i, _UPDATE)
    if j >= 0:
        return False, lit(raw, j, _DATA)
    return True, lit(raw, lit(raw, i, _SNAPSHOT), _DATA)


def _unit(s: Session, raw: bytes, i: i64) -> tuple[Units | None, i64]:
    """The pair of ``{"symbol":"BTC/USD`` at ``i`` and the position of its closing quote."""
    return unit_at(s.wire_units, raw, lit(raw, i, _SYMBOL))


def _end(raw: bytes, i: i64) -> bool:
    """``]}`` closes the message at ``i`` exactly."""
    return i >= 0 and i + 2 == len(raw) and raw[i] == 93 and raw[i + 1] == 125


def _fast_trades(s: Session, raw: bytes, i: i64, recv_ts: int) -> list[Event] | None:
    _, i = _kind(raw, i)
    out: list[Event] = []
    while i >= 0:
        u, i = _unit(s, raw, i)
        if u is None:
            return None
        k = lit(raw, i, _SIDE)
        j = string_end(raw, k)
        taker: Side
        if j == k + 4 and lit(raw, k, _SELL_TEXT) == j:
            taker = SELL
        elif j == k + 3 and lit(raw, k, _BUY_TEXT) == j:
            taker = BUY
        else:
            return None
        p, i = num(raw, lit(raw, j, _PRICE), u.price, 44)
        q, i = num(raw, lit(raw, i, _QTY), u.size, 44)
        k = lit(raw, i, _ORD_TYPE)
        if k >= 0:  # optional, as in the checked path
            i = string_end(raw, k, True) + 1
        t0 = lit(raw, i, _TRADE_ID)
        t1 = skip_uint(raw, t0)
        ts, i = rfc3339(raw, lit(raw, t1, _TIMESTAMP))
        i = ch(raw, i, 125)  # }
        if i < 0:
            return None
        tid = raw[t0:t1].decode("ascii")
        out.append(_EV_TRADE("kraken", u.symbol, taker, p, q, tid, ts, recv_ts))
        if _end(raw, i):
            return out
        i = ch(raw, i, 44)
    return None


def _fast_book(s: Session, raw: bytes, i: i64, recv_ts: int) -> list[Event] | None:
    snap, i = _kind(raw, i)
    out: list[Event] = []
    while i >= 0:
        u, i = _unit(s, raw, i)
        if u is None:
            return None
        ps: i64 = u.price
        ss: i64 = u.size
        bids: list[Level] = []
        asks: list[Level] = []
        i = _fast_levels(raw, lit(raw, i, _BIDS), ps, ss, bids)
        i = _fast_levels(raw, lit(raw, i, _ASKS), ps, ss, asks)
        crc, i = uint(raw, lit(raw, i, _CHECKSUM))
        ts, i = rfc3339(raw, lit(raw, i, _TIMESTAMP))
        i = ch(raw, i, 125)
        if i < 0:
            return None
        out.append(_EV_BOOK("kraken", u.symbol, snap, bids, asks, NO_SEQ, NO_SEQ, ts, recv_ts, crc))
        if _end(raw, i):
            return out
        i = ch(raw, i, 44)
    return None


def _fast_levels(raw: bytes, i: i64, ps: i64, ss: i64, out: list[Level]) -> i64:
    """``[{"price":N,"qty":N},...]`` at ``i`` appended to ``out``; the position after it."""
    i = ch(raw, i, 91)  # [
    if i < 0:
        return -1
    if ch(raw, i, 93) >= 0:  # ]
        return i + 1
    while True:
        p, i = num(raw, lit(raw, i, _LEVEL_PRICE), ps, 44)
        q, i = num(raw, lit(raw, i, _QTY), ss, 125)
        i = ch(raw, i, 125)  # }
        if i < 0:
            return -1
        out.append((p, q))
        j = ch(raw, i, 44)
        if j < 0:
            return ch(raw, i, 93)
        i = j


def _fast_ticker(s: Session, raw: bytes, i: i64, recv_ts: int) -> list[Event] | None:
    _, i = _kind(raw, i)
    out: list[Event] = []
    while i >= 0:
        u, i = _unit(s, raw, i)
        if u is None:
            return None
        ps: i64 = u.price
        ss: i64 = u.size
        bp, i = num(raw, lit(raw, i, _BID), ps, 44)
        bq, i = num(raw, lit(raw, i, _BID_QTY), ss, 44)
        ap, i = num(raw, lit(raw, i, _ASK), ps, 44)
        aq, i = num(raw, lit(raw, i, _ASK_QTY), ss, 44)
        ts, i = rfc3339(raw, lit(raw, i, _TIMESTAMP))
        i = ch(raw, i, 125)
        if i < 0:
            return None
        out.append(_EV_QUOTE("kraken", u.symbol, bp, bq, ap, aq, NO_SEQ, ts, recv_ts))
        if _end(raw, i):
            return out
        i = ch(raw, i, 44)
    return None


def _klevels(levels: list[Level], ps: int, ss: int) -> str:
    return ",".join(f'{{"price":{text(p, ps)},"qty":{text(q, ss)}}}' for p, q in levels)


class Wire(VenueWire):
    name: ClassVar[str] = "kraken"
    session = Session
    book_depth: ClassVar[int] = DEPTH
    heartbeat: ClassVar[str] = '{"channel":"heartbeat"}'

    def on_client(self, text: str) -> tuple[list[Subscription], list[str]]:
        msg = msgspec.json.decode(text)
        method = msg.get("method")
        if method == "ping":
            return [], ['{"method":"pong"}']
        params = msg.get("params") or {}
        channel = {"trade": "trades", "book": "book", "ticker": "quotes"}.get(
            params.get("channel", "")
        )
        if method not in ("subscribe", "unsubscribe") or channel is None:
            reply = {"method": method, "success": False, "error": "unsupported"}
            return [], [msgspec.json.encode(reply).decode()]
        subs = [
            Subscription(method, channel, self.by_wire[w])
            for w in params.get("symbol", [])
            if w in self.by_wire
        ]
        reply = {"method": method, "success": True, "result": {"channel": params["channel"]}}
        return subs, [msgspec.json.encode(reply).decode()]

    def trades(self, trades: list[Trade]) -> list[str]:
        if not trades:
            return []
        items = ",".join(
            f'{{"symbol":"{Session.to_wire(t.symbol)}","side":"{t.side}",'
            f'"price":{text(t.price, self.scales[t.symbol].price)},'
            f'"qty":{text(t.size, self.scales[t.symbol].size)},"ord_type":"market",'
            f'"trade_id":{t.trade_id},"timestamp":"{ns_rfc3339(t.venue_ts)}"}}'
            for t in trades
        )
        return [f'{{"channel":"trade","type":"update","data":[{items}]}}']

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
        crc = checksum(view) ^ (0x5A5A if corrupt else 0)
        kind = "snapshot" if snapshot else "update"
        sc = self.scales[symbol]
        return (
            f'{{"channel":"book","type":"{kind}","data":[{{"symbol":"{Session.to_wire(symbol)}",'
            f'"bids":[{_klevels(bids, *sc)}],"asks":[{_klevels(asks, *sc)}],"checksum":{crc},'
            f'"timestamp":"{ns_rfc3339(ts)}"}}]}}'
        )

    def quote(self, q: Quote) -> str:
        ps, ss = self.scales[q.symbol]
        return (
            f'{{"channel":"ticker","type":"update","data":[{{"symbol":"{Session.to_wire(q.symbol)}",'
            f'"bid":{text(q.bid_price, ps)},"bid_qty":{text(q.bid_size, ss)},'
            f'"ask":{text(q.ask_price, ps)},"ask_qty":{text(q.ask_size, ss)},'
            f'"timestamp":"{ns_rfc3339(q.venue_ts)}"}}]}}'
        )
