"""Binance spot: combined streams ``<sym>@aggTrade|trade|depth@100ms|bookTicker``.

Integrity (Binance's documented local-book procedure): buffer diffs, fetch the REST
snapshot, refetch while ``lastUpdateId < U`` of the first buffered diff, drop diffs with
``u <= lastUpdateId``, then every diff must have ``U == previous u + 1``; otherwise that one
book is discarded and synced again. ``u`` is global for the book, so connections dedup on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Final

import msgspec
from msgspec.structs import astuple

from cambist.feeds.book import L2Book, SyncedBook, Verdict
from cambist.feeds.scaled import Units, levels, scaled, text
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
    Trade,
)
from cambist.feeds.venue import Subscription, VenueSession, VenueWire
from cambist.feeds.venues._binance_wire import (
    AggTrade,
    AggTradeMsg,
    BookTicker,
    Control,
    Depth,
    DepthMsg,
    RawTrade,
    RestDepth,
    TickerMsg,
    TradeMsg,
)
from cambist.feeds.wirescan import (
    MS_LIMIT,
    boolean,
    dec,
    lit,
    pairs,
    skip_uint,
    uint,
    unit_at,
)

if TYPE_CHECKING:
    from mypy_extensions import i64

MS = 1_000_000
_astuple: Final = astuple
"""A C static when compiled, not a lookup in the module's globals per call."""
_NATIVE: Final = not __file__.endswith(".py")
"""Compiled by mypyc: the stream kind is read by a native byte loop (see ``_kind``)."""


_DEC_AGG = msgspec.json.Decoder(AggTradeMsg)
_DEC_TRADE = msgspec.json.Decoder(TradeMsg)
_DEC_DEPTH = msgspec.json.Decoder(DepthMsg)
_DEC_TICKER = msgspec.json.Decoder(TickerMsg)
_DEC_CONTROL = msgspec.json.Decoder(Control)
_DEC_REST = msgspec.json.Decoder(RestDepth)
_DEC_BARE_AGG = msgspec.json.Decoder(AggTrade)
_DEC_BARE_TRADE = msgspec.json.Decoder(RawTrade)
_DEC_BARE_DEPTH = msgspec.json.Decoder(Depth)
_STREAM_KEY = b'"stream":"'
_COMBINED = b'{"stream":"'


class BinanceBook(SyncedBook):
    """Buffer, REST snapshot, then strict ``U == last u + 1`` continuity."""

    needs_rest_snapshot = True

    def __init__(self, symbol: str, depth: int = 0) -> None:
        super().__init__(symbol, depth)
        self.buffer: list[BookUpdate] = []

    def reset(self) -> None:
        super().reset()
        self.buffer.clear()

    def on_update(self, u: BookUpdate) -> Verdict:
        if not self.live:
            if len(self.buffer) >= 10_000:
                # the snapshot is not coming (or is far too slow): start over
                self.buffer.clear()
                return Verdict.RESYNC
            self.buffer.append(u)
            return Verdict.BUFFERED
        # the fields as one ``astuple`` tuple: (venue, symbol, snapshot, bids, asks, seq,
        # prev_seq, venue_ts, ...); compiled, each ``u.field`` is a generic attribute read
        f: tuple[Any, ...] = _astuple(u)
        seq: int = f[5]
        prev_seq: int = f[6]
        if seq <= self.last_seq:
            return Verdict.DROPPED  # duplicate or late copy on this connection
        if prev_seq != self.last_seq:
            return Verdict.RESYNC
        self.book.apply(f[3], f[4])
        self.last_seq = seq
        self.last_ts = f[7]
        return Verdict.APPLIED

    def on_rest_snapshot(self, snap: BookUpdate) -> tuple[Verdict, list[BookUpdate]]:
        """Apply the REST snapshot then the buffered diffs; the result is the live book."""
        last = snap.seq
        if self.buffer and last < self.buffer[0].prev_seq + 1:
            return Verdict.RESYNC, []  # snapshot older than the first buffered diff: refetch
        self.book.load(snap.bids, snap.asks)
        applied: list[BookUpdate] = []
        for u in self.buffer:
            if u.seq <= last:
                continue
            if u.prev_seq + 1 > last + 1:
                self.reset()
                return Verdict.RESYNC, []
            self.book.apply(u.bids, u.asks)
            last = u.seq
            applied.append(u)
        self.buffer.clear()
        self.live = True
        self.last_seq = last
        self.last_ts = applied[-1].venue_ts if applied else snap.venue_ts
        return Verdict.SNAPSHOT, applied


