"""The per-connection pipeline of a gate: parse, integrity check, merge. No I/O.

Split from ``gate.py`` (which keeps the sockets, reconnects and watchdogs) so that the code
every wire message runs through can be compiled by mypyc (``make native``,
tools/build_native.py group ``feeds``) while the asyncio and aiohttp side stays
interpreted. Benchmarks and tests drive ``Core`` directly with recorded bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Final

import structlog

from cambist.feeds.book import SyncedBook, Verdict
from cambist.feeds.merge import Merger
from cambist.feeds.scaled import Scale
from cambist.feeds.types import Ack, BookUpdate, FeedError, Quote, Resync, Trade
from cambist.feeds.venue import VenueSession

log = structlog.get_logger("cambist.feeds")

# The event classes as C statics when compiled: ``types.py`` is not compiled, so each bare
# ``Trade`` in ``handle`` would be a lookup in this module's globals (about 100
# instructions, up to three per event).
_TRADE: Final = Trade
_BOOK_UPDATE: Final = BookUpdate
_QUOTE: Final = Quote
_RESYNC: Final = Resync
_ACK: Final = Ack


@dataclass
class Counters:
    messages: int = 0
    malformed: int = 0
    resyncs: int = 0
    reconnects: int = 0
    snapshots_fetched: int = 0
    watchdog_trips: int = 0
    errors: list[str] = field(default_factory=list)

    def note_error(self, text: str) -> None:
        if len(self.errors) < 20:
            self.errors.append(text)


class Core:
    """Parse, check and merge one connection's messages. No I/O: returns resync requests."""

    def __init__(
        self,
        venue: ModuleType,
        symbols: Sequence[str],
        conn: int,
        merger: Merger,
        stats: Counters,
        scales: Mapping[str, Scale] | None = None,
    ) -> None:
        self.venue = venue
        self.conn = conn
        self.merger = merger
        self.stats = stats
        self.symbols = list(symbols)
        self.scales = dict(scales or {})
        self.session: VenueSession = venue.Session(symbols, self.scales)
        self.shared = self.session.shared_book_seq
        self.memo = merger.memo if self.session.stateless_parse else None
        self.books: dict[str, SyncedBook] = {}
        self.new_session()

    def new_session(self) -> None:
        """Fresh protocol state and books for a new socket; the merger learns of them."""
        self.session = self.venue.Session(self.symbols, self.scales)
        self.session.memo = self.merger.venue_memo
        self.books = {s: self.session.new_book(s) for s in self.symbols}
        for s, b in self.books.items():
            scale = self.session.scales[s]
            self.merger.register(self.conn, self.session.name, s, b, self.shared, scale)

    def handle(self, raw: bytes, recv_ts: int) -> list[str]:
        """One wire message. Returns the symbols whose book must be resynchronised."""
        self.stats.messages += 1
        memo = self.memo
        if memo is not None and len(self.merger.connections) < 2:
            memo = None  # one connection: no second copy will reuse the parse
        events = memo.get(raw) if memo is not None else None
        if events is None:
            try:
                events = self.session.parse(raw, recv_ts)
            except FeedError as e:
                self._malformed(str(e), raw)
                return []
            except Exception as e:  # a parser bug must not take the gate down: count it
                self._malformed(f"{type(e).__name__}: {e}", raw)
                return []
            if memo is not None:
                memo.put(raw, events)
        resync: list[str] = []
        merger = self.merger
        for ev in events:
            if type(ev) is _TRADE:
                merger.trade(ev)
            elif type(ev) is _BOOK_UPDATE:
                synced = self.books[ev.symbol]
                v = synced.on_update(ev)
                if v is Verdict.APPLIED or v is Verdict.SNAPSHOT:
                    merger.book(self.conn, ev, synced, v)
                elif v is Verdict.RESYNC:
                    resync.append(ev.symbol)
                elif v is Verdict.BUFFERED and len(getattr(synced, "buffer", ())) == 1:
                    resync.append(ev.symbol)  # first diff buffered: time to fetch the snapshot
            elif type(ev) is _QUOTE:
                merger.quote(ev, self.shared)
            elif type(ev) is _RESYNC:
                resync.extend(ev.symbols)
            elif type(ev) is not _ACK:
                self._malformed(f"unexpected event {type(ev).__name__}", raw)
        return resync

    def _malformed(self, reason: str, raw: bytes) -> None:
        self.stats.malformed += 1
        self.stats.note_error(reason)
        if self.stats.malformed <= 10 or self.stats.malformed % 1000 == 0:
            log.warning(
                "malformed message",
                venue=self.session.name,
                conn=self.conn,
                reason=reason,
                raw=raw[:200],
                count=self.stats.malformed,
            )

    def reset_book(self, symbol: str) -> SyncedBook:
        synced = self.books[symbol]
        was_live = synced.live
        synced.reset()
        if was_live:
            self.stats.resyncs += 1
            self.merger.book_lost(self.conn, self.session.name, symbol)
        return synced
