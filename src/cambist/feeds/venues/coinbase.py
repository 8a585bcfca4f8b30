"""Coinbase Advanced Trade: ``market_trades``, ``level2`` (``l2_data``), ``ticker``, ``heartbeats``.

Sides: like Coinbase's exchange feed (whose ``match`` documents it), the trade ``side`` is the
maker order's side, so the taker's side is the opposite. ``new_quantity`` is absolute.

Integrity: ``sequence_num`` counts every message on the connection. A jump means some
message was lost, and it cannot be known which product it was for, so every book on that
connection is resubscribed (the only per-connection rule here); a lower number is a late
copy and is dropped. Books carry no id shared across connections, so redundant connections
are merged by following one; trades dedup on ``trade_id``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar, Final

import msgspec

from cambist.feeds.book import L2Book, SyncedBook
from cambist.feeds.scaled import Boxed, Scale, scaled, text
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
    Resync,
    Trade,
)
from cambist.feeds.venue import Subscription, VenueSession, VenueWire
from cambist.feeds.venues._coinbase_wire import (
    Envelope,
    LegacyMessage,
)
from cambist.feeds.wirescan import ch, dec, lit, rfc3339, string_end, uint, unit_at

if TYPE_CHECKING:
    from mypy_extensions import i64

_NATIVE: Final = not __file__.endswith(".py")
"""Compiled by mypyc: the usual messages are read by the byte-level ``_fast``."""

_TAKER = {"BUY": "sell", "SELL": "buy"}
"""Maker side on the wire to the taker's side."""


_ENV = msgspec.json.Decoder(Envelope)
_LEGACY = msgspec.json.Decoder(LegacyMessage)
_LEGACY_SIDE = {"buy": "bid", "sell": "ask"}


class CoinbaseBook(SyncedBook):
    """Snapshot loads, updates apply: ordering is checked per connection in ``Session``."""


