"""The gate's shortcuts give the same results as the plain code they replace."""

from __future__ import annotations

import random
from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cambist.feeds.book import L2Book
from cambist.feeds.gate import Core, Counters
from cambist.feeds.merge import Merger
from cambist.feeds.types import Level, Record, Trade
from cambist.feeds.venues import VENUES, kraken


def test_cached_kraken_checksum_equals_full_recomputation() -> None:
    rng = random.Random(5)
    fast, plain = kraken.CrcBook(kraken.DEPTH), L2Book(kraken.DEPTH)
    sizes = [100_000_000, 150_000_000, 12_000, 1_250_000_000]
    for _ in range(2000):
        bids: list[Level] = []
        asks: list[Level] = []
        for side, base in ((bids, 100), (asks, 120)):
            for _ in range(rng.randint(0, 3)):
                px = (base + rng.randint(0, 15)) * 100_000_000 + rng.choice([0, 50_000_000])
                sz = 0 if rng.random() < 0.3 else rng.choice(sizes)
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
        Trade("binance", "BTC-USDT", "sell", 150_000_000, 200_000_000, "7", 1_000_000, 3)
    ]
    assert merger.duplicates == 1
    assert [c.stats.messages for c in cores] == [1, 1]


def test_scaled_values_are_exact_and_reject_bad_text() -> None:
    from cambist.feeds.scaled import DEFAULT_SCALE, Units, levels, parse, text
    from cambist.feeds.types import FeedError

    u = Units(DEFAULT_SCALE)
    out = levels([("0.35280000", "0"), ("0.3528", "1E+2"), ("7", "0.000000010")], u)
    assert out == [(35_280_000, 0), (35_280_000, 10_000_000_000), (700_000_000, 1)]
    assert parse("12.5", 1) == 125 and parse("12.50", 1) == 125 and parse(".5", 2) == 50
    assert text(35_280_000, 8) == "0.35280000" and text(7, 0) == "7"
    bad = ("abc", "NaN", "Infinity", "", "-1", "1_000", " 1", "1.2.3", "\uff11", "0.000000001")
    for b in bad:  # the last has more decimals than the scale holds: never rounded
        with pytest.raises(FeedError):
            levels([(b, "1")], u)


@given(st.integers(0, 10**20), st.integers(0, 12), st.integers(0, 12), st.integers(0, 3))
def test_scaled_parse_equals_decimal_reckoning(v: int, scale: int, shown: int, pad: int) -> None:
    """Any text a venue may send for a value (any number of decimals, trailing zeros) parses
    to the value Decimal arithmetic gives, or is refused when the scale cannot hold it."""
    from cambist.feeds.scaled import parse
    from cambist.feeds.types import FeedError

    txt = f"{Decimal(v).scaleb(-shown):f}" + ("0" * pad if shown else "")
    want = Decimal(txt).scaleb(scale)
    if want == want.to_integral_value():
        assert parse(txt, scale) == int(want)
    else:
        with pytest.raises(FeedError):
            parse(txt, scale)


@given(
    st.one_of(
        st.text("0123456789.", max_size=24),
        st.text("0123456789.eE+-_ \uff11", max_size=12),
        st.builds(
            lambda v, shown, pad: f"{Decimal(v).scaleb(-shown):f}" + "0" * pad,
            st.integers(0, 10**20),
            st.integers(0, 12),
            st.integers(0, 3),
        ),
    ),
    st.integers(0, 12),
)
def test_scaled_digits_loop_same_as_parse(txt: str, scale: int) -> None:
    """The compiled build reads cache misses with ``digits``: the same value as ``parse`` for
    every text, or the same refusal."""
    from cambist.feeds.scaled import digits, parse
    from cambist.feeds.types import FeedError

    try:
        want: int | str = parse(txt, scale)
    except FeedError as e:
        want = f"FeedError: {e}"
    try:
        got: int | str = digits(txt, scale)
    except FeedError as e:
        got = f"FeedError: {e}"
    assert got == want


