"""Kraken's book checksum: a CRC32 over the top 10 levels per side, and ``CrcBook``, the
book that keeps the checksum's level texts and partial CRCs cached between updates.

Apart from kraken.py (which uses it) to keep that module near its size: compiled with it in
the ``feeds`` group, so the calls between them stay native.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Final

from cambist.feeds.book import L2Book
from cambist.feeds.scaled import Boxed
from cambist.feeds.types import Level

if TYPE_CHECKING:
    from mypy_extensions import i64

DEPTH: Final = 10
"""Levels per side in the checksum (and the subscribed depth)."""


def checksum(book: L2Book) -> int:
    """Kraken's CRC32: top 10 asks low to high, then top 10 bids high to low, each level as
    price then qty at the pair's precision with the decimal point and leading zeros removed
    (at the pair's scale: the integers' digits)."""
    parts = [f"{p}{q}" for p, q in book.top_asks(DEPTH)]
    parts += [f"{p}{q}" for p, q in book.top_bids(DEPTH)]
    return zlib.crc32("".join(parts).encode())


class CrcBook(L2Book):
    """An ``L2Book`` that keeps each level's checksum text beside it, in checksum order.

    The CRC32 covers 20 levels after every update, but an update changes one or two: the
    text of a level (``bytes``, price then size digits) is built when the level changes and
    kept in a list parallel to the prices of its side, best first (binary search), so the
    checksum joins cached texts instead of sorting and formatting 40 values per update.
    Lists, not dicts keyed by price: prices are multiples of the tick (of 10**6 units at
    the usual scale), whose low bits are all zero, so an int-keyed dict probes several slots
    per lookup (about 300 instructions each). Most updates touch one side (some none): the
    asks' CRC and the bids' joined text are kept until their side changes, and the bids'
    part is chained on the asks' CRC (``crc32(bids, crc32(asks))`` is the CRC of both).
    """

    __slots__ = ("acrc", "apt", "apx", "atexts", "bjoined", "bpt", "bpx", "btexts", "crc", "stale")

    def __init__(self, depth: int = 0) -> None:
        super().__init__(depth)
        self.bpx: list[int] = []
        """Bid prices, descending (best first)."""
        self.bpt: list[bytes] = []
        """The digits of each price of ``bpx``, at the same index: a size change, the usual
        update, formats only the size."""
        self.btexts: list[bytes] = []
        """The checksum text of each level of ``bpx``, at the same index."""
        self.apx: list[int] = []
        """Ask prices, ascending (best first)."""
        self.apt: list[bytes] = []
        self.atexts: list[bytes] = []
        self.acrc: Boxed = 0
        """CRC32 of the top asks' texts, unless stale (the object, passed on to ``crc32`` as
        it is: an ``int`` here would be boxed into a new object for the call)."""
        self.bjoined = b""
        """The top bids' texts joined, unless stale."""
        self.crc = 0
        """The checksum, unless either side is stale."""
        self.stale: i64 = _BOTH
        """The sides changed since the last checksum: ``_ASKS_STALE | _BIDS_STALE``."""

    def clear(self) -> None:
        super().clear()
        for texts in (self.btexts, self.atexts, self.bpt, self.apt):
            texts.clear()
        self.bpx.clear()
        self.apx.clear()
        self.stale = _BOTH

    def apply(self, bids: list[Level], asks: list[Level]) -> None:
        if bids:
            _apply(bids, self.bids, self.bpx, self.bpt, self.btexts, True)
            self.stale |= _BIDS_STALE
        if asks:
            _apply(asks, self.asks, self.apx, self.apt, self.atexts, False)
            self.stale |= _ASKS_STALE
        if self.depth:
            self.truncate(self.depth)

    def truncate(self, depth: int) -> None:
        if _truncate(self.bids, self.bpx, self.bpt, self.btexts, depth):
            self.stale |= _BIDS_STALE
        if _truncate(self.asks, self.apx, self.apt, self.atexts, depth):
            self.stale |= _ASKS_STALE

    def checksum(self) -> int:
        """Same value as ``checksum(self)``, from the cached level texts."""
        stale = self.stale
        if not stale:
            return self.crc
        if stale & _ASKS_STALE:
            self.acrc = _crc32(_top(self.atexts))
        if stale & _BIDS_STALE:
            self.bjoined = _top(self.btexts)
        self.stale = 0
        crc: int = _crc32(self.bjoined, self.acrc)
        self.crc = crc
        return crc


_ASKS_STALE: Final = 1
_BIDS_STALE: Final = 2
_BOTH: Final = 3
_crc32: Final = zlib.crc32
"""A static of the compiled module, not a global looked up by name on each call."""


def _top(texts: list[bytes]) -> bytes:
    """The first ``DEPTH`` texts joined."""
    return b"".join(texts) if len(texts) <= DEPTH else b"".join(texts[:DEPTH])


def _truncate(
    side: dict[int, int], prices: list[int], ptexts: list[bytes], texts: list[bytes], depth: int
) -> bool:
    """Drop the levels after the first ``depth``; whether there were any."""
    n: i64 = len(prices)
    if n <= depth:
        return False
    while n > depth:
        px: Boxed = prices.pop()
        ptexts.pop()
        texts.pop()
        del side[px]
        n -= 1
    return True


def _apply(
    levels: list[Level],
    side: dict[int, int],
    prices: list[int],
    ptexts: list[bytes],
    texts: list[bytes],
    desc: bool,
) -> None:
    """Apply one side's levels to its dict and its sorted, best-first lists."""
    rows: list[tuple[Boxed, Boxed]] = levels  # objects, not new ints (see ``scaled.Boxed``)
    for px, sz in rows:
        p: int = px
        # binary search (p's index, or its insertion point in best-first order) as a native
        # loop that stops at an equal price: the call to bisect and its generic comparisons
        # cost about 700 instructions per level, each further read of a list item about 50
        lo: i64 = 0
        hi: i64 = len(prices)
        found = False
        while lo < hi:
            mid = (lo + hi) >> 1
            m: int = prices[mid]
            if m == p:
                lo = mid
                found = True
                break
            if (m < p) != desc:  # m is better than p
                lo = mid + 1
            else:
                hi = mid
        q: int = sz
        if q:
            # compiled: native digit formatting, one bytes built, no str
            if found:
                texts[lo] = b"%b%d" % (ptexts[lo], q)
            else:
                pt = b"%d" % p
                prices.insert(lo, px)
                ptexts.insert(lo, pt)
                texts.insert(lo, b"%b%d" % (pt, q))
            side[px] = sz
        elif found:
            del side[px]
            prices.pop(lo)
            ptexts.pop(lo)
            texts.pop(lo)