class Session(VenueSession):
    name: ClassVar[str] = "binance"
    stateless_parse: ClassVar[bool] = True
    ws_url: ClassVar[str] = "wss://stream.binance.com:9443/stream"
    rest_url: ClassVar[str] = "https://api.binance.com"

    @staticmethod
    def to_wire(symbol: str) -> str:
        return symbol.replace("-", "")

    def subscribe(self) -> list[str]:
        params = []
        for s in self.symbols:
            w = self.to_wire(s).lower()
            params += [f"{w}@aggTrade", f"{w}@depth@100ms", f"{w}@bookTicker"]
        return [msgspec.json.encode({"method": "SUBSCRIBE", "params": params, "id": 1}).decode()]

    def resubscribe_book(self, symbol: str) -> list[str]:
        return []  # books resync from the REST snapshot, the stream keeps flowing

    def new_book(self, symbol: str) -> SyncedBook:
        return BinanceBook(symbol)

    def snapshot_url(self, rest_base: str, symbol: str) -> str:
        return f"{rest_base}/api/v3/depth?symbol={self.to_wire(symbol)}&limit=5000"

    def parse_snapshot(self, symbol: str, body: bytes, recv_ts: int) -> BookUpdate:
        try:
            d = _DEC_REST.decode(body)
        except msgspec.DecodeError as e:
            raise FeedError(f"binance: bad depth snapshot for {symbol}: {e}") from None
        u = Units(self.scales[symbol])
        bids, asks = levels(d.bids, u), levels(d.asks, u)
        return BookUpdate("binance", symbol, True, bids, asks, d.last_update_id, NO_SEQ, 0, recv_ts)

    def parse(self, raw: bytes, recv_ts: int) -> list[Event]:
        if _NATIVE:
            ev = _fast(self, raw, recv_ts)
            if ev is not None:
                return [ev]
        return self.parse_checked(raw, recv_ts)

    def parse_checked(self, raw: bytes, recv_ts: int) -> list[Event]:
        """Every message through msgspec's decoders (``parse`` when interpreted, and for
        anything the compiled byte-level ``_fast`` does not take)."""
        try:
            kind = _kind(raw)
            if kind is None:
                return self._parse_bare(raw, recv_ts)
            if kind == b"aggTrade":
                return [self._agg(_DEC_AGG.decode(raw).data, recv_ts)]
            if kind.startswith(b"depth"):
                return [self._depth(_DEC_DEPTH.decode(raw).data, recv_ts)]
            if kind == b"bookTicker":
                return [self._ticker(_DEC_TICKER.decode(raw).data, recv_ts)]
            if kind == b"trade":
                return [self._trade(_DEC_TRADE.decode(raw).data, recv_ts)]
        except msgspec.DecodeError as e:
            raise FeedError(f"binance: {e}") from None
        raise FeedError(f"binance: unknown stream kind {kind!r}")

    def _parse_bare(self, raw: bytes, recv_ts: int) -> list[Event]:
        """Raw-stream payloads (no combined-stream wrapper) and control messages."""
        c = _DEC_CONTROL.decode(raw)
        if c.e == "trade":
            return [self._trade(_DEC_BARE_TRADE.decode(raw), recv_ts)]
        if c.e == "aggTrade":
            return [self._agg(_DEC_BARE_AGG.decode(raw), recv_ts)]
        if c.e == "depthUpdate":
            return [self._depth(_DEC_BARE_DEPTH.decode(raw), recv_ts)]
        if c.e == "serverShutdown":
            return [Ack("shutdown")]
        if c.id is None:
            raise FeedError(f"binance: message without stream, id or known event ({c.e!r})")
        return [Ack("subscribed")]

    def _agg(self, a: AggTrade, recv_ts: int) -> Trade:
        side = SELL if a.m else BUY  # m: the buyer is the maker, so the taker sold
        u = self.unit(a.s)
        p, q = scaled(a.p, u.pc, u.price), scaled(a.q, u.sc, u.size)
        return Trade("binance", u.symbol, side, p, q, str(a.a), ms_ns(a.T), recv_ts, NO_SEQ)

    def _trade(self, t: RawTrade, recv_ts: int) -> Trade:
        side = SELL if t.m else BUY
        u = self.unit(t.s)
        p, q = scaled(t.p, u.pc, u.price), scaled(t.q, u.sc, u.size)
        return Trade("binance", u.symbol, side, p, q, str(t.t), ms_ns(t.T), recv_ts, NO_SEQ)

    def _ticker(self, k: BookTicker, recv_ts: int) -> Quote:
        u = self.unit(k.s)
        symbol = u.symbol
        pc, ps, qc, qs = u.pc, u.price, u.sc, u.size
        return Quote(
            "binance",
            symbol,
            scaled(k.b, pc, ps),
            scaled(k.B, qc, qs),
            scaled(k.a, pc, ps),
            scaled(k.A, qc, qs),
            k.u,
            0,
            recv_ts,
        )

    def _depth(self, d: Depth, recv_ts: int) -> BookUpdate:
        u = self.unit(d.s)
        return BookUpdate(
            "binance",
            u.symbol,
            False,
            levels(d.b, u),
            levels(d.a, u),
            d.u,
            d.U - 1,
            ms_ns(d.E),
            recv_ts,
            NO_SEQ,
            False,
        )