@given(st.binary(max_size=40), st.sampled_from([b"", b"@", b'"', b"@aggTrade", b'@x"']))
def test_binance_stream_kind_loop_same_as_find(tail: bytes, mid: bytes) -> None:
    """Compiled, the stream kind is read by a byte loop: the same bytes as the ``find``
    reading for any message with the combined-stream prefix (including broken ones)."""
    from cambist.feeds.venues.binance import _COMBINED, _kind, _kind_found

    raw = _COMBINED + mid + tail
    assert _kind(raw) == _kind_found(raw)
    assert _kind(b'{"e":"trade"}') is None


@given(st.integers(-(10**20), 10**20))
def test_ms_ns_exact_for_any_integer(ms: int) -> None:
    from cambist.feeds.timefmt import ms_ns

    assert ms_ns(ms) == ms * 1_000_000


def test_one_connection_parses_without_the_memo() -> None:
    """The memo only pays when a second copy of each message comes: with one connection the
    parse is not stored."""
    out: list[Record] = []
    merger = Merger(out.append)
    core = Core(VENUES["okx"], ["BTC-USDT"], 0, merger, Counters())
    raw = (
        b'{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT",'
        b'"tradeId":"4","px":"1.5","sz":"2","side":"sell","ts":"1","seqId":-1}]}'
    )
    assert core.handle(raw, 3) == []
    assert len(out) == 1 and not merger.memo.held()
    Core(VENUES["okx"], ["BTC-USDT"], 1, merger, Counters()).handle(raw, 3)
    assert len(out) == 1 and merger.duplicates == 1 and merger.memo.held() == [raw]


def _rfc3339_reference(text: str) -> int:
    """The plain reading ``timefmt.rfc3339_ns`` replaced (str slices, ``int``)."""
    from datetime import UTC, datetime

    from cambist.feeds.types import FeedError

    if not text.endswith("Z") or len(text) < 20:
        raise FeedError(f"bad timestamp {text!r}: expected UTC 'Z' form")
    prefix = text[:19]
    frac = text[20:-1] if len(text) > 20 else ""
    if frac and (not frac.isdigit() or len(frac) > 9 or text[19] != "."):
        raise FeedError(f"bad timestamp fraction in {text!r}")
    try:
        dt = datetime.strptime(prefix, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        raise FeedError(f"bad timestamp {prefix!r}") from None
    return int(dt.timestamp()) * 10**9 + (int(frac.ljust(9, "0")) if frac else 0)


@given(
    st.one_of(
        st.builds(
            lambda s, sep, frac, z: f"2026-11-23T02:37:{s:02d}{sep}{frac}{z}",
            st.integers(0, 61),
            st.sampled_from([".", ",", ""]),
            st.text("0123456789a\u0661 ", max_size=11),
            st.sampled_from(["Z", "z", ""]),
        ),
        st.text("0123456789-T:.Z", max_size=32),
    )
)
def test_rfc3339_same_as_plain_reading(text: str) -> None:
    from cambist.feeds.timefmt import rfc3339_ns
    from cambist.feeds.types import FeedError

    def outcome(f: Callable[[str], int]) -> int | str:
        try:
            return f(text)
        except (FeedError, ValueError) as e:
            return f"{type(e).__name__}: {e}"

    assert outcome(rfc3339_ns) == outcome(_rfc3339_reference)


@pytest.mark.parametrize(
    "text",
    ["1e999999999", "1E+999999999999999999", "9" * 41, "0." + "0" * 30 + "1e99", "1e-999999999"],
)
def test_scaled_parse_absurd_magnitudes_are_feed_errors(text: str) -> None:
    """Hostile exponents or digit runs are refused quickly (no giant int, no decimal.Overflow)."""
    from cambist.feeds.scaled import digits, parse
    from cambist.feeds.types import FeedError

    with pytest.raises(FeedError):
        parse(text, 8)
    with pytest.raises(FeedError):
        digits(text, 8)
