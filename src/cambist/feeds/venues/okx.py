"""OKX v5 public: ``trades``, ``books`` (full depth) and ``bbo-tbt`` channels.

Integrity: each book update's ``prevSeqId`` must equal the previous ``seqId``; a snapshot
has ``prevSeqId = -1``; a keepalive repeats the ``seqId`` with empty sides; after
maintenance ``seqId < prevSeqId`` is a legal reset. ``seqId`` is identical across
connections, so books dedup on it; trades dedup on ``(instId, tradeId)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Final

import msgspec

from cambist.feeds.book import L2Book, SyncedBook, Verdict
from cambist.feeds.scaled import Boxed, Units, scaled, text
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
from cambist.feeds.venues._okx_wire import (
    BookMsg,
    Head,
    OBook,
    OkxLevel,
    OTrade,
    TradeMsg,
)
from cambist.feeds.wirescan import MS_LIMIT, boolean, ch, dec, lit, pairs, string_end, uint, unit_at

if TYPE_CHECKING:
    from mypy_extensions import i64

MS = 1_000_000
_NATIVE: Final = not __file__.endswith(".py")
"""Compiled by mypyc: the usual messages are read by the byte-level fast path (``_fast``)."""


_HEAD = msgspec.json.Decoder(Head)
_TRADE = msgspec.json.Decoder(TradeMsg)
_BOOK = msgspec.json.Decoder(BookMsg)
_SIDES = {"buy": "buy", "sell": "sell"}
_TRADES_HEAD = b'{"arg":{"channel":"trades"'


class OkxBook(SyncedBook):
    """``prevSeqId`` chaining with keepalives and maintenance resets."""

    def check(self, u: BookUpdate) -> Verdict:
        if u.prev_seq == self.last_seq:
            return Verdict.APPLIED  # includes keepalives (prev == seq, empty sides)
        if u.reset:
            return Verdict.APPLIED
        if u.seq <= self.last_seq:
            return Verdict.DROPPED  # duplicate or late copy on this connection
        return Verdict.RESYNC


def _lv(raw: list[OkxLevel], u: Units) -> list[Level]:
    """``[price, size, _, _]`` levels to scaled ``(price, size)`` in one pass (no pairs list)."""
    pc, ps, sc, ss = u.pc, u.price, u.sc, u.size
    out: list[tuple[Boxed, Boxed]] = []  # objects, not new ints (see ``scaled.Boxed``)
    for x in raw:
        p, q = x[0], x[1]
        ip: Boxed = pc.get(p)
        if ip is None:
            ip = scaled(p, pc, ps)
        iq: Boxed = sc.get(q)
        if iq is None:
            iq = scaled(q, sc, ss)
        out.append((ip, iq))
    return out


def _ms(text: str) -> int:
    if not text.isdigit():
        raise FeedError(f"okx: bad timestamp {text!r}")
    return ms_ns(int(text))


class Session(VenueSession):
    name: ClassVar[str] = "okx"
    stateless_parse: ClassVar[bool] = True
    ws_url: ClassVar[str] = "wss://ws.okx.com:8443/ws/v5/public"
    app_ping: ClassVar[str] = "ping"

    @staticmethod
    def to_wire(symbol: str) -> str:
        return symbol

    def _op(self, op: str, args: list[dict[str, str]]) -> str:
        return msgspec.json.encode({"op": op, "args": args}).decode()

    def subscribe(self) -> list[str]:
        args = []
        for s in self.symbols:
            args += [
                {"channel": ch, "instId": self.to_wire(s)} for ch in ("trades", "books", "bbo-tbt")
            ]
        return [self._op("subscribe", args)]

    def resubscribe_book(self, symbol: str) -> list[str]:
        arg = [{"channel": "books", "instId": self.to_wire(symbol)}]
        return [self._op("unsubscribe", arg), self._op("subscribe", arg)]

    def new_book(self, symbol: str) -> SyncedBook:
        return OkxBook(symbol)

    def parse(self, raw: bytes, recv_ts: int) -> list[Event]:
        if _NATIVE:
            events = _fast(self, raw, recv_ts)
            if events is not None:
                return events
        return self.parse_checked(raw, recv_ts)

    def parse_checked(self, raw: bytes, recv_ts: int) -> list[Event]:
        """Every message through msgspec's decoders (``parse`` when interpreted, and for
        anything the compiled byte-level ``_fast`` does not take)."""
        if raw == b"pong":
            return [Ack("pong")]
        try:
            if raw.startswith(_TRADES_HEAD):
                return [self._trade(t, recv_ts) for t in _TRADE.decode(raw).data]
            head = _HEAD.decode(raw)
            if head.event:
                if head.event == "error":
                    raise FeedError(f"okx: error event: {head.msg}")
                return [Ack(head.event)]
            if head.arg is None:
                raise FeedError("okx: message without arg or event")
            ch = head.arg.channel
            if ch in ("books", "bbo-tbt"):
                m = _BOOK.decode(raw)
                u = self.unit(m.arg.inst_id)
                symbol = u.symbol
                if ch == "bbo-tbt":
                    return [_quote(symbol, u, b, recv_ts) for b in m.data]
                snap = m.action == "snapshot"
                return [
                    BookUpdate(
                        "okx",
                        symbol,
                        snap,
                        _lv(b.bids, u),
                        _lv(b.asks, u),
                        b.seq_id,
                        b.prev_seq_id,
                        _ms(b.ts),
                        recv_ts,
                        reset=not snap and b.seq_id < b.prev_seq_id,
                    )
                    for b in m.data
                ]
            if ch == "trades":
                raise FeedError("okx: trades message with unexpected layout")
        except msgspec.DecodeError as e:
            raise FeedError(f"okx: {e}") from None
        raise FeedError(f"okx: unknown channel {ch!r}")

    def _trade(self, t: OTrade, recv_ts: int) -> Trade:
        u = self.unit(t.inst_id)
        symbol = u.symbol
        return Trade(
            "okx",
            symbol,
            _SIDES.get(t.side) or _bad_side(t.side),  # type: ignore[arg-type]
            scaled(t.px, u.pc, u.price),
            scaled(t.sz, u.sc, u.size),
            t.trade_id,
            _ms(t.ts),
            recv_ts,
            t.seq_id,
        )


def _bad_side(side: str) -> str:
    raise FeedError(f"okx: bad trade side {side!r}")


def _quote(symbol: str, u: Units, b: OBook, recv_ts: int) -> Quote:
    if not b.bids or not b.asks:
        raise FeedError(f"okx: bbo-tbt for {symbol} without both sides")
    return Quote(
        "okx",
        symbol,
        scaled(b.bids[0][0], u.pc, u.price),
        scaled(b.bids[0][1], u.sc, u.size),
        scaled(b.asks[0][0], u.pc, u.price),
        scaled(b.asks[0][1], u.sc, u.size),
        b.seq_id,
        _ms(b.ts),
        recv_ts,
    )


# The byte-level fast path ---------------------------------------------------------------------
#
# Compiled, a ``trades``, ``books`` or ``bbo-tbt`` message in OKX's exact layout is read by the
# native byte readers of ``wirescan`` instead of msgspec (decoding into the wire Structs and
# reading their fields back through generic attribute lookups was most of the compiled
# gate's work per OKX message). It takes a strict subset of what ``parse_checked`` accepts:
# the arg, then (books) the action, then the data items with their keys in OKX's order;
# a trade may lack ``seqId`` and carry further fields after ``ts`` (``count``, ``source``,
# ...) whose values are plain strings, integers or booleans; a book item may lack
# ``checksum`` and ``prevSeqId``. Anything else returns None and the checked path decides,
# with its errors: another key order or spacing, escapes, non-ASCII, numbers outside what an
# ``i64`` holds exactly, more decimals than the scale, an unknown symbol, a bbo-tbt side
# without a level, an empty data list. Parsing is stateless here, so the whole message is
# replaced. Its events equal the checked path's (tests/feeds/test_okx_fast.py).

_ARG: Final = b'{"arg":{"'
_CHANNEL: Final = b'channel":"'
_TRADES: Final = b'trades"'
_BOOKS: Final = b'books"'
_BBO: Final = b'bbo-tbt"'
_INST: Final = b',"instId":"'
_ACTION: Final = b'"},"action":"'
_SNAPSHOT: Final = b'snapshot"'
_UPDATE: Final = b'update"'
_DATA: Final = b',"data":['
_ARG_DATA: Final = b'"},"data":['
_ITEM_INST: Final = b'{"instId":"'
_TRADE_ID: Final = b'","tradeId":"'
_PX: Final = b'","px":"'
_SZ: Final = b',"sz":"'
_SIDE: Final = b',"side":"'
_BUY: Final = b'buy"'
_SELL: Final = b'sell"'
_TS: Final = b',"ts":"'
_ASKS: Final = b'{"asks":'
_BIDS: Final = b',"bids":'
_CHECKSUM: Final = b',"checksum":'
_PREV: Final = b',"prevSeqId":'
_SEQ: Final = b',"seqId":'
_SEQ_KEY: Final = b"seqId"
_COUNT: Final = b',"count":"'
_SOURCE: Final = b',"source":"'
_TRADE_KEYS: Final = (b"instId", b"tradeId", b"px", b"sz", b"side", b"ts")
"""``OTrade``'s other fields: a repeat in the tail would replace a value already read."""
_END: Final = b"]}"


