"""Normalized market-data types shared by every venue module.

Every venue's wire messages become these few msgspec Structs, so that the dedup, the
market-data log and the consolidated book never see a venue quirk. Prices and sizes are
exact integers in units of ``10**-scale`` of the instrument (``scaled.Scale``), parsed from
the venue's own text without ever passing through float (``scaled.py``): ``0.3528`` and
``0.35280000`` are the same integer, and integers hash, compare and encode far faster than
``Decimal`` (which this module used before: its construction, hashing and msgpack encoding
were the largest single cost of the gate). The log holds one ``Instrument`` record per
(venue, symbol) and run, so a reader knows the scales.

Structs are ``array_like`` and tagged: the log encoding is a compact msgpack array whose first
element says which type follows.
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec

Side = Literal["buy", "sell"]
BUY: Final[Literal["buy"]] = "buy"
SELL: Final[Literal["sell"]] = "sell"
NO_SEQ: Final = -1
"""Placeholder for a sequence id the venue does not provide."""

Level = tuple[int, int]
"""``(price, size)`` as scaled integers; a size of zero removes the level."""


class Trade(msgspec.Struct, frozen=True, array_like=True, gc=False, tag="t"):
    """One public trade. ``side`` is the taker's side, whatever the venue's convention."""

    venue: str
    symbol: str
    side: Side
    price: int
    size: int
    trade_id: str
    venue_ts: int
    """Venue's event time, nanoseconds since the epoch."""
    recv_ts: int
    """Local receive time, nanoseconds since the epoch."""
    seq: int = NO_SEQ
    """Venue sequence id of the carrying message when the venue has one."""


class BookUpdate(msgspec.Struct, array_like=True, gc=False, tag="b"):
    """An L2 snapshot (``snapshot=True``, replaces the book) or a delta of absolute sizes.

    ``seq`` is the venue's book sequence id after this update and ``prev_seq`` the id the
    book must be at before it (``NO_SEQ`` when the venue has none). ``checksum`` carries a
    venue checksum over the book after the update (Kraken), else ``NO_SEQ``.
    """

    venue: str
    symbol: str
    snapshot: bool
    bids: list[Level]
    asks: list[Level]
    seq: int
    prev_seq: int
    venue_ts: int
    recv_ts: int
    checksum: int = NO_SEQ
    reset: bool = False
    """The venue restarted its sequence (Bybit ``u=1``, OKX ``seqId < prevSeqId``)."""


class Quote(msgspec.Struct, frozen=True, array_like=True, gc=False, tag="q"):
    """Best bid and offer as published by the venue's own top-of-book channel."""

    venue: str
    symbol: str
    bid_price: int
    bid_size: int
    ask_price: int
    ask_size: int
    seq: int
    venue_ts: int
    recv_ts: int


class Instrument(msgspec.Struct, frozen=True, array_like=True, gc=False, tag="i"):
    """The scales of one (venue, symbol) in the log: every later price of it counts units of
    ``10**-price_scale``, every size units of ``10**-size_scale``."""

    venue: str
    symbol: str
    price_scale: int
    size_scale: int


Record = Trade | BookUpdate | Quote | Instrument
"""What the market-data log holds."""


class Resync(msgspec.Struct, frozen=True, gc=False):
    """Control event from a parser: these books lost integrity (e.g. a connection-wide gap)."""

    symbols: tuple[str, ...]
    reason: str


class Ack(msgspec.Struct, frozen=True, gc=False):
    """Control event: heartbeat, subscription ack, pong. Feeds the silence watchdog only."""

    kind: str


Event = Trade | BookUpdate | Quote | Resync | Ack


class FeedError(ValueError):
    """A wire message that cannot be understood. Counted and logged; never fatal."""