def _kind(raw: bytes) -> bytes | None:
    """The stream kind of a combined-stream message (``aggTrade`` in
    ``{"stream":"btcusdt@aggTrade","data":...}``), or None for any other message.

    Compiled, a byte loop from the fixed prefix: three ``bytes.find`` calls through the
    generic method-call path cost about 2,400 instructions per message."""
    if not raw.startswith(_COMBINED):
        return None if raw.find(_STREAM_KEY) < 0 else _kind_found(raw)
    if not _NATIVE:
        return _kind_found(raw)
    n: i64 = len(raw)
    end: i64 = 11
    while end < n and raw[end] != 34:  # the closing quote of the stream name
        end += 1
    if end == n:
        end = n - 1  # no closing quote: as ``raw.find`` returning -1 below
    at: i64 = 11
    while at < end and raw[at] != 64:  # '@'
        at += 1
    return raw[at + 1 : end] if at < end else raw[:end]


# The byte-level fast path --------------------------------------------------------------------
#
# Compiled, a combined-stream aggTrade, depth update or bookTicker in Binance's exact layout is
# read by the native byte readers of ``wirescan`` instead of msgspec. It takes only a strict
# subset of what the checked path accepts, and returns None (the checked path decides, with
# its errors) for anything else: another key order or spacing, escapes, non-ASCII, numbers
# outside what an ``i64`` holds exactly, more decimals than the scale, an unknown symbol. Its
# events are equal to the checked path's (tests/feeds/test_binance_fast.py).

_AGG_HEAD: Final = b'","data":{"e":"aggTrade","E":'
_DEPTH_HEAD: Final = b'","data":{"e":"depthUpdate","E":'
_AGG_KIND: Final = b"aggTrade"
_DEPTH_KIND: Final = b"depth"
_DEPTH_100: Final = b"depth@100ms"
_TICKER_KIND: Final = b"bookTicker"
_TICKER_HEAD: Final = b'","data":{"u":'
_B: Final = b'","b":"'
_BIG_B: Final = b',"B":"'
_A_TEXT: Final = b',"a":"'
_BIG_A: Final = b',"A":"'
_S: Final = b',"s":"'
_A: Final = b'","a":'
_P: Final = b',"p":"'
_Q: Final = b',"q":"'
_F: Final = b',"f":'
_L: Final = b',"l":'
_T: Final = b',"T":'
_M: Final = b',"m":'
_BIG_M: Final = b',"M":'
_UPPER_U: Final = b'","U":'
_LOWER_U: Final = b',"u":'
_BIDS: Final = b',"b":'
_ASKS: Final = b',"a":'
_END: Final = b"}}"


