"""Cross-venue view per symbol: best bid and offer with their venues, mid, reference price.

The reference price is the median of the venues' mids, ignoring stale or crossed venues:
one venue printing nonsense cannot move it, which is what price bands and far-from-market
trade alerts need.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable
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


class TopRow(msgspec.Struct, array_like=True, frozen=True):
    """Best bid and offer of one live merged book, in its scaled integers (what a worker
    process reports to the parent, see ``workers.py``)."""

    venue: str
    symbol: str
    price_scale: int
    size_scale: int
    bid: int
    bid_size: int
    ask: int
    ask_size: int
    updated_ns: int


def merger_tops(m: Merger) -> list[TopRow]:
    """One row per live, two-sided merged book of a merger."""
    out = []
    for (venue, sym), s in m.books.items():
        if not s.live:
            continue
        bb, ba = s.book.best_bid(), s.book.best_ask()
        if bb is None or ba is None:
            continue
        out.append(TopRow(venue, sym, *s.scale, bb[0], bb[1], ba[0], ba[1], s.updated_ns))
    return out


class ConsolidatedBook:
    """Reads the merged books of every venue (in-process mergers, or rows that worker
    processes report through ``rows``); computes on demand."""

    def __init__(
        self,
        mergers: Iterable[Merger] = (),
        stale_s: float = 10.0,
        rows: Callable[[], list[TopRow]] | None = None,
    ) -> None:
        self.mergers = list(mergers)
        self.rows = rows
        self.stale_ns = int(stale_s * 1e9)

    def _rows(self) -> list[TopRow]:
        out = [r for m in self.mergers for r in merger_tops(m)]
        if self.rows is not None:
            out += self.rows()
        return out

    def symbols(self) -> list[str]:
        return sorted({r.symbol for r in self._rows()})

    def tops(self, symbol: str, now_ns: int | None = None) -> list[VenueTop]:
        now = now_ns or time.time_ns()
        out = []
        for r in self._rows():
            if r.symbol != symbol or r.bid >= r.ask:
                continue  # crossed: not a usable market
            if now - r.updated_ns > self.stale_ns:
                continue
            ps, ss = r.price_scale, r.size_scale  # scales differ: compare exact decimals
            out.append(
                VenueTop(
                    r.venue,
                    to_decimal(r.bid, ps),
                    to_decimal(r.bid_size, ss),
                    to_decimal(r.ask, ps),
                    to_decimal(r.ask_size, ss),
                    (now - r.updated_ns) / 1e6,
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