class Session(VenueSession):
    name: ClassVar[str] = "coinbase"
    ws_url: ClassVar[str] = "wss://advanced-trade-ws.coinbase.com"
    shared_book_seq: ClassVar[bool] = False

    def __init__(self, symbols: Sequence[str], scales: Mapping[str, Scale] | None = None) -> None:
        super().__init__(symbols, scales)
        self.last_seq = -1

    @staticmethod
    def to_wire(symbol: str) -> str:
        return symbol

    def _sub(self, kind: str, channel: str, products: list[str]) -> str:
        msg = {"type": kind, "product_ids": products, "channel": channel}
        return msgspec.json.encode(msg).decode()

    def subscribe(self) -> list[str]:
        self.last_seq = -1
        return [
            self._sub("subscribe", ch, self.symbols)
            for ch in ("heartbeats", "market_trades", "level2", "ticker")
        ]

    def resubscribe_book(self, symbol: str) -> list[str]:
        return [
            self._sub("unsubscribe", "level2", [symbol]),
            self._sub("subscribe", "level2", [symbol]),
        ]

    def new_book(self, symbol: str) -> SyncedBook:
        return CoinbaseBook(symbol)

    def parse_legacy(self, raw: bytes, recv_ts: int) -> list[Event]:
        """Exchange-feed messages: ``match`` side is the maker's; ``l2update`` is a delta."""
        try:
            m = _LEGACY.decode(raw)
        except msgspec.DecodeError as e:
            raise FeedError(f"coinbase: {e}") from None
        u = self.unit(m.product_id)
        symbol = u.symbol
        ts = rfc3339_ns(m.time)
        if m.type == "match":
            side = _TAKER.get(m.side.upper())
            if side is None:
                raise FeedError(f"coinbase: bad match side {m.side!r}")
            return [
                Trade(
                    "coinbase",
                    symbol,
                    side,  # type: ignore[arg-type]
                    scaled(m.price, u.pc, u.price),
                    scaled(m.size, u.sc, u.size),
                    str(m.trade_id),
                    ts,
                    recv_ts,
                    m.sequence,
                )
            ]
        if m.type == "l2update":
            sides: dict[str, list[Level]] = {"bid": [], "ask": []}
            for side_text, px, qty in m.changes:
                key = _LEGACY_SIDE.get(side_text)
                if key is None:
                    raise FeedError(f"coinbase: bad l2update side {side_text!r}")
                sides[key].append((scaled(px, u.pc, u.price), scaled(qty, u.sc, u.size)))
            return [
                BookUpdate(
                    "coinbase",
                    symbol,
                    False,
                    sides["bid"],
                    sides["ask"],
                    NO_SEQ,
                    NO_SEQ,
                    ts,
                    recv_ts,
                )
            ]
        raise FeedError(f"coinbase: unknown exchange-feed type {m.type!r}")

    def parse(self, raw: bytes, recv_ts: int) -> list[Event]:
        if raw.startswith(b'{"type":'):
            return self.parse_legacy(raw, recv_ts)
        memo = self.memo
        # typed, so that compiled code unpacks and compares natively (``memo.get`` is Any)
        hit: tuple[int, list[Event] | FeedError] | None = (
            memo.get(raw) if memo is not None else None
        )
        if hit is None:
            if _NATIVE:
                hit = _fast(self, raw, recv_ts)
            if hit is None:
                hit = self._decode(raw, recv_ts)  # raises FeedError on a bad envelope
            if memo is not None:
                memo.put(raw, hit)
        seq, events = hit
        out: list[Event] = []
        if self.last_seq >= 0:
            if seq <= self.last_seq:
                return []  # late or repeated copy on this connection
            if seq != self.last_seq + 1:
                out.append(Resync(tuple(self.symbols), f"sequence_num {self.last_seq} -> {seq}"))
        self.last_seq = seq
        if not isinstance(events, list):
            raise events
        if not out:
            return events
        return out + events

    def _decode(self, raw: bytes, recv_ts: int) -> tuple[int, list[Event] | FeedError]:
        """The stateless part: the envelope's ``sequence_num`` and the message's events (or
        the error its content raises once the sequence is accounted for). Redundant
        connections that deliver the same bytes share this work through ``self.memo``."""
        try:
            env = _ENV.decode(raw)
        except msgspec.DecodeError as e:
            raise FeedError(f"coinbase: {e}") from None
        try:
            return env.sequence_num, self._events(env, recv_ts)
        except FeedError as e:
            return env.sequence_num, e

    def _events(self, env: Envelope, recv_ts: int) -> list[Event]:
        seq = env.sequence_num
        out: list[Event] = []
        ch = env.channel
        ts = rfc3339_ns(env.timestamp)
        if ch == "l2_data":
            for ev in env.events:
                un = self.unit(ev.product_id)
                symbol = un.symbol
                pc, ps, sc, ss = un.pc, un.price, un.sc, un.size
                bids: list[tuple[Boxed, Boxed]] = []  # objects (see ``scaled.Boxed``)
                asks: list[tuple[Boxed, Boxed]] = []
                for u in ev.updates:
                    p: Boxed = pc.get(u.price_level)
                    if p is None:
                        p = scaled(u.price_level, pc, ps)
                    q: Boxed = sc.get(u.new_quantity)
                    if q is None:
                        q = scaled(u.new_quantity, sc, ss)
                    if u.side == "bid":
                        bids.append((p, q))
                    elif u.side in ("offer", "ask"):
                        asks.append((p, q))
                    else:
                        raise FeedError(f"coinbase: bad l2 side {u.side!r}")
                snap = ev.type == "snapshot"
                if not snap and ev.type != "update":
                    raise FeedError(f"coinbase: bad l2 event type {ev.type!r}")
                out.append(
                    BookUpdate("coinbase", symbol, snap, bids, asks, NO_SEQ, NO_SEQ, ts, recv_ts)
                )
        elif ch == "market_trades":
            for ev in env.events:
                for t in ev.trades:
                    side = _TAKER.get(t.side)
                    if side is None:
                        raise FeedError(f"coinbase: bad trade side {t.side!r}")
                    un = self.unit(t.product_id)
                    symbol = un.symbol
                    out.append(
                        Trade(
                            "coinbase",
                            symbol,
                            side,  # type: ignore[arg-type]
                            scaled(t.price, un.pc, un.price),
                            scaled(t.size, un.sc, un.size),
                            t.trade_id,
                            rfc3339_ns(t.time),
                            recv_ts,
                            seq,
                        )
                    )
        elif ch == "ticker":
            for ev in env.events:
                for k in ev.tickers:
                    un = self.unit(k.product_id)
                    symbol = un.symbol
                    pc, ps, sc, ss = un.pc, un.price, un.sc, un.size
                    out.append(
                        Quote(
                            "coinbase",
                            symbol,
                            scaled(k.best_bid, pc, ps),
                            scaled(k.best_bid_quantity, sc, ss),
                            scaled(k.best_ask, pc, ps),
                            scaled(k.best_ask_quantity, sc, ss),
                            seq,
                            ts,
                            recv_ts,
                        )
                    )
        elif ch in ("heartbeats", "subscriptions"):
            out.append(Ack(ch))
        else:
            raise FeedError(f"coinbase: unknown channel {ch!r}")
        return out