# The event classes as C statics: ``types.py`` is not compiled, so a bare ``Trade(...)``
# would first look the class up in this module's globals (about 130 instructions).
_EV_TRADE: Final = Trade
_EV_QUOTE: Final = Quote
_EV_BOOK: Final = BookUpdate


def _fast(s: Session, raw: bytes, recv_ts: int) -> Event | None:
    """The event of an aggTrade, depth or bookTicker message in Binance's layout, or None
    (see above)."""
    n: i64 = len(raw)
    if n < 40 or not raw.startswith(_COMBINED):
        return None
    end: i64 = 11
    at: i64 = -1
    while end < n:
        c: i64 = raw[end]
        if c == 34:  # the stream name's closing quote
            break
        if c < 32 or c > 126 or c == 92:  # not JSON the checked path takes, or an escape
            return None
        if c == 64 and at < 0:  # '@'
            at = end
        end += 1
    if at < 0 or end >= n:
        return None
    k: i64 = end - at - 1
    if k == 8 and lit(raw, at + 1, _AGG_KIND) == end:
        return _fast_agg(s, raw, end, recv_ts)
    if (k == 11 and lit(raw, at + 1, _DEPTH_100) == end) or (
        k == 5 and lit(raw, at + 1, _DEPTH_KIND) == end
    ):
        return _fast_depth(s, raw, end, recv_ts)
    if k == 10 and lit(raw, at + 1, _TICKER_KIND) == end:
        return _fast_ticker(s, raw, end, recv_ts)
    return None


def _fast_agg(s: Session, raw: bytes, i: i64, recv_ts: int) -> Trade | None:
    i = skip_uint(raw, lit(raw, i, _AGG_HEAD))  # E
    i = lit(raw, i, _S)
    u, i = unit_at(s.wire_units, raw, i)
    if u is None:
        return None
    i = lit(raw, i, _A)
    a0 = i
    i = skip_uint(raw, i)
    a1 = i
    p, i = dec(raw, lit(raw, i, _P), u.price)
    q, i = dec(raw, lit(raw, i, _Q), u.size)
    i = skip_uint(raw, lit(raw, i, _F))
    i = skip_uint(raw, lit(raw, i, _L))
    t, i = uint(raw, lit(raw, i, _T))
    m, i = boolean(raw, lit(raw, i, _M))
    _, i = boolean(raw, lit(raw, i, _BIG_M))
    if lit(raw, i, _END) != len(raw) or t >= MS_LIMIT:
        return None
    side = SELL if m else BUY  # m: the buyer is the maker, so the taker sold
    tid = raw[a0:a1].decode("ascii")
    return _EV_TRADE("binance", u.symbol, side, p, q, tid, t * 1_000_000, recv_ts, NO_SEQ)


def _fast_depth(s: Session, raw: bytes, i: i64, recv_ts: int) -> BookUpdate | None:
    e, i = uint(raw, lit(raw, i, _DEPTH_HEAD))
    i = lit(raw, i, _S)
    u, i = unit_at(s.wire_units, raw, i)
    if u is None:
        return None
    first, i = uint(raw, lit(raw, i, _UPPER_U))
    last, i = uint(raw, lit(raw, i, _LOWER_U))
    ps: i64 = u.price
    ss: i64 = u.size
    bids: list[Level] = []
    asks: list[Level] = []
    i = pairs(raw, lit(raw, i, _BIDS), ps, ss, bids)
    i = pairs(raw, lit(raw, i, _ASKS), ps, ss, asks)
    if lit(raw, i, _END) != len(raw) or e >= MS_LIMIT:
        return None
    return _EV_BOOK(
        "binance",
        u.symbol,
        False,
        bids,
        asks,
        last,
        first - 1,
        e * 1_000_000,
        recv_ts,
        NO_SEQ,
        False,
    )


