"""Scaled-integer prices across the gate's edges: configuration, the log, the API view."""

from __future__ import annotations

from decimal import Decimal

import pytest
import typer

from cambist.feeds.book import Verdict
from cambist.feeds.cli import _scales
from cambist.feeds.consolidated import ConsolidatedBook
from cambist.feeds.gate import Gate, GateConfig
from cambist.feeds.merge import Merger
from cambist.feeds.scaled import Scale
from cambist.feeds.sink import MemorySink, decode_batch, encode_batch
from cambist.feeds.types import BookUpdate, Instrument
from cambist.feeds.venues import VENUES


def test_scale_options_parse_and_refuse_nonsense() -> None:
    assert _scales(["kraken:BTC-USD=1:8"]) == {"kraken": {"BTC-USD": Scale(1, 8)}}
    for bad in ("kraken:BTC-USD=1", "nowhere:BTC-USD=1:8", "kraken=1:8", "kraken:X=a:8"):
        with pytest.raises(typer.BadParameter):
            _scales([bad])


def test_log_states_each_instruments_scales_before_any_price() -> None:
    cfg = GateConfig(scales={"BTC-USD": Scale(1, 8)})
    gate = Gate(VENUES["kraken"], ["BTC-USD", "ETH-USD"], MemorySink(), cfg)
    got = gate.instruments()
    assert got == [
        Instrument("kraken", "BTC-USD", 1, 8),
        Instrument("kraken", "ETH-USD", 8, 8),
    ]
    assert decode_batch(encode_batch(got)) == got


def test_consolidated_book_compares_venues_with_different_scales_exactly() -> None:
    books = []
    for venue, scale, bid, ask in (
        ("a", Scale(2, 8), 10_001, 10_003),
        ("b", Scale(4, 8), 1_000_150, 1_000_400),
    ):
        m = Merger(lambda r: None)
        session = VENUES["okx"].Session(["BTC-USDT"])
        synced = session.new_book("BTC-USDT")
        m.register(0, venue, "BTC-USDT", synced, True, scale)
        u = BookUpdate(venue, "BTC-USDT", True, [(bid, 5)], [(ask, 7)], 1, -1, 0, 1)
        synced.on_update(u)
        m.book(0, u, synced, Verdict.SNAPSHOT)
        books.append(m)
    view = ConsolidatedBook(books).get("BTC-USDT", now_ns=2)
    assert (view.best_bid, view.best_bid_venue) == (Decimal("100.015"), "b")
    assert (view.best_ask, view.best_ask_venue) == (Decimal("100.03"), "a")
    assert view.venues[0].bid_size == Decimal("0.00000005")
