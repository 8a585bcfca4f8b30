"""Kraken WebSocket v2: ``trade``, ``book`` (depth 10) and ``ticker`` channels.

Kraken sends prices and sizes as JSON numbers; msgspec decodes them straight into
``Decimal`` from the text, which also keeps the exact digits the checksum needs.
The book has no sequence id: integrity is a CRC32 over the top 10 levels per side after
each update (the book truncated to the subscribed depth); on a mismatch that one book is
resubscribed. Without a shared id, redundant connections are merged by following one.
"""

from __future__ import annotations

import zlib
from bisect import bisect_left, insort
from decimal import Decimal
from typing import ClassVar

import msgspec

from cambist.feeds.book import L2Book, SyncedBook
from cambist.feeds.timefmt import ns_rfc3339, rfc3339_ns
from cambist.feeds.types import NO_SEQ, Ack, BookUpdate, Event, FeedError, Level, Quote, Trade
from cambist.feeds.venue import Subscription, VenueSession, VenueWire

DEPTH = 10


class KTrade(msgspec.Struct):
    symbol: str
    side: str
    price: Decimal
    qty: Decimal
    trade_id: int
    timestamp: str
    ord_type: str = ""


class KLevel(msgspec.Struct, array_like=False):
    price: Decimal
    qty: Decimal


class KBook(msgspec.Struct):
    symbol: str
    bids: list[KLevel]
    asks: list[KLevel]
    checksum: int
    timestamp: str = ""


class KTicker(msgspec.Struct):
    symbol: str
    bid: Decimal
    bid_qty: Decimal
    ask: Decimal
    ask_qty: Decimal
    timestamp: str = ""


class TradeMsg(msgspec.Struct):
    data: list[KTrade]
    type: str = "update"


class BookMsg(msgspec.Struct):
    type: str
    data: list[KBook]


class TickerMsg(msgspec.Struct):
    data: list[KTicker]
    type: str = "update"


class Head(msgspec.Struct):
    channel: str = ""
    method: str = ""
    success: bool = True
    error: str = ""


_HEAD = msgspec.json.Decoder(Head)
_TRADE = msgspec.json.Decoder(TradeMsg)
_BOOK = msgspec.json.Decoder(BookMsg)
_TICKER = msgspec.json.Decoder(TickerMsg)
_SIDES = {"buy": "buy", "sell": "sell"}


def _digits(d: Decimal) -> str:
    return f"{d:f}".replace(".", "").lstrip("0")


def checksum(book: L2Book) -> int:
    """Kraken's CRC32: top 10 asks low to high, then top 10 bids high to low, each level as
    price then qty with the decimal point and leading zeros removed."""
    parts = [_digits(p) + _digits(q) for p, q in book.top_asks(DEPTH)]
    parts += [_digits(p) + _digits(q) for p, q in book.top_bids(DEPTH)]
    return zlib.crc32("".join(parts).encode())


class CrcBook(L2Book):
    """An ``L2Book`` that keeps each level's checksum text beside it, in price order.

    The CRC32 covers 20 levels after every update, but an update changes one or two: the
    text of a level is built when the level changes (price digits once, from the key that
    stays in the book; quantity digits from the latest size), prices stay in sorted lists
    (bisect), and the checksum joins cached strings instead of sorting and formatting 40
    decimals per update.
    """

    __slots__ = ("apd", "apx", "atext", "bpd", "bpx", "btext")

    def __init__(self, depth: int = 0) -> None:
        super().__init__(depth)
        self.btext: dict[Decimal, str] = {}
        self.atext: dict[Decimal, str] = {}
        self.bpd: dict[Decimal, str] = {}
        """Price digits per level, from the price object the book keeps as its key."""
        self.apd: dict[Decimal, str] = {}
        self.bpx: list[Decimal] = []
        """Bid prices, ascending (best last)."""
        self.apx: list[Decimal] = []
        """Ask prices, ascending (best first)."""

    def clear(self) -> None:
        super().clear()
        for d in (self.btext, self.atext, self.bpd, self.apd):
            d.clear()
        self.bpx.clear()
        self.apx.clear()

    def apply(self, bids: list[Level], asks: list[Level]) -> None:
        for levels, side, text, pdig, prices in (
            (bids, self.bids, self.btext, self.bpd, self.bpx),
            (asks, self.asks, self.atext, self.apd, self.apx),
        ):
            for px, sz in levels:
                if sz:
                    if px in side:
                        pd = pdig[px]
                    else:
                        pd = pdig[px] = _digits(px)
                        insort(prices, px)
                    side[px] = sz
                    text[px] = pd + _digits(sz)
                elif px in side:
                    del side[px]
                    del text[px]
                    del pdig[px]
                    del prices[bisect_left(prices, px)]
        if self.depth:
            self.truncate(self.depth)

    def truncate(self, depth: int) -> None:
        bpx, apx = self.bpx, self.apx
        while len(bpx) > depth:
            px = bpx.pop(0)
            del self.bids[px], self.btext[px], self.bpd[px]
        while len(apx) > depth:
            px = apx.pop()
            del self.asks[px], self.atext[px], self.apd[px]

    def checksum(self) -> int:
        """Same value as ``checksum(self)``, from the cached level texts."""
        at, bt = self.atext, self.btext
        parts = [at[p] for p in self.apx[:DEPTH]]
        parts += [bt[p] for p in reversed(self.bpx[-DEPTH:])]
        return zlib.crc32("".join(parts).encode())