# The byte-level fast path --------------------------------------------------------------------
#
# Compiled, a ``market_trades``, ``l2_data`` or ``ticker`` message in Coinbase's exact layout
# (the emulator's and the venue's) is read by ``wirescan``'s native byte readers instead of
# msgspec: decoding into the wire Structs, reading their fields back through generic attribute
# lookups and ``rfc3339_ns`` on each timestamp's text (a quarter of a trade's ``_decode``) were
# most of the gate's work per message. It stands in for ``Session._decode``, taking a strict
# subset of what that accepts, and returns None (``_decode`` decides, with its errors) for
# anything else: another key order or spacing, a non-empty ``client_id``, an unknown key,
# escapes, non-ASCII, numbers outside an ``i64``, more decimals than the scale, an unknown
# product, a bad side or event type, a time ``wirescan.rfc3339`` declines. Its result equals
# ``_decode``'s (tests/feeds/test_coinbase_fast.py). Literals are as long as the layout allows
# and compared as one slice by ``_at``: about 200 instructions whatever their length.

_TRADES_HEAD: Final = b'{"channel":"market_trades","client_id":"","timestamp":'
_L2_HEAD: Final = b'{"channel":"l2_data","client_id":"","timestamp":'
_TICKER_HEAD: Final = b'{"channel":"ticker","client_id":"","timestamp":'
_SEQ: Final = b',"sequence_num":'
_EVENTS: Final = b',"events":['
_TYPE: Final = b'{"type":"'
_TRADES_UPDATE: Final = b'{"type":"update","trades":['
_TRADES: Final = b'","trades":['
_TRADE_ID: Final = b'{"trade_id":"'
_PRODUCT: Final = b'","product_id":"'
_PRICE: Final = b'","price":"'
_SIZE: Final = b',"size":"'
_MAKER_BUY: Final = b',"side":"BUY","time":'
_MAKER_SELL: Final = b',"side":"SELL","time":'
_L2_UPDATE: Final = b'{"type":"update","product_id":"'
_L2_SNAPSHOT: Final = b'{"type":"snapshot","product_id":"'
_UPDATES: Final = b'","updates":['
_BID: Final = b'{"side":"bid","event_time":"'
_OFFER: Final = b'{"side":"offer","event_time":"'
_ASK: Final = b'{"side":"ask","event_time":"'
_LEVEL: Final = b'","price_level":"'
_QTY: Final = b',"new_quantity":"'
_TICKERS_UPDATE: Final = b'{"type":"update","tickers":['
_TICKERS: Final = b'","tickers":['
_TICKER: Final = b'{"type":"ticker","product_id":"'
_BEST_BID: Final = b'","best_bid":"'
_BEST_BID_QTY: Final = b',"best_bid_quantity":"'
_BEST_ASK: Final = b',"best_ask":"'
_BEST_ASK_QTY: Final = b',"best_ask_quantity":"'
_KEY: Final = b'","'
_KEY_END: Final = b'":"'
_END: Final = b"]}"
_TICKER_EXTRA: Final = frozenset(
    b"price volume_24_h low_24_h high_24_h low_52_w high_52_w price_percent_chg_24_h".split()
)
"""String fields of the venue's tickers that ``CTicker`` ignores (none of its own fields, so
skipping them cannot hide a repeated key msgspec would read)."""


