"""An L2 book keyed by exact scaled-integer price, plus the per-book integrity state machine.

``SyncedBook`` holds the state every venue shares (a book, live or waiting for a snapshot,
the last sequence id); each venue module subclasses it to state its own rule for accepting
an update (sequence continuity, checksum, snapshot resets). The connection code only sees
the verdicts, so no venue quirk leaks into it.
"""

from __future__ import annotations

import enum
import hashlib
from typing import Any

from cambist.feeds._native import mypyc_attr
from cambist.feeds.scaled import Boxed
from cambist.feeds.types import NO_SEQ, BookUpdate, Level


@mypyc_attr(allow_interpreted_subclasses=True)
class L2Book:
    """Price levels of one instrument; sizes are absolute and zero removes a level."""

    __slots__ = ("asks", "bids", "depth")

    def __init__(self, depth: int = 0) -> None:
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.depth = depth
        """Keep only this many levels per side after each update (0: unlimited)."""

    def clear(self) -> None:
        self.bids.clear()
        self.asks.clear()

    def load(self, bids: list[Level], asks: list[Level]) -> None:
        self.clear()
        self.apply(bids, asks)

    def apply(self, bids: list[Level], asks: list[Level]) -> None:
        _apply_side(self.bids, bids)
        _apply_side(self.asks, asks)
        if self.depth:
            self.truncate(self.depth)

    def truncate(self, depth: int) -> None:
        """Drop levels beyond ``depth``: depth-limited venues never delete those explicitly."""
        if len(self.bids) > depth:
            for px in sorted(self.bids, reverse=True)[depth:]:
                del self.bids[px]
        if len(self.asks) > depth:
            for px in sorted(self.asks)[depth:]:
                del self.asks[px]

    def top_bids(self, n: int) -> list[Level]:
        return [(p, self.bids[p]) for p in sorted(self.bids, reverse=True)[:n]]

    def top_asks(self, n: int) -> list[Level]:
        return [(p, self.asks[p]) for p in sorted(self.asks)[:n]]

    def best_bid(self) -> Level | None:
        if not self.bids:
            return None
        px = max(self.bids)
        return px, self.bids[px]

    def best_ask(self) -> Level | None:
        if not self.asks:
            return None
        px = min(self.asks)
        return px, self.asks[px]

    def levels(self, n: int = 0) -> tuple[list[Level], list[Level]]:
        """Both sides best first (for comparisons and hashes)."""
        return self.top_bids(n or len(self.bids)), self.top_asks(n or len(self.asks))

    def state_hash(self, n: int = 0) -> str:
        """Digest of the (top ``n``) levels by value: equal books hash equal across venues."""
        bids, asks = self.levels(n)
        text = repr((bids, asks)).encode()
        return hashlib.blake2b(text, digest_size=16).hexdigest()


def _apply_side(side: dict[int, int], levels: list[Level]) -> None:
    # levels read as objects (``Boxed``): compiled, ``int`` would mean a new object for every
    # key and size stored; ``in`` and ``del``, not ``pop``: a method call is a generic one
    rows: list[tuple[Boxed, Boxed]] = levels
    for px, sz in rows:
        if sz:
            side[px] = sz
        elif px in side:
            del side[px]


class Verdict(enum.IntEnum):
    """What the connection does with an update after the venue rule judged it."""

    APPLIED = 0
    """Applied to a live book: forward it."""
    DROPPED = 1
    """Stale or duplicate on this connection (or the book is not live): ignore it."""
    RESYNC = 2
    """Gap or mismatch: this book is discarded and resynchronised."""
    BUFFERED = 3
    """Held until the REST snapshot arrives (Binance)."""
    SNAPSHOT = 4
    """A snapshot made the book live (again): forward it as a snapshot."""


@mypyc_attr(allow_interpreted_subclasses=True)
class SyncedBook:
    """One book on one connection with the venue's integrity rule; override ``check``.

    The default rule suits venues whose WebSocket subscription starts with a snapshot:
    updates before the snapshot are dropped, a snapshot (re)loads the book.
    """

    needs_rest_snapshot = False

    def __init__(self, symbol: str, depth: int = 0) -> None:
        self.symbol = symbol
        self.book = L2Book(depth)
        self.live = False
        self.last_seq = NO_SEQ
        self.last_ts = 0
        self.resyncs = 0
        self.merged: Any = None
        """The merger's stream this book is a member of (``Merger.register`` sets it), so
        that ``Merger.book`` finds it without building and hashing a key per update."""

    def reset(self) -> None:
        """Forget the book: it is no longer trusted until a new snapshot arrives."""
        self.book.clear()
        self.live = False
        self.last_seq = NO_SEQ

    def on_update(self, u: BookUpdate) -> Verdict:
        if u.snapshot:
            self.book.load(u.bids, u.asks)
            self.live = True
            self.last_seq = u.seq
            self.last_ts = u.venue_ts
            return Verdict.SNAPSHOT
        if not self.live:
            return Verdict.DROPPED
        verdict = self.check(u)
        if verdict is Verdict.APPLIED:
            self.book.apply(u.bids, u.asks)
            if not self.verify(u):
                return Verdict.RESYNC
            self.last_seq = u.seq
            self.last_ts = u.venue_ts
        return verdict

    def check(self, u: BookUpdate) -> Verdict:
        """Venue rule for a delta on a live book, before it is applied."""
        return Verdict.APPLIED

    def verify(self, u: BookUpdate) -> bool:
        """Venue rule after a delta is applied (checksums). True when the book is sound."""
        return True

    def on_rest_snapshot(self, snap: BookUpdate) -> tuple[Verdict, list[BookUpdate]]:
        """Venues that sync from a REST snapshot override this (see binance.py)."""
        raise NotImplementedError(f"{type(self).__name__} does not sync from REST")
