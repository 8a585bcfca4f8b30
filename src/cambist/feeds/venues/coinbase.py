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
from typing import ClassVar

import msgspec

from cambist.feeds.book import L2Book, SyncedBook
from cambist.feeds.scaled import Boxed, Scale, scaled, text
from cambist.feeds.timefmt import ns_rfc3339, rfc3339_ns
from cambist.feeds.types import (
    NO_SEQ,
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
        hit = memo.get(raw) if memo is not None else None
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
        if isinstance(events, FeedError):
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