def _fast_ticker(s: Session, raw: bytes, i: i64, recv_ts: int) -> Quote | None:
    seq, i = uint(raw, lit(raw, i, _TICKER_HEAD))
    i = lit(raw, i, _S)
    u, i = unit_at(s.wire_units, raw, i)
    if u is None:
        return None
    ps: i64 = u.price
    ss: i64 = u.size
    bp, i = dec(raw, lit(raw, i, _B), ps)
    bq, i = dec(raw, lit(raw, i, _BIG_B), ss)
    ap, i = dec(raw, lit(raw, i, _A_TEXT), ps)
    aq, i = dec(raw, lit(raw, i, _BIG_A), ss)
    if lit(raw, i, _END) != len(raw):
        return None
    return _EV_QUOTE("binance", u.symbol, bp, bq, ap, aq, seq, 0, recv_ts)


def _kind_found(raw: bytes) -> bytes:
    """Same as ``_kind`` with ``bytes.find`` (faster interpreted; also where the stream key
    is not the first key)."""
    i = raw.find(_STREAM_KEY)
    j = raw.find(b'"', i + 10)
    return raw[raw.find(b"@", i, j) + 1 : j]


def _levels(levels: list[Level], ps: int, ss: int) -> list[list[str]]:
    return [[text(p, ps), text(s, ss)] for p, s in levels]


class Wire(VenueWire):
    name: ClassVar[str] = "binance"
    session = Session
    rest_path: ClassVar[str] = "/api/v3/depth"

    def on_client(self, text: str) -> tuple[list[Subscription], list[str]]:
        msg = msgspec.json.decode(text)
        method = msg.get("method", "")
        action = {"SUBSCRIBE": "subscribe", "UNSUBSCRIBE": "unsubscribe"}.get(method)
        if action is None:
            return [], [msgspec.json.encode({"error": "bad method", "id": msg.get("id")}).decode()]
        subs = []
        channels = {"aggTrade": "trades", "depth@100ms": "book", "bookTicker": "quotes"}
        for p in msg.get("params", []):
            sym, _, kind = p.partition("@")
            channel = channels.get(kind)
            symbol = self.by_wire.get(sym.upper())
            if channel and symbol:
                subs.append(Subscription(action, channel, symbol))
        return subs, [msgspec.json.encode({"result": None, "id": msg.get("id")}).decode()]

    def trades(self, trades: list[Trade]) -> list[str]:
        out = []
        for t in trades:
            w = Session.to_wire(t.symbol)
            sc = self.scales[t.symbol]
            ms = t.venue_ts // MS
            data = (
                f'{{"e":"aggTrade","E":{ms},"s":"{w}","a":{t.trade_id},'
                f'"p":"{text(t.price, sc.price)}",'
                f'"q":"{text(t.size, sc.size)}","f":{t.trade_id},"l":{t.trade_id},"T":{ms},'
                f'"m":{"true" if t.side == SELL else "false"},"M":true}}'
            )
            out.append(f'{{"stream":"{w.lower()}@aggTrade","data":{data}}}')
        return out

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
            {
                "e": "depthUpdate",
                "E": ts // MS,
                "s": w,
                "U": prev_seq + 1,
                "u": seq,
                "b": _levels(bids, *sc),
                "a": _levels(asks, *sc),
            }
        ).decode()
        return f'{{"stream":"{w.lower()}@depth@100ms","data":{data}}}'

    def quote(self, q: Quote) -> str:
        w = Session.to_wire(q.symbol)
        ps, ss = self.scales[q.symbol]
        return (
            f'{{"stream":"{w.lower()}@bookTicker","data":{{"u":{q.seq},"s":"{w}",'
            f'"b":"{text(q.bid_price, ps)}","B":"{text(q.bid_size, ss)}",'
            f'"a":"{text(q.ask_price, ps)}","A":"{text(q.ask_size, ss)}"}}}}'
        )

    def rest_snapshot(self, symbol: str, bids: list[Level], asks: list[Level], seq: int) -> bytes:
        sc = self.scales[symbol]
        return msgspec.json.encode(
            {"lastUpdateId": seq, "bids": _levels(bids, *sc), "asks": _levels(asks, *sc)}
        )

    def rest_symbol(self, query: dict[str, str]) -> str:
        return self.by_wire.get(query.get("symbol", ""), "")
