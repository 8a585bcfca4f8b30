"""Cross-venue view per symbol: best bid and offer with their venues, mid, reference price.

The reference price is the median of the venues' mids, ignoring stale or crossed venues:
one venue printing nonsense cannot move it, which is what price bands and far-from-market
trade alerts need.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterable
from decimal import Decimal

import msgspec

from cambist.feeds.merge import Merger
from cambist.feeds.scaled import to_decimal


class VenueTop(msgspec.Struct, frozen=True):
    venue: str
    bid: Decimal
    bid_size: Decimal
    ask: Decimal
    ask_size: Decimal
    age_ms: float


class Consolidated(msgspec.Struct, frozen=True):
    symbol: str
    best_bid: Decimal | None
    best_bid_venue: str | None
    best_ask: Decimal | None
    best_ask_venue: str | None
    mid: Decimal | None
    reference: Decimal | None
    venues: list[VenueTop]


class ConsolidatedBook:
    """Reads the merged books of every venue's merger; computes on demand."""

    def __init__(self, mergers: Iterable[Merger], stale_s: float = 10.0) -> None:
        self.mergers = list(mergers)
        self.stale_ns = int(stale_s * 1e9)

    def symbols(self) -> list[str]:
        return sorted({sym for m in self.mergers for (_, sym) in m.books})

    def tops(self, symbol: str, now_ns: int | None = None) -> list[VenueTop]:
        now = now_ns or time.time_ns()
        out = []
        for m in self.mergers:
            for (venue, sym), s in m.books.items():
                if sym != symbol or not s.live:
                    continue
                bb, ba = s.book.best_bid(), s.book.best_ask()
                if bb is None or ba is None or bb[0] >= ba[0]:
                    continue  # one-sided or crossed: not a usable market
                if now - s.updated_ns > self.stale_ns:
                    continue
                ps, ss = s.scale  # venues' scales differ: compare as exact decimals
                out.append(
                    VenueTop(
                        venue,
                        to_decimal(bb[0], ps),
                        to_decimal(bb[1], ss),
                        to_decimal(ba[0], ps),
                        to_decimal(ba[1], ss),
                        (now - s.updated_ns) / 1e6,
                    )
                )
        return out

    def get(self, symbol: str, now_ns: int | None = None) -> Consolidated:
        tops = self.tops(symbol, now_ns)
        if not tops:
            return Consolidated(symbol, None, None, None, None, None, None, [])
        bid = max(tops, key=lambda t: t.bid)
        ask = min(tops, key=lambda t: t.ask)
        mid = (bid.bid + ask.ask) / 2
        reference = Decimal(statistics.median([(t.bid + t.ask) / 2 for t in tops]))
        return Consolidated(symbol, bid.bid, bid.venue, ask.ask, ask.venue, mid, reference, tops)

    def deviation_bps(self, symbol: str, price: Decimal) -> Decimal | None:
        """How far a price is from the reference, in basis points (for alerts and bands)."""
        ref = self.get(symbol).reference
        if ref is None or ref == 0:
            return None
        return (price - ref) / ref * 10_000