# The event classes as C statics: ``types.py`` is not compiled, so a bare ``Trade(...)``
# would first look the class up in this module's globals (about 130 instructions).
_EV_TRADE: Final = Trade
_EV_QUOTE: Final = Quote
_EV_BOOK: Final = BookUpdate


def _fast(s: Session, raw: bytes, recv_ts: int) -> tuple[int, list[Event]] | None:
    """``(sequence_num, events)`` of a usual message, as ``_decode`` gives, or None."""
    if raw.startswith(_L2_HEAD):
        kind: i64 = 1
        i: i64 = len(_L2_HEAD)
    elif raw.startswith(_TICKER_HEAD):
        kind = 2
        i = len(_TICKER_HEAD)
    elif raw.startswith(_TRADES_HEAD):
        kind = 0
        i = len(_TRADES_HEAD)
    else:
        return None
    ts, i = rfc3339(raw, i)  # checked for trades too, as ``_events`` does
    seq, i = uint(raw, lit(raw, i, _SEQ))
    i = lit(raw, i, _EVENTS)
    if i < 0:
        return None
    out: list[Event] = []
    if ch(raw, i, 93) < 0:  # not "events":[]
        while True:
            if kind == 0:
                i = _trades_event(s, raw, i, seq, recv_ts, out)
            elif kind == 1:
                i = _l2_event(s, raw, i, ts, recv_ts, out)
            else:
                i = _ticker_event(s, raw, i, seq, ts, recv_ts, out)
            j = ch(raw, i, 44)  # another event
            if j < 0:
                break
            i = j
    if i < 0 or lit(raw, i, _END) != len(raw):
        return None
    return seq, out


def _list_end(raw: bytes, i: i64) -> tuple[bool, i64]:
    """After a list item: whether another follows; the position after the ``,`` or after
    the ``]}`` closing the list and its event (-1 on anything else)."""
    j = ch(raw, i, 44)
    if j >= 0:
        return True, j
    return False, lit(raw, i, _END)


def _trades_event(s: Session, raw: bytes, i: i64, seq: int, recv_ts: int, out: list[Event]) -> i64:
    """``{"type":"update","trades":[...]}`` at ``i``: its trades onto ``out`` (the event's
    type is not read by ``_events`` either); the position after it, or -1."""
    j = lit(raw, i, _TRADES_UPDATE)
    if j < 0:
        j = lit(raw, string_end(raw, lit(raw, i, _TYPE), True), _TRADES)
    i = j
    more = ch(raw, i, 93) < 0  # not "trades":[]
    if not more:
        i = lit(raw, i, _END)
    while more and i >= 0:
        t0 = lit(raw, i, _TRADE_ID)
        t1 = string_end(raw, t0, True)
        u, i = unit_at(s.wire_units, raw, lit(raw, t1, _PRODUCT))
        if u is None:
            return -1
        p, i = dec(raw, lit(raw, i, _PRICE), u.price)
        q, i = dec(raw, lit(raw, i, _SIZE), u.size)
        maker_buy = 0 <= i < len(raw) - 9 and raw[i + 9] == 66  # ,"side":"B
        j = lit(raw, i, _MAKER_BUY if maker_buy else _MAKER_SELL)
        t, i = rfc3339(raw, j)
        i = ch(raw, i, 125)  # }
        if i < 0:
            return -1
        side = SELL if maker_buy else BUY  # the maker's side on the wire: the taker's
        tid = raw[t0:t1].decode("ascii")
        out.append(_EV_TRADE("coinbase", u.symbol, side, p, q, tid, t, recv_ts, seq))
        more, i = _list_end(raw, i)
    return i


