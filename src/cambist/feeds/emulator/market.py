"""The synthetic market behind the emulator: books, trades and the true state history.

Books sit on a fixed tick grid around a slowly drifting mid; each event changes a few
levels or prints a trade at the touch. Every book change advances the symbol's sequence id
and records a digest of the true book (as the venue publishes it, i.e. limited to the venue's
depth) so tests can check a connector's book against the truth at the same sequence.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from cambist.feeds.book import L2Book
from cambist.feeds.scaled import DEFAULT_SCALE, POW10, Scale
from cambist.feeds.types import BUY, SELL, Level, Quote, Trade


@dataclass
class BookChange:
    symbol: str
    bids: list[Level]
    asks: list[Level]
    prev_seq: int
    seq: int
    ts: int


@dataclass
class SymbolState:
    symbol: str
    mid: int
    book: L2Book = field(default_factory=L2Book)
    seq: int = 1000
    trade_id: int = 0
    view: L2Book = field(default_factory=L2Book)
    history: dict[int, str] = field(default_factory=dict)
    ts_seq: dict[int, int] = field(default_factory=dict)
    book_ts: int = 0
    """Timestamp of the last book change: what a snapshot of this book is stamped with."""


class Market:
    """Deterministic for a given seed (apart from wall-clock timestamps)."""

    def __init__(
        self,
        venue: str,
        symbols: list[str],
        seed: int = 1,
        depth: int = 0,
        levels: int = 15,
        keep_history: bool = True,
        scale: Scale = DEFAULT_SCALE,
    ) -> None:
        self.venue = venue
        self.rng = random.Random(seed)
        self.tick = POW10[scale.price - 2]
        """0.01 in units of the price scale (prices are scaled integers, ``scaled.py``)."""
        self.lot = POW10[scale.size - 8]
        """0.00000001 in units of the size scale."""
        self.depth = depth
        self.levels = levels
        self.keep_history = keep_history
        self.last_ts = 0
        self.trades: list[Trade] = []
        self.symbols = {s: SymbolState(s, 2_000_000 + 10_000 * i) for i, s in enumerate(symbols)}
        for st in self.symbols.values():
            for k in range(1, levels + 1):
                st.book.bids[self._px(st.mid - k)] = self._size()
                st.book.asks[self._px(st.mid + k)] = self._size()
            self._refresh_view(st)
            self._record(st, self._ts())

    def _px(self, ticks: int) -> int:
        return ticks * self.tick

    def _size(self) -> int:
        return self.rng.randint(1, 5_000_000_000) * self.lot

    def _ts(self) -> int:
        """Strictly increasing microsecond timestamps, close to the wall clock."""
        ts = max(time.time_ns() // 1000 * 1000, self.last_ts + 1000)
        self.last_ts = ts
        return ts

    def _refresh_view(self, st: SymbolState) -> tuple[list[Level], list[Level]]:
        """Update the published (depth-limited) view; return its changes."""
        if not self.depth:
            return [], []
        new_b = dict(st.book.top_bids(self.depth))
        new_a = dict(st.book.top_asks(self.depth))
        db = _diff(st.view.bids, new_b)
        da = _diff(st.view.asks, new_a)
        st.view.bids, st.view.asks = new_b, new_a
        return db, da

    def _record(self, st: SymbolState, ts: int) -> None:
        st.book_ts = ts
        if self.keep_history:
            st.history[st.seq] = self.view_of(st).state_hash()
            st.ts_seq[ts] = st.seq

    def view_of(self, st: SymbolState) -> L2Book:
        return st.view if self.depth else st.book

    def step(self) -> BookChange | list[Trade]:
        """One market event: a book change (70%) or a trade at the touch (30%)."""
        st = self.symbols[self.rng.choice(list(self.symbols))]
        if self.rng.random() < 0.3:
            return [self._trade(st)]
        return self._change(st)

    def _trade(self, st: SymbolState) -> Trade:
        side = BUY if self.rng.random() < 0.5 else SELL
        level = st.book.best_ask() if side == BUY else st.book.best_bid()
        px = level[0] if level else self._px(st.mid)
        st.trade_id += 1
        t = Trade(self.venue, st.symbol, side, px, self._size(), str(st.trade_id), self._ts(), 0)
        self.trades.append(t)
        return t

    def _change(self, st: SymbolState) -> BookChange:
        rng = self.rng
        bids: dict[int, int] = {}
        asks: dict[int, int] = {}
        if rng.random() < 0.05:  # the mid drifts one tick; crossed levels go
            st.mid += rng.choice((-1, 1))
            for px in list(st.book.bids):
                if px >= self._px(st.mid):
                    bids[px] = 0
            for px in list(st.book.asks):
                if px <= self._px(st.mid):
                    asks[px] = 0
        for _ in range(rng.randint(1, 3)):
            k = rng.randint(1, self.levels)
            size = 0 if rng.random() < 0.25 else self._size()
            if rng.random() < 0.5:
                bids[self._px(st.mid - k)] = size
            else:
                asks[self._px(st.mid + k)] = size
        b, a = list(bids.items()), list(asks.items())
        st.book.apply(b, a)
        vb, va = self._refresh_view(st)
        if self.depth:
            b, a = vb, va
        prev = st.seq
        st.seq += 1
        ts = self._ts()
        self._record(st, ts)
        return BookChange(st.symbol, b, a, prev, st.seq, ts)

    def snapshot(self, symbol: str) -> tuple[list[Level], list[Level], int]:
        st = self.symbols[symbol]
        view = self.view_of(st)
        return view.top_bids(len(view.bids)), view.top_asks(len(view.asks)), st.seq

    def quote(self, symbol: str, ts: int) -> Quote | None:
        st = self.symbols[symbol]
        bb, ba = st.book.best_bid(), st.book.best_ask()
        if bb is None or ba is None:
            return None
        return Quote(self.venue, symbol, bb[0], bb[1], ba[0], ba[1], st.seq, ts, 0)


def _diff(old: dict[int, int], new: dict[int, int]) -> list[Level]:
    out = [(p, s) for p, s in new.items() if old.get(p) != s]
    out += [(p, 0) for p in old if p not in new]
    return out
