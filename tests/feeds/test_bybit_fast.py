"""Bybit's byte-level fast path (``bybit._fast``, the compiled build's parse) gives exactly the
checked msgspec path's events, or declines (None) and leaves the message to it; it never
raises, so malformed input still becomes the checked path's counted ``FeedError``.
Interpreted, ``_fast`` runs the same readers as plain Python, so this holds in both builds."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.feeds.fastpath import agrees, assert_counted_as_malformed, mutated, outcome

from cambist.feeds.scaled import Scale
from cambist.feeds.venues import bybit

SYMBOLS = ["BTC-USDT", "ETH-USDT", "NKN-USDT"]
SCALES = {"ETH-USDT": Scale(2, 5), "NKN-USDT": Scale(8, 10)}


def _session() -> bybit.Session:
    return bybit.Session(SYMBOLS, SCALES)


def _outcome(s: bybit.Session, raw: bytes) -> object:
    return outcome(lambda r: s.parse_checked(r, 7), raw)


def _check(raw: bytes) -> bool:
    """The fast path's events equal the checked path's; True when it took the message."""
    s = _session()
    return agrees(lambda r: bybit._fast(s, r, 7), lambda r: s.parse_checked(r, 7), raw)


_digits = st.text("0123456789", min_size=1, max_size=8)
_good_number = st.one_of(  # at most 8 digits before the point: 18 in units of 10**-10
    st.integers(0, 10**8 - 1).map(str),
    # at most 2 decimals: every scale here holds them (more are taken only up to the scale)
    st.builds(lambda a, b: f"{int(a)}.{b}", _digits, st.text("0123456789", min_size=1, max_size=2)),
)
_good_ms = st.integers(0, 8_999_999_999_999).map(str)
_good_seq = st.one_of(st.integers(1, 10**18 - 1).map(str), st.just("1"))
_good_symbol = st.sampled_from(["BTCUSDT", "ETHUSDT", "NKNUSDT"])
_number = st.one_of(
    _good_number,
    st.text("0123456789.eE+-", max_size=22),
    st.text("0123456789", min_size=17, max_size=24),
    st.sampled_from(["0", "1.0", "00012.50", "5.", ".5", "", "1E+2", "\\u0031", "\u0661"]),
)
_int = st.one_of(
    _good_seq,
    st.integers(-(10**20), 10**20).map(str),
    st.sampled_from(["0", "-0", "01", "1.0", "1e3", '"1"', "null", "9000000000000", "-"]),
)
_symbol = st.one_of(_good_symbol, st.sampled_from(["XRPUSDT", "", "BTC\\u0055SDT", "\u00e9"]))
_side = st.sampled_from(["Buy", "Sell", "buy", "", "Sel"])
_extra = st.sampled_from(
    [
        ',"RPI":false',
        ',"seq":1783284617',
        ',"x":-5',
        ',"x":-0',
        ',"x":""',
        ',"x":null',
        ',"x":1.5',
        ',"x":"a\\"b"',
        ',"p":"7"',
        ',"S":"Buy"',
        ',"\\u0070":"7"',
        ',"L":"MinusTick"',
    ]
)


def _values(good: bool) -> tuple[st.SearchStrategy[str], ...]:
    if good:
        return _good_number, _good_ms, _good_seq, _good_symbol
    return _number, _int, _int, _symbol


@st.composite
def _trades(draw: st.DrawFn, good: bool = False) -> bytes:
    number, ms, _, symbol = _values(good)
    side = st.sampled_from(["Buy", "Sell"]) if good else _side
    tails = [',"BT":false', ',"BT":true,"RPI":false,"seq":12', "", ',"BT":false,"seq":9']
    items = []
    for _ in range(draw(st.integers(1, 3))):
        tick = draw(st.sampled_from([',"L":"PlusTick"', ',"L":"ZeroMinusTick"', ""]))
        rest = draw(st.sampled_from(tails))
        if not good:
            rest += "".join(draw(st.lists(_extra, max_size=2)))
        tid = draw(st.sampled_from(["4", "20f43950-d8dd-5b31-9112-a178eb6023af", "2290000000061"]))
        items.append(
            f'{{"T":{draw(ms)},"s":"{draw(symbol)}","S":"{draw(side)}","v":"{draw(number)}",'
            f'"p":"{draw(number)}"{tick},"i":"{tid}"{rest}}}'
        )
    sym = draw(symbol)
    kind = draw(st.sampled_from(["snapshot"] + ([] if good else ["delta", ""])))
    return (
        f'{{"topic":"publicTrade.{sym}","type":"{kind}","ts":{draw(ms)},'
        f'"data":[{",".join(items)}]}}'
    ).encode()


def _side_levels(number: st.SearchStrategy[str], min_size: int = 0) -> st.SearchStrategy[str]:
    return st.lists(st.tuples(number, number), min_size=min_size, max_size=4).map(
        lambda ls: "[" + ",".join(f'["{p}","{q}"]' for p, q in ls) + "]"
    )


@st.composite
def _book(draw: st.DrawFn, good: bool = False, depth: str = "50") -> bytes:
    number, ms, seq, symbol = _values(good)
    side = _side_levels(number, min_size=1 if good and depth == "1" else 0)
    if not good:
        side = st.one_of(side, st.sampled_from(['[["1","2","0"]]', '[["1"]]', "[[]]"]))
    sym = draw(symbol)
    kinds = ["snapshot", "delta"] + ([] if good else ["update", ""])
    seq_key = draw(st.sampled_from([f',"seq":{draw(seq)}', ""]))
    data = f'{{"s":"{sym}","b":{draw(side)},"a":{draw(side)},"u":{draw(seq)}{seq_key}}}'
    cts = draw(st.sampled_from(["", f',"cts":{draw(ms)}']))
    if not good:
        depth = draw(st.sampled_from([depth, "200", "1", "", "1x"]))
    return (
        f'{{"topic":"orderbook.{depth}.{sym}","type":"{draw(st.sampled_from(kinds))}",'
        f'"ts":{draw(ms)},"data":{data}{cts}}}'
    ).encode()


def _quote(good: bool = False) -> st.SearchStrategy[bytes]:
    return _book(good=good, depth="1")


_mutated = mutated(st.one_of(_trades(good=True), _book(good=True), _quote(good=True)))


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(_trades(good=True), _book(good=True), _quote(good=True), _trades(), _book(), _quote())
)
def test_fast_path_same_events_as_checked_path(raw: bytes) -> None:
    _check(raw)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated)
def test_fast_path_on_broken_messages_declines_or_agrees(raw: bytes) -> None:
    _check(raw)


@given(st.binary(max_size=300))
def test_fast_path_never_raises_on_any_bytes(raw: bytes) -> None:
    _check(b'{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT",' + raw)
    _check(b'{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1,"data":[' + raw)
    _check(raw)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_trades(good=True), _book(good=True), _quote(good=True)))
def test_fast_path_takes_well_formed_messages(raw: bytes) -> None:
    """Generated in the venue's layout with values every scale holds: always taken."""
    assert _check(raw)