# The event classes as C statics: ``types.py`` is not compiled, so a bare ``Trade(...)``
# would first look the class up in this module's globals (about 130 instructions).
_EV_TRADE: Final = Trade
_EV_QUOTE: Final = Quote
_EV_BOOK: Final = BookUpdate


def _fast(s: Session, raw: bytes, recv_ts: int) -> list[Event] | None:
    """The events of a trades, books or bbo-tbt message in OKX's layout, or None (above)."""
    i = lit(raw, lit(raw, 0, _ARG), _CHANNEL)
    if i < 0:
        return None
    j = lit(raw, lit(raw, i, _TRADES), _INST)
    if j >= 0:
        return _fast_trades(s, raw, j, recv_ts)
    j = lit(raw, lit(raw, i, _BOOKS), _INST)
    if j >= 0:
        return _fast_books(s, raw, j, recv_ts, False)
    j = lit(raw, lit(raw, i, _BBO), _INST)
    if j >= 0:
        return _fast_books(s, raw, j, recv_ts, True)
    return None


def _fast_trades(s: Session, raw: bytes, i: i64, recv_ts: int) -> list[Event] | None:
    i = lit(raw, string_end(raw, i), _ARG_DATA)  # the arg's instId: the items' decide
    out: list[Event] = []
    while True:
        i = lit(raw, i, _ITEM_INST)
        u, i = unit_at(s.wire_units, raw, i)
        if u is None:
            return None
        i = lit(raw, i, _TRADE_ID)
        t0 = i
        i = string_end(raw, i)
        t1 = i
        p, i = dec(raw, lit(raw, i, _PX), u.price)
        q, i = dec(raw, lit(raw, i, _SZ), u.size)
        i = lit(raw, i, _SIDE)
        side: Side = BUY
        j = lit(raw, i, _BUY)
        if j < 0:
            side = SELL
            j = lit(raw, i, _SELL)
        ts, i = uint(raw, lit(raw, j, _TS))
        i = _opt_text(raw, _opt_text(raw, ch(raw, i, 34), _COUNT), _SOURCE)
        seq: i64 = NO_SEQ
        j = lit(raw, i, _SEQ)
        if j >= 0:
            seq, i = _sint(raw, j)
        seq, i = _tail(raw, i, _SEQ_KEY, seq, _TRADE_KEYS)  # usually just the brace
        if i < 0 or ts >= MS_LIMIT:
            return None
        tid = raw[t0:t1].decode("ascii")
        out.append(_EV_TRADE("okx", u.symbol, side, p, q, tid, ts * 1_000_000, recv_ts, seq))
        j = ch(raw, i, 44)
        if j < 0:
            break
        i = j
    return out if lit(raw, i, _END) == len(raw) else None


