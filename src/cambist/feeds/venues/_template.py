"""Template for a new venue module: copy to ``venues/<name>.py`` and fill in each part.

Required (the shared code calls nothing else):

* ``Session(VenueSession)``: ``name``, ``ws_url`` (live default), ``shared_book_seq``,
  ``to_wire``, ``subscribe``, ``resubscribe_book``, ``parse``, ``new_book``; plus
  ``rest_url``/``snapshot_url``/``parse_snapshot`` when books sync from a REST snapshot.
* A ``SyncedBook`` subclass stating the venue's integrity rule (``check`` before applying a
  delta, ``verify`` after it, or ``on_update``/``on_rest_snapshot`` for buffered syncs).
* ``Wire(VenueWire)``: the same protocol from the venue's side for the emulator:
  ``on_client``, ``trades``, ``book``, ``quote`` (and ``rest_snapshot`` if any).

Then register the module in ``venues/__init__.py``, add recorded samples under
``tests/feeds/samples/<name>.jsonl`` with their expected values in ``test_samples.py``,
and the emulator fault test runs against it automatically. See docs/feeds.md.

This template is a working venue speaking a minimal made-up JSON protocol, so that the
shape can be tested; it is not registered in ``VENUES``.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

from cambist.feeds.book import L2Book, SyncedBook, Verdict
from cambist.feeds.scaled import levels, scaled, text
from cambist.feeds.types import Ack, BookUpdate, Event, FeedError, Level, Quote, Side, Trade
from cambist.feeds.venue import Subscription, VenueSession, VenueWire


class WireTrade(msgspec.Struct):
    """Prices and sizes as text: ``scaled`` makes exact integers of it, never a float."""

    symbol: str
    side: str
    price: str
    size: str
    id: str
    ts: int


class WireBook(msgspec.Struct):
    symbol: str
    snapshot: bool
    bids: list[tuple[str, str]]
    asks: list[tuple[str, str]]
    seq: int
    ts: int


class Message(msgspec.Struct):
    kind: str
    trade: WireTrade | None = None
    book: WireBook | None = None


_DECODER = msgspec.json.Decoder(Message)


class TemplateBook(SyncedBook):
    """Integrity rule: sequence ids advance by one per update."""

    def check(self, u: BookUpdate) -> Verdict:
        if u.prev_seq == self.last_seq:
            return Verdict.APPLIED
        if u.seq <= self.last_seq:
            return Verdict.DROPPED
        return Verdict.RESYNC


class Session(VenueSession):
    name: ClassVar[str] = "template"
    ws_url: ClassVar[str] = "wss://example.invalid/ws"
    shared_book_seq: ClassVar[bool] = True

    @staticmethod
    def to_wire(symbol: str) -> str:
        return symbol

    def subscribe(self) -> list[str]:
        return [msgspec.json.encode({"op": "subscribe", "symbols": self.symbols}).decode()]

    def resubscribe_book(self, symbol: str) -> list[str]:
        return [msgspec.json.encode({"op": "resubscribe", "symbols": [symbol]}).decode()]

    def new_book(self, symbol: str) -> SyncedBook:
        return TemplateBook(symbol)

    def parse(self, raw: bytes, recv_ts: int) -> list[Event]:
        try:
            m = _DECODER.decode(raw)
        except msgspec.DecodeError as e:
            raise FeedError(f"template: {e}") from None
        if m.kind == "trade" and m.trade is not None:
            t = m.trade
            if t.side not in ("buy", "sell"):
                raise FeedError(f"template: bad side {t.side!r}")
            side: Side = "buy" if t.side == "buy" else "sell"
            symbol, u = self.instrument(t.symbol)  # the symbol and its scales (Units)
            price, size = scaled(t.price, u.pc, u.price), scaled(t.size, u.sc, u.size)
            return [Trade("template", symbol, side, price, size, t.id, t.ts, recv_ts)]
        if m.kind == "book" and m.book is not None:
            b = m.book
            symbol, u = self.instrument(b.symbol)
            return [
                BookUpdate(
                    "template",
                    symbol,
                    b.snapshot,
                    levels(b.bids, u),
                    levels(b.asks, u),
                    b.seq,
                    b.seq - 1,
                    b.ts,
                    recv_ts,
                )
            ]
        if m.kind == "ack":
            return [Ack("ack")]
        raise FeedError(f"template: unknown kind {m.kind!r}")


class Wire(VenueWire):
    name: ClassVar[str] = "template"
    session = Session

    def on_client(self, text: str) -> tuple[list[Subscription], list[str]]:
        msg = msgspec.json.decode(text)
        syms = [s for s in msg.get("symbols", []) if s in self.by_wire]
        subs = [Subscription("subscribe", ch, s) for s in syms for ch in ("trades", "book")]
        return subs, ['{"kind":"ack"}']

    def trades(self, trades: list[Trade]) -> list[str]:
        return [
            msgspec.json.encode(
                {
                    "kind": "trade",
                    "trade": {
                        "symbol": t.symbol,
                        "side": t.side,
                        "price": text(t.price, self.scales[t.symbol].price),
                        "size": text(t.size, self.scales[t.symbol].size),
                        "id": t.trade_id,
                        "ts": t.venue_ts,
                    },
                }
            ).decode()
            for t in trades
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
        ps, ss = self.scales[symbol]
        lv = [[[text(p, ps), text(q, ss)] for p, q in side] for side in (bids, asks)]
        body = {
            "symbol": symbol,
            "snapshot": snapshot,
            "bids": lv[0],
            "asks": lv[1],
            "seq": seq,
            "ts": ts,
        }
        return msgspec.json.encode({"kind": "book", "book": body}).decode()

    def quote(self, q: Quote) -> str:
        raise NotImplementedError("the template venue has no top-of-book channel")