def test_fast_path_takes_the_samples_and_the_emulator_layouts() -> None:
    from tests.feeds.conftest import sample_lines

    assert all(_check(raw) for raw in sample_lines("bybit"))
    trade = (
        b'{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1795414929180,"data":[{"T":'
        b'1795414929180,"s":"BTCUSDT","S":"Sell","v":"33.60060779","p":"19999.99000000",'
        b'"L":"PlusTick","i":"4","BT":false}]}'
    )
    book = (
        b'{"topic":"orderbook.50.ETHUSDT","type":"delta","ts":1795414929180,"data":{"s":'
        b'"ETHUSDT","b":[["20099.93","44.47628"]],"a":[["20100.04","0.00000"]],"u":1005,'
        b'"seq":7035}}'
    )
    quote = (
        b'{"topic":"orderbook.1.ETHUSDT","type":"snapshot","ts":1795414929180,"data":{"s":'
        b'"ETHUSDT","b":[["20099.99","43.86246"]],"a":[["20100.01","24.63302"]],"u":1005,'
        b'"seq":1005}}'
    )
    # real trades carry more fields after BT; real books a cts after data
    more = trade.replace(b'"BT":false', b'"BT":false,"RPI":false,"seq":1783284617')
    cts = book[:-1] + b',"cts":1795414929178}'
    for raw in (trade, book, quote, more, cts, book.replace(b'"delta"', b'"snapshot"')):
        assert _check(raw), raw
    # declined: decimals the scale cannot hold (ETH-USDT: 2), so the checked path refuses
    refused = book.replace(b"20099.93", b"20099.931")
    assert not _check(refused) and str(_outcome(_session(), refused)).startswith("FeedError")
    # declined: an orderbook.1 without bids, which the checked path refuses
    empty = quote.replace(b'[["20099.99","43.86246"]]', b"[]")
    assert not _check(empty) and str(_outcome(_session(), empty)).startswith("FeedError")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1,"data":[{"T":1,"s":"BTCUSDT",'
        b'"S":"Sell","v":"1.5x","p":"2","L":"PlusTick","i":"4","BT":false}]}',
        b'{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1,"data":[{"T":1,"s":"BTCUSDT",'
        b'"S":"Sideways","v":"1.5","p":"2","L":"PlusTick","i":"4","BT":false}]}',
        b'{"topic":"publicTrade.XRPUSDT","type":"snapshot","ts":1,"data":[{"T":1,"s":"XRPUSDT",'
        b'"S":"Sell","v":"1.5","p":"2","L":"PlusTick","i":"4","BT":false}]}',
        b'{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT",'
        b'"b":[["1","2","3"]],"a":[],"u":2,"seq":2}}',
        b'{"topic":"orderbook.50.BTCUSDT","type":"partial","ts":1,"data":{"s":"BTCUSDT",'
        b'"b":[],"a":[],"u":2,"seq":2}}',
        b'{"topic":"orderbook.1.BTCUSDT","type":"snapshot","ts":1,"data":{"s":"BTCUSDT",'
        b'"b":[],"a":[],"u":2,"seq":2}}',
    ],
)
def test_malformed_messages_are_counted_with_the_fast_path_on(
    raw: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert_counted_as_malformed(bybit, "BTC-USDT", raw, monkeypatch)