def _fast_books(s: Session, raw: bytes, i: i64, recv_ts: int, bbo: bool) -> list[Event] | None:
    u, i = unit_at(s.wire_units, raw, i)
    if u is None:
        return None
    snap = True  # as the checked path: no action is a snapshot, any other than one an update
    j = lit(raw, i, _ACTION)
    if j >= 0:
        k = lit(raw, j, _UPDATE)
        if k >= 0:
            snap = False
        else:
            k = lit(raw, j, _SNAPSHOT)
        i = lit(raw, k, _DATA)
    else:
        i = lit(raw, i, _ARG_DATA)
    ps: i64 = u.price
    ss: i64 = u.size
    out: list[Event] = []
    while True:
        bids: list[Level] = []
        asks: list[Level] = []
        i = pairs(raw, lit(raw, i, _ASKS), ps, ss, asks, 2)
        i = pairs(raw, lit(raw, i, _BIDS), ps, ss, bids, 2)
        ts, i = uint(raw, lit(raw, i, _TS))
        i = ch(raw, i, 34)
        prev: i64 = NO_SEQ
        j = lit(raw, i, _CHECKSUM)
        if j >= 0:
            _, i = _sint(raw, j)
        j = lit(raw, i, _PREV)
        if j >= 0:
            prev, i = _sint(raw, j)
        seq, i = _sint(raw, lit(raw, i, _SEQ))
        i = ch(raw, i, 125)  # }
        if i < 0 or ts >= MS_LIMIT:
            return None
        if bbo:
            if not bids or not asks:
                return None
            bp, bq = bids[0]
            ap, aq = asks[0]
            out.append(_EV_QUOTE("okx", u.symbol, bp, bq, ap, aq, seq, ts * 1_000_000, recv_ts))
        else:
            reset = not snap and seq < prev
            out.append(
                _EV_BOOK(
                    "okx",
                    u.symbol,
                    snap,
                    bids,
                    asks,
                    seq,
                    prev,
                    ts * 1_000_000,
                    recv_ts,
                    NO_SEQ,
                    reset,
                )
            )
        j = ch(raw, i, 44)
        if j < 0:
            break
        i = j
    return out if lit(raw, i, _END) == len(raw) else None