class KrakenBook(SyncedBook):
    """Snapshot loads; each update is applied, truncated, then checked against the CRC32."""

    def __init__(self, symbol: str, depth: int = 0) -> None:
        super().__init__(symbol, depth)
        self.book: CrcBook = CrcBook(depth)

    def verify(self, u: BookUpdate) -> bool:
        return self.book.checksum() == u.checksum


def _lv(levels: list[KLevel]) -> list[Level]:
    return [(x.price, x.qty) for x in levels]


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
        try:
            head = _HEAD.decode(raw)
            ch = head.channel
            if ch == "book":
                m = _BOOK.decode(raw)
                snap = m.type == "snapshot"
                return [
                    BookUpdate(
                        "kraken",
                        self.from_wire(b.symbol),
                        snap,
                        _lv(b.bids),
                        _lv(b.asks),
                        NO_SEQ,
                        NO_SEQ,
                        rfc3339_ns(b.timestamp) if b.timestamp else 0,
                        recv_ts,
                        b.checksum,
                    )
                    for b in m.data
                ]
            if ch == "trade":
                out: list[Event] = []
                for t in _TRADE.decode(raw).data:
                    side = _SIDES.get(t.side)
                    if side is None:
                        raise FeedError(f"kraken: bad trade side {t.side!r}")
                    out.append(
                        Trade(
                            "kraken",
                            self.from_wire(t.symbol),
                            side,  # type: ignore[arg-type]
                            t.price,
                            t.qty,
                            str(t.trade_id),
                            rfc3339_ns(t.timestamp),
                            recv_ts,
                        )
                    )
                return out
            if ch == "ticker":
                return [
                    Quote(
                        "kraken",
                        self.from_wire(k.symbol),
                        k.bid,
                        k.bid_qty,
                        k.ask,
                        k.ask_qty,
                        NO_SEQ,
                        rfc3339_ns(k.timestamp) if k.timestamp else 0,
                        recv_ts,
                    )
                    for k in _TICKER.decode(raw).data
                ]
            if ch in ("heartbeat", "status") or head.method in ("subscribe", "unsubscribe", "pong"):
                if not head.success:
                    raise FeedError(f"kraken: {head.method} failed: {head.error}")
                return [Ack(ch or head.method)]
        except msgspec.DecodeError as e:
            raise FeedError(f"kraken: {e}") from None
        raise FeedError(f"kraken: unknown message channel={head.channel!r}")


def _klevels(levels: list[Level]) -> str:
    return ",".join(f'{{"price":{p:f},"qty":{q:f}}}' for p, q in levels)


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
            f'{{"symbol":"{Session.to_wire(t.symbol)}","side":"{t.side}","price":{t.price:f},'
            f'"qty":{t.size:f},"ord_type":"market","trade_id":{t.trade_id},'
            f'"timestamp":"{ns_rfc3339(t.venue_ts)}"}}'
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
        return (
            f'{{"channel":"book","type":"{kind}","data":[{{"symbol":"{Session.to_wire(symbol)}",'
            f'"bids":[{_klevels(bids)}],"asks":[{_klevels(asks)}],"checksum":{crc},'
            f'"timestamp":"{ns_rfc3339(ts)}"}}]}}'
        )

    def quote(self, q: Quote) -> str:
        return (
            f'{{"channel":"ticker","type":"update","data":[{{"symbol":"{Session.to_wire(q.symbol)}",'
            f'"bid":{q.bid_price:f},"bid_qty":{q.bid_size:f},"ask":{q.ask_price:f},'
            f'"ask_qty":{q.ask_size:f},"timestamp":"{ns_rfc3339(q.venue_ts)}"}}]}}'
        )
