"""Merge N redundant connections per stream into one stream without duplicates or gaps.

Identity rules come from the venue modules: trades dedup on ``(venue, symbol, trade_id)``;
books of venues whose sequence ids are shared across connections (Binance ``u``, OKX
``seqId``, Bybit ``u``) dedup on the id: an update already merged is dropped, one that
continues the merged stream is forwarded as a delta, and one that would leave a hole (its
connection saw updates the merged stream has not) is forwarded as a snapshot of that
connection's verified book. Venues without a shared id (Kraken, Coinbase) follow one
leader connection per book and fail over, with a snapshot, when it loses the book.
Either way the merged book stays exact while one connection is healthy.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from librt.strings import read_i64_le
from msgspec.structs import astuple

from cambist.feeds._native import mypyc_attr
from cambist.feeds.book import L2Book, SyncedBook, Verdict
from cambist.feeds.scaled import DEFAULT_SCALE, Scale, to_decimal
from cambist.feeds.types import NO_SEQ, BookUpdate, Event, Quote, Record, Trade

if TYPE_CHECKING:
    from mypy_extensions import i64

T = TypeVar("T")

_astuple: Final = astuple
"""A C static when compiled, not a lookup in the module's globals per call."""


_MIX: Final[i64] = 0x1E3779B97F4A7C15
"""An odd multiplier (the golden ratio's bits, top ones cleared): it and ``_LOW62`` fit a
mypyc tagged int, so they compile to immediates (larger ones are boxed and converted at
every use, which cost more than the hashing saved)."""
_LOW62: Final[i64] = 0x3FFFFFFFFFFFFFFF


def fingerprint(raw: bytes) -> i64:
    """A cheap key for ``ParseMemo``: the length and the first and last 64 bytes (all of a
    message of up to 128), 8 bytes at a time, mixed by multiply-xor.

    Not a hash of every byte: the memo compares the whole message before it reuses a parse,
    so two messages sharing a key only cost a parse. The ends carry what tells one message
    of a stream from the next (the stream or channel, event time and ids up front; the last
    levels, ids or time at the back), and Python's hash of the bytes (SipHash over all of
    them, about 700 instructions for a 300-byte message, paid by both copies) was the
    memo's whole cost. The mask keeps the interpreted result equal to the compiled one."""
    n: i64 = len(raw)
    h: i64 = n
    if n < 8:
        k: i64 = 0
        while k < n:
            h = ((h ^ raw[k]) * _MIX) & _LOW62
            k += 1
        return h
    j: i64 = 0
    head: i64 = min(n - 8, 64)
    while j < head:
        h = ((h ^ read_i64_le(raw, j)) * _MIX) & _LOW62
        j += 8
    j = max(j, n - 64)
    while j < n - 8:
        h = ((h ^ read_i64_le(raw, j)) * _MIX) & _LOW62
        j += 8
    return ((h ^ read_i64_le(raw, n - 8)) * _MIX) & _LOW62


class ParseMemo(Generic[T]):
    """Events of recently parsed wire messages, found by their exact bytes.

    Every message arrives once per redundant connection, byte for byte, usually within
    milliseconds. For venues whose parser is stateless the second copy's events are the
    first copy's, so the gate parses once and feeds the same events to each connection's
    book and to the dedup (which still judges every copy).

    A direct-mapped table: a message's slot is its ``fingerprint``, and the slot holds the
    message, which a lookup compares whole, so a reused parse is always of the same bytes.
    A later message landing in the same slot replaces it; its copy is then simply parsed
    again (rare: the other copy comes within a few messages, and there are ``size``
    slots). No dict: a bytes key cost a SipHash of the whole message per copy, an int key
    a boxed int and its hash, each about as much as the parse it saved on small messages.
    """

    __slots__ = ("key", "last", "mask", "slots")

    def __init__(self, size: int = 8192) -> None:
        n = 1
        while n < size:
            n *= 2
        self.slots: list[tuple[bytes, T] | None] = [None] * n
        self.mask: i64 = n - 1
        self.last = b""
        """The message ``get`` looked up last and its slot, for the ``put`` after a miss."""
        self.key: i64 = 0

    def get(self, raw: bytes) -> T | None:
        key = fingerprint(raw) & self.mask
        self.last = raw
        self.key = key
        hit = self.slots[key]
        if hit is not None and hit[0] == raw:
            return hit[1]
        return None

    def put(self, raw: bytes, events: T) -> None:
        key = self.key if raw is self.last else fingerprint(raw) & self.mask
        self.slots[key] = (raw, events)

    def held(self) -> list[bytes]:
        """The messages whose events are held (tests and diagnostics)."""
        return [hit[0] for hit in self.slots if hit is not None]