def _sint(raw: bytes, i: i64) -> tuple[i64, i64]:
    """A JSON integer of at most 18 digits, with a sign (OKX's ``-1`` sequence ids), as
    ``wirescan.uint`` reads it; ``-0`` declines."""
    if i >= 0 and i < len(raw) and raw[i] == 45:  # -
        v, j = uint(raw, i + 1)
        if v == 0:
            return 0, -1
        return -v, j
    return uint(raw, i)


def _opt_text(raw: bytes, i: i64, key: bytes) -> i64:
    """After the string of ``key`` (``,"key":"``) if it is at ``i``, else ``i``."""
    j = lit(raw, i, key)
    if j < 0:
        return i
    j = string_end(raw, j, True)
    return j + 1 if j >= 0 else -1


def _tail(raw: bytes, i: i64, want: bytes, v: i64, taken: tuple[bytes, ...]) -> tuple[i64, i64]:
    """The rest of an object from ``i`` (a comma or its closing brace): the integer value
    of the key ``want`` (``v`` without it) and the position after the brace. The other
    keys' values must be plain strings, integers or booleans, and no key may be one of
    ``taken`` (read before; msgspec keeps the last of repeated keys)."""
    while True:
        j = ch(raw, i, 125)  # }
        if j >= 0 or i < 0:
            return v, j
        k0 = lit(raw, i, b',"')
        k1 = string_end(raw, k0)
        if k1 < 0:
            return v, -1
        i = ch(raw, k1 + 1, 58)  # :
        kn: i64 = k1 - k0
        if kn == len(want) and lit(raw, k0, want) == k1:
            v, i = _sint(raw, i)
            continue
        for key in taken:
            if kn == len(key) and lit(raw, k0, key) == k1:
                return v, -1
        i = _skip(raw, i)