def _l2_event(s: Session, raw: bytes, i: i64, ts: int, recv_ts: int, out: list[Event]) -> i64:
    """``{"type":"update","product_id":"BTC-USD","updates":[...]}`` at ``i``: its
    ``BookUpdate`` onto ``out``; the position after it, or -1."""
    j = lit(raw, i, _L2_UPDATE)
    snap = j < 0
    if snap:
        j = lit(raw, i, _L2_SNAPSHOT)
    u, i = unit_at(s.wire_units, raw, j)
    if u is None:
        return -1
    ps: i64 = u.price
    ss: i64 = u.size
    bids: list[Level] = []
    asks: list[Level] = []
    i = lit(raw, i, _UPDATES)
    more = ch(raw, i, 93) < 0  # not "updates":[]
    if not more:
        i = lit(raw, i, _END)
    while more and i >= 0:
        c: i64 = raw[i + 9] if 0 <= i < len(raw) - 9 else 0  # the side's first letter
        bid = c == 98
        j = lit(raw, i, _BID if bid else (_OFFER if c == 111 else _ASK))
        i = string_end(raw, j, True)  # event_time: not read
        p, i = dec(raw, lit(raw, i, _LEVEL), ps)
        q, i = dec(raw, lit(raw, i, _QTY), ss)
        i = ch(raw, i, 125)  # }
        if i < 0:
            return -1
        if bid:
            bids.append((p, q))
        else:
            asks.append((p, q))
        more, i = _list_end(raw, i)
    if i < 0:
        return -1
    out.append(_EV_BOOK("coinbase", u.symbol, snap, bids, asks, NO_SEQ, NO_SEQ, ts, recv_ts))
    return i


def _ticker_event(
    s: Session, raw: bytes, i: i64, seq: int, ts: int, recv_ts: int, out: list[Event]
) -> i64:
    """``{"type":"update","tickers":[...]}`` at ``i``: a ``Quote`` per ticker onto ``out``;
    the position after it, or -1. A ticker is ``{"type":"ticker","product_id":...`` then
    the venue's ``_TICKER_EXTRA`` fields in any order (the emulator sends none), then the
    best bid and ask. Neither type is read by ``_events``."""
    j = lit(raw, i, _TICKERS_UPDATE)
    if j < 0:
        j = lit(raw, string_end(raw, lit(raw, i, _TYPE), True), _TICKERS)
    i = j
    more = ch(raw, i, 93) < 0  # not "tickers":[]
    if not more:
        i = lit(raw, i, _END)
    while more and i >= 0:
        j = lit(raw, i, _TICKER)
        if j < 0:
            j = lit(raw, string_end(raw, lit(raw, i, _TYPE), True), _PRODUCT)
        u, i = unit_at(s.wire_units, raw, j)
        if u is None:
            return -1
        j = lit(raw, i, _BEST_BID)
        while j < 0:  # a field CTicker ignores: ","key":"plain text
            k = lit(raw, i, _KEY)
            i = string_end(raw, k)
            if i < 0 or raw[k:i] not in _TICKER_EXTRA:
                return -1
            i = string_end(raw, lit(raw, i, _KEY_END), True)
            if i < 0:
                return -1
            j = lit(raw, i, _BEST_BID)
        ps: i64 = u.price
        ss: i64 = u.size
        bp, i = dec(raw, j, ps)
        bq, i = dec(raw, lit(raw, i, _BEST_BID_QTY), ss)
        ap, i = dec(raw, lit(raw, i, _BEST_ASK), ps)
        aq, i = dec(raw, lit(raw, i, _BEST_ASK_QTY), ss)
        i = ch(raw, i, 125)  # }
        if i < 0:
            return -1
        out.append(_EV_QUOTE("coinbase", u.symbol, bp, bq, ap, aq, seq, ts, recv_ts))
        more, i = _list_end(raw, i)
    return i


