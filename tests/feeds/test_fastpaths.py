"""The gate's shortcuts give the same results as the plain code they replace."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from cambist.feeds.book import L2Book
from cambist.feeds.gate import Core, Counters
from cambist.feeds.merge import Merger
from cambist.feeds.types import Level, Record, Trade
from cambist.feeds.venues import VENUES, kraken


def test_cached_kraken_checksum_equals_full_recomputation() -> None:
    rng = random.Random(5)
    fast, plain = kraken.CrcBook(kraken.DEPTH), L2Book(kraken.DEPTH)
    texts = ["1", "1.0", "1.50", "0.00012", "12.5"]
    for _ in range(2000):
        bids: list[Level] = []
        asks: list[Level] = []
        for side, base in ((bids, 100), (asks, 120)):
            for _ in range(rng.randint(0, 3)):
                px = Decimal(f"{base + rng.randint(0, 15)}.{rng.choice(['5', '50', '0'])}")
                sz = Decimal("0") if rng.random() < 0.3 else Decimal(rng.choice(texts))
                side.append((px, sz))
        fast.apply(bids, asks)
        plain.apply(bids, asks)
        assert fast.checksum() == kraken.checksum(plain)
        assert fast.bids == plain.bids and fast.asks == plain.asks


def test_memoized_copy_on_second_connection_is_deduplicated() -> None:
    out: list[Record] = []
    merger = Merger(out.append)
    cores = [Core(VENUES["binance"], ["BTC-USDT"], i, merger, Counters()) for i in range(2)]
    raw = (
        b'{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1,"s":"BTCUSDT","a":7,'
        b'"p":"1.50","q":"2","f":7,"l":7,"T":1,"m":true,"M":true}}'
    )
    for core in cores:
        assert core.handle(raw, 3) == []
    assert out == [
        Trade("binance", "BTC-USDT", "sell", Decimal("1.50"), Decimal("2"), "7", 1_000_000, 3)
    ]
    assert merger.duplicates == 1
    assert [c.stats.messages for c in cores] == [1, 1]


def test_cached_decimals_are_exact_and_reject_bad_text() -> None:
    from cambist.feeds.decimals import levels
    from cambist.feeds.types import FeedError

    out = levels([("0.35280000", "0"), ("0.3528", "1E+2")])
    assert out == [(Decimal("0.3528"), Decimal(0)), (Decimal("0.3528"), Decimal(100))]
    assert [str(p) for p, _ in out] == ["0.35280000", "0.3528"]  # exact text kept
    for bad in ("abc", "NaN", "Infinity", ""):
        with pytest.raises(FeedError):
            levels([(bad, "1")])