def _skip(raw: bytes, i: i64) -> i64:
    """A plain value at ``i``: a string without escapes, an integer or a boolean."""
    if i < 0 or i >= len(raw):
        return -1
    c: i64 = raw[i]
    if c == 34:
        j = string_end(raw, i + 1, True)
        return j + 1 if j >= 0 else -1
    if c == 45 or 48 <= c <= 57:  # -, digits
        _, j = _sint(raw, i)
        return j
    _, j = boolean(raw, i)
    return j


def _olevels(levels: list[Level], ps: int, ss: int) -> list[list[str]]:
    return [[text(p, ps), text(q, ss), "0", "1"] for p, q in levels]


class Wire(VenueWire):
    name: ClassVar[str] = "okx"
    session = Session

    def on_client(self, text: str) -> tuple[list[Subscription], list[str]]:
        if text == "ping":
            return [], ["pong"]
        msg = msgspec.json.decode(text)
        op = msg.get("op")
        if op not in ("subscribe", "unsubscribe"):
            return [], ['{"event":"error","code":"60012","msg":"Invalid request"}']
        channels = {"trades": "trades", "books": "book", "bbo-tbt": "quotes"}
        subs, replies = [], []
        for arg in msg.get("args", []):
            ch = channels.get(arg.get("channel", ""))
            if ch and arg.get("instId") in self.by_wire:
                subs.append(Subscription(op, ch, self.by_wire[arg["instId"]]))
                replies.append(msgspec.json.encode({"event": op, "arg": arg}).decode())
        return subs, replies

    def trades(self, trades: list[Trade]) -> list[str]:
        out = []
        for t in trades:
            ps, ss = self.scales[t.symbol]
            out.append(
                f'{{"arg":{{"channel":"trades","instId":"{t.symbol}"}},"data":[{{'
                f'"instId":"{t.symbol}","tradeId":"{t.trade_id}","px":"{text(t.price, ps)}",'
                f'"sz":"{text(t.size, ss)}","side":"{t.side}","ts":"{t.venue_ts // MS}",'
                f'"count":"1","source":"0","seqId":{t.seq}}}]}}'
            )
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
        sc = self.scales[symbol]
        body = msgspec.json.encode(
            {
                "asks": _olevels(asks, *sc),
                "bids": _olevels(bids, *sc),
                "ts": str(ts // MS),
                "checksum": 0,
                "prevSeqId": -1 if snapshot else prev_seq,
                "seqId": seq,
            }
        ).decode()
        action = "snapshot" if snapshot else "update"
        return (
            f'{{"arg":{{"channel":"books","instId":"{symbol}"}},"action":"{action}",'
            f'"data":[{body}]}}'
        )

    def quote(self, q: Quote) -> str:
        ps, ss = self.scales[q.symbol]
        return (
            f'{{"arg":{{"channel":"bbo-tbt","instId":"{q.symbol}"}},"data":[{{'
            f'"asks":[["{text(q.ask_price, ps)}","{text(q.ask_size, ss)}","0","1"]],'
            f'"bids":[["{text(q.bid_price, ps)}","{text(q.bid_size, ss)}","0","1"]],'
            f'"ts":"{q.venue_ts // MS}","seqId":{q.seq}}}]}}'
        )
