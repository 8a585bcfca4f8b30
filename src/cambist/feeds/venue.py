"""The fixed shape of a venue module: what the shared connection and emulator code call.

A venue module (``cambist/feeds/venues/<name>.py``) defines two classes:

* ``Session(VenueSession)``: one client connection's view of the venue: the subscribe
  messages, the parser from wire bytes to normalized events, the per-book integrity rule
  (a ``SyncedBook`` subclass) and how a single book is resynchronised.
* ``Wire(VenueWire)``: the same protocol from the venue's side, used by the emulator to
  speak it: encode trades, book snapshots and deltas, quotes, answer subscriptions.

Keeping both halves in one module means a venue's protocol knowledge lives in one place and
adding a venue is one module plus its recorded samples (see docs/feeds.md and
``venues/_template.py``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from cambist.feeds._native import mypyc_attr
from cambist.feeds.book import L2Book, SyncedBook
from cambist.feeds.merge import ParseMemo
from cambist.feeds.scaled import DEFAULT_SCALE, Scale, Units
from cambist.feeds.subscription import Subscription
from cambist.feeds.types import BookUpdate, Event, FeedError, Level, Quote, Trade
from cambist.feeds.wirescan import WireUnits

__all__ = ["Subscription", "VenueSession", "VenueWire"]


@mypyc_attr(allow_interpreted_subclasses=True)
class VenueSession(ABC):
    """One connection to a venue, from the client side."""

    name: ClassVar[str]
    ws_url: ClassVar[str]
    """The live venue address; tests and benchmarks point at the emulator instead."""
    rest_url: ClassVar[str] = ""
    shared_book_seq: ClassVar[bool] = True
    """Book sequence ids are identical across connections, so books dedup on them."""
    app_ping: ClassVar[str] = ""
    """Application-level ping text some venues require to keep the socket open."""
    ping_interval: ClassVar[float] = 20.0
    stateless_parse: ClassVar[bool] = False
    """``parse`` depends on the bytes alone (no per-connection state such as a message
    counter). Redundant connections then deliver byte-identical copies, and the gate parses
    each distinct message once and hands the same events to every connection's book."""

    def __init__(self, symbols: Sequence[str], scales: Mapping[str, Scale] | None = None) -> None:
        self.symbols = list(symbols)
        # through the class, not ``self``: a mypyc-compiled base dispatches ``self.to_wire``
        # through its vtable, which mishandles a static method of an interpreted subclass
        to_wire = type(self).to_wire
        self.by_wire = {to_wire(s): s for s in self.symbols}
        self.scales = {s: (scales or {}).get(s, DEFAULT_SCALE) for s in self.symbols}
        """Decimals of each symbol's prices and sizes (``scaled.py``)."""
        self.units = {to_wire(s): Units(sc, s) for s, sc in self.scales.items()}
        self.wire_units = WireUnits({w.encode(): u for w, u in self.units.items()})
        """``units`` by the instrument's bytes, for the byte-level fast paths
        (``wirescan.unit_at``: no ``str`` made to look one up, and for a few instruments
        no bytes object or hash either)."""
        self.memo: ParseMemo[Any] | None = None
        """Shared by the connections of one gate: a stateful parser can memoize the part of
        its work that depends on the bytes alone (see ``coinbase.py``)."""

    @staticmethod
    @abstractmethod
    def to_wire(symbol: str) -> str:
        """BASE-QUOTE to the venue's instrument name."""

    def from_wire(self, wire: str) -> str:
        try:
            return self.by_wire[wire]
        except KeyError:
            raise FeedError(f"{self.name}: message for unsubscribed instrument {wire!r}") from None

    def instrument(self, wire: str) -> tuple[str, Units]:
        """The normalized symbol and the scales of a wire instrument name."""
        u = self.unit(wire)
        return u.symbol, u

    def unit(self, wire: str) -> Units:
        """The scales of a wire instrument name, with its normalized symbol (``.symbol``):
        one dict lookup and no tuple, for the compiled parsers."""
        u = self.units.get(wire)
        if u is None:
            raise FeedError(f"{self.name}: message for unsubscribed instrument {wire!r}")
        return u

    @abstractmethod
    def subscribe(self) -> list[str]:
        """Messages to send right after connecting (trades, book and quotes of all symbols)."""

    @abstractmethod
    def resubscribe_book(self, symbol: str) -> list[str]:
        """Messages that make the venue send a fresh book snapshot for one symbol."""

    @abstractmethod
    def parse(self, raw: bytes, recv_ts: int) -> list[Event]:
        """Wire bytes to normalized events. Raises ``FeedError`` on anything malformed."""

    @abstractmethod
    def new_book(self, symbol: str) -> SyncedBook:
        """The venue's integrity state machine for one book on this connection."""

    def snapshot_url(self, rest_base: str, symbol: str) -> str:
        """URL of the REST snapshot for venues that sync books from REST (else unused)."""
        raise NotImplementedError(f"{self.name} books sync over the WebSocket")

    def parse_snapshot(self, symbol: str, body: bytes, recv_ts: int) -> BookUpdate:
        raise NotImplementedError(f"{self.name} books sync over the WebSocket")


@mypyc_attr(allow_interpreted_subclasses=True)
class VenueWire(ABC):
    """The venue side of one connection, for the emulator. One instance per connection."""

    name: ClassVar[str]
    book_depth: ClassVar[int] = 0
    """Depth of the book channel the venue publishes (0: full); deltas keep to it."""
    heartbeat: ClassVar[str] = ""
    """Text the venue sends about once a second (empty: none)."""
    rest_path: ClassVar[str] = ""
    """Path of the REST snapshot endpoint, when the venue has one the clients use."""
    session: ClassVar[type[VenueSession]]
    """The client half of the same module (for instrument names)."""

    def __init__(self, symbols: Sequence[str], scales: Mapping[str, Scale] | None = None) -> None:
        self.symbols = list(symbols)
        self.by_wire = {self.session.to_wire(s): s for s in self.symbols}
        self.scales = {s: (scales or {}).get(s, DEFAULT_SCALE) for s in self.symbols}
        """The decimals the venue publishes each symbol's prices and sizes with."""

    @abstractmethod
    def on_client(self, text: str) -> tuple[list[Subscription], list[str]]:
        """Parse a client message: the subscriptions it asks for and direct replies."""

    @abstractmethod
    def trades(self, trades: list[Trade]) -> list[str]:
        """Wire messages carrying these trades of one symbol."""

    @abstractmethod
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
        """A book snapshot or delta (absolute sizes, zero removes).

        ``view`` is the true book after the change, for venues that publish a checksum;
        ``corrupt`` asks for a wrong checksum (an injected fault).
        """

    @abstractmethod
    def quote(self, q: Quote) -> str:
        """A top-of-book message."""

    def heartbeat_message(self, ts: int) -> str:
        """The heartbeat to send now (empty: the venue sends none)."""
        return self.heartbeat

    def rest_snapshot(self, symbol: str, bids: list[Level], asks: list[Level], seq: int) -> bytes:
        raise NotImplementedError(f"{self.name} has no REST snapshot endpoint")

    def rest_symbol(self, query: dict[str, str]) -> str:
        """The normalized symbol a REST snapshot request asks for."""
        raise NotImplementedError(f"{self.name} has no REST snapshot endpoint")