class BookStream:
    """The merged state of one (venue, symbol) book."""

    __slots__ = (
        "book",
        "last_seq",
        "leader",
        "live",
        "members",
        "scale",
        "shared",
        "symbol",
        "updated_ns",
        "venue",
    )

    def __init__(
        self, shared: bool, scale: Scale = DEFAULT_SCALE, venue: str = "", symbol: str = ""
    ) -> None:
        self.venue = venue
        self.symbol = symbol
        self.shared = shared
        self.scale = scale
        """Decimals of the book's scaled-integer prices and sizes."""
        self.book = L2Book()
        self.last_seq = NO_SEQ
        self.leader: int | None = None
        self.live = False
        self.members: dict[int, SyncedBook] = {}
        self.updated_ns = 0


@mypyc_attr(allow_interpreted_subclasses=True)
class Merger:
    """Deduplicates and sequences records from all connections, then hands them to ``emit``."""

    def __init__(self, emit: Callable[[Record], None], window: int = 200_000) -> None:
        self.emit = emit
        self.window = window
        self._seen: set[tuple[str, str, str]] = set()
        self._order: deque[tuple[str, str, str]] = deque()
        self.books: dict[tuple[str, str], BookStream] = {}
        self.quotes: dict[tuple[str, str], Quote] = {}
        self._quote_fields: dict[str, dict[str, tuple[Any, ...]]] = {}
        """``astuple`` of each quote of ``quotes`` by venue and symbol: (venue, symbol, bid
        price, bid size, ask price, ask size, seq, venue_ts, recv_ts)."""
        self.duplicates = 0
        self.resnapshots = 0
        self.failovers = 0
        self.connections: set[int] = set()
        """Every connection that registered a book: with one, nothing is parsed twice."""
        self.memo: ParseMemo[list[Event]] = ParseMemo()
        self.venue_memo: ParseMemo[Any] = ParseMemo()
        """For venues whose parse is stateful: they memoize their stateless part here."""

    # trades -------------------------------------------------------------------------------
    def trade(self, t: Trade) -> None:
        # the key's fields through one ``astuple`` call (three generic attribute reads from
        # compiled code cost more), and one hash of the key: ``add`` then the set's size
        f: tuple[Any, ...] = _astuple(t)
        key: tuple[str, str, str] = (f[0], f[1], f[5])
        seen = self._seen
        n = len(seen)
        seen.add(key)
        if len(seen) == n:
            self.duplicates += 1
            return
        order = self._order
        order.append(key)
        if len(order) > self.window:
            seen.discard(order.popleft())
        self.emit(t)

    # quotes -------------------------------------------------------------------------------
    def quote(self, q: Quote, shared: bool) -> None:
        # the fields as one tuple (``astuple``, one C call): compiled code reads a Struct's
        # fields through the generic attribute lookup, ~185 instructions each, and this
        # compares up to twelve; the last quote's tuple is kept beside it, by venue then
        # symbol (two lookups of strings whose hashes are cached beat building, hashing and
        # comparing a tuple key)
        f: tuple[Any, ...] = _astuple(q)
        venue: str = f[0]
        symbol: str = f[1]
        fields = self._quote_fields.get(venue)
        if fields is None:
            fields = self._quote_fields[venue] = {}
        last = fields.get(symbol)
        if last is not None:
            seq: int = f[6]
            if (seq <= last[6] and shared and seq != NO_SEQ) or (
                f[2] == last[2] and f[4] == last[4] and f[3] == last[3] and f[5] == last[5]
            ):
                self.duplicates += 1
                return
        self.quotes[(venue, symbol)] = q
        fields[symbol] = f
        self.emit(q)

    # books --------------------------------------------------------------------------------
    def register(
        self,
        conn: int,
        venue: str,
        symbol: str,
        book: SyncedBook,
        shared: bool,
        scale: Scale = DEFAULT_SCALE,
    ) -> None:
        """A connection's book for (venue, symbol) joins the stream (on every (re)connect)."""
        s = self.books.get((venue, symbol))
        if s is None:
            s = self.books[(venue, symbol)] = BookStream(shared, scale, venue, symbol)
        s.members[conn] = book
        book.merged = s
        self.connections.add(conn)

    def book(self, conn: int, u: BookUpdate, synced: SyncedBook, verdict: Verdict) -> None:
        """An update ``synced`` accepted (``APPLIED``) or a snapshot made it live."""
        # the fields as one ``astuple`` tuple (see ``quote``): (venue, symbol, snapshot, bids,
        # asks, seq, prev_seq, venue_ts, recv_ts, checksum, reset)
        f: tuple[Any, ...] = _astuple(u)
        s: BookStream | None = synced.merged  # set by ``register``: no key built and hashed
        if s is None or s.symbol != f[1] or s.venue != f[0]:
            s = self.books[(f[0], f[1])]  # a book no stream registered, or another's
        s.updated_ns = f[8]
        if not s.shared:
            if s.leader is None or not s.live:
                s.leader = conn
            if s.leader != conn:
                self.duplicates += 1
                return
            self._forward(s, u, f, synced, verdict is Verdict.SNAPSHOT or not s.live)
            return
        seq = synced.last_seq
        prev_seq: int = f[6]
        if f[10]:
            self._forward(s, u, f, synced, True)
        elif s.live and seq <= s.last_seq:
            self.duplicates += 1
        elif s.live and verdict is Verdict.APPLIED and prev_seq <= s.last_seq:
            self._forward(s, u, f, synced, False)
        else:
            self._forward(s, u, f, synced, True)

    def _forward(
        self,
        s: BookStream,
        u: BookUpdate,
        f: tuple[Any, ...],
        synced: SyncedBook,
        as_snapshot: bool,
    ) -> None:
        """Emit ``u`` (whose ``astuple`` is ``f``) or, as a snapshot, ``synced``'s book."""
        if as_snapshot:
            bids = synced.book.top_bids(len(synced.book.bids))
            asks = synced.book.top_asks(len(synced.book.asks))
            if s.live:
                self.resnapshots += 1
            u = BookUpdate(f[0], f[1], True, bids, asks, synced.last_seq, NO_SEQ, f[7], f[8])
            s.book.load(bids, asks)
            s.live = True
        else:
            s.book.apply(f[3], f[4])
        s.last_seq = synced.last_seq
        self.emit(u)

    def book_lost(self, conn: int, venue: str, symbol: str) -> None:
        """``conn`` no longer has a trustworthy book (resync or disconnect)."""
        s = self.books.get((venue, symbol))
        if s is None or s.shared or s.leader != conn:
            return
        s.leader = None
        for other, synced in s.members.items():
            if other != conn and synced.live:
                self.failovers += 1
                s.leader = other
                u = BookUpdate(
                    venue,
                    symbol,
                    True,
                    [],
                    [],
                    synced.last_seq,
                    NO_SEQ,
                    synced.last_ts,
                    s.updated_ns,
                )
                self._forward(s, u, _astuple(u), synced, True)
                return
        s.live = False  # nobody can vouch for the book until a connection resyncs

    def connection_lost(self, conn: int) -> None:
        for (venue, symbol), s in self.books.items():
            if conn in s.members:
                self.book_lost(conn, venue, symbol)
                del s.members[conn]

    def mid(self, venue: str, symbol: str) -> Decimal | None:
        s = self.books.get((venue, symbol))
        if s is None or not s.live:
            return None
        bb, ba = s.book.best_bid(), s.book.best_ask()
        if bb is None or ba is None:
            return None
        return to_decimal(bb[0] + ba[0], s.scale.price) / 2
