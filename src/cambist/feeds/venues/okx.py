"""OKX v5 public: ``trades``, ``books`` (full depth) and ``bbo-tbt`` channels.

Integrity: each book update's ``prevSeqId`` must equal the previous ``seqId``; a snapshot
has ``prevSeqId = -1``; a keepalive repeats the ``seqId`` with empty sides; after
maintenance ``seqId < prevSeqId`` is a legal reset. ``seqId`` is identical across
connections, so books dedup on it; trades dedup on ``(instId, tradeId)``.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

from cambist.feeds.book import L2Book, SyncedBook, Verdict
from cambist.feeds.scaled import Boxed, Units, scaled, text
from cambist.feeds.timefmt import ms_ns
from cambist.feeds.types import Ack, BookUpdate, Event, FeedError, Level, Quote, Trade
from cambist.feeds.venue import Subscription, VenueSession, VenueWire
from cambist.feeds.venues._okx_wire import (
    BookMsg,
    Head,
    OBook,
    OkxLevel,
    OTrade,
    TradeMsg,
)

MS = 1_000_000


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