class Wire(VenueWire):
    name: ClassVar[str] = "coinbase"
    session = Session

    def __init__(self, symbols: Sequence[str], scales: Mapping[str, Scale] | None = None) -> None:
        super().__init__(symbols, scales)
        self.seq = 0

    def _env(self, channel: str, ts: int, events: str) -> str:
        """One message; ``sequence_num`` counts every message sent on this connection."""
        seq = self.seq
        self.seq += 1
        return (
            f'{{"channel":"{channel}","client_id":"","timestamp":"{ns_rfc3339(ts, 9)}",'
            f'"sequence_num":{seq},"events":[{events}]}}'
        )

    def on_client(self, text: str) -> tuple[list[Subscription], list[str]]:
        msg = msgspec.json.decode(text)
        kind = msg.get("type")
        ch = {"market_trades": "trades", "level2": "book", "ticker": "quotes"}.get(
            msg.get("channel", "")
        )
        if kind not in ("subscribe", "unsubscribe"):
            return [], ['{"type":"error","message":"Failed to subscribe"}']
        if ch is None:
            return [], []  # heartbeats: always on in the emulator
        subs = [Subscription(kind, ch, p) for p in msg.get("product_ids", []) if p in self.by_wire]
        return subs, []

    def trades(self, trades: list[Trade]) -> list[str]:
        if not trades:
            return []
        items = ",".join(
            f'{{"trade_id":"{t.trade_id}","product_id":"{t.symbol}",'
            f'"price":"{text(t.price, self.scales[t.symbol].price)}",'
            f'"size":"{text(t.size, self.scales[t.symbol].size)}",'
            f'"side":"{"SELL" if t.side == "buy" else "BUY"}",'
            f'"time":"{ns_rfc3339(t.venue_ts)}"}}'
            for t in trades
        )
        return [
            self._env(
                "market_trades", trades[-1].venue_ts, f'{{"type":"update","trades":[{items}]}}'
            )
        ]

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
        et = ns_rfc3339(ts)
        ps, ss = self.scales[symbol]
        ups = [
            f'{{"side":"{side}","event_time":"{et}","price_level":"{text(p, ps)}",'
            f'"new_quantity":"{text(q, ss)}"}}'
            for side, levels in (("bid", bids), ("offer", asks))
            for p, q in levels
        ]
        kind = "snapshot" if snapshot else "update"
        event = f'{{"type":"{kind}","product_id":"{symbol}","updates":[{",".join(ups)}]}}'
        return self._env("l2_data", ts, event)

    def quote(self, q: Quote) -> str:
        ps, ss = self.scales[q.symbol]
        t = (
            f'{{"type":"ticker","product_id":"{q.symbol}","best_bid":"{text(q.bid_price, ps)}",'
            f'"best_bid_quantity":"{text(q.bid_size, ss)}",'
            f'"best_ask":"{text(q.ask_price, ps)}","best_ask_quantity":"{text(q.ask_size, ss)}"}}'
        )
        return self._env("ticker", q.venue_ts, f'{{"type":"update","tickers":[{t}]}}')

    def heartbeat_message(self, ts: int) -> str:
        hb = f'{{"current_time":"{ns_rfc3339(ts)}","heartbeat_counter":"{self.seq}"}}'
        return self._env("heartbeats", ts, hb)
