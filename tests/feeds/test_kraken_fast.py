"""Kraken's byte-level fast path (``kraken._fast``, the compiled build's parse) gives exactly
the checked msgspec path's events, or declines (None) and leaves the message to it; it never
raises, so malformed input still becomes the checked path's counted ``FeedError``.
Interpreted, ``_fast`` runs the same readers as plain Python, so this holds in both builds."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.feeds.fastpath import agrees, assert_counted_as_malformed, mutated, outcome

from cambist.feeds.scaled import Scale
from cambist.feeds.venues import kraken

SYMBOLS = ["BTC-USD", "ETH-USD", "MATIC-USD"]
SCALES = {"ETH-USD": Scale(2, 8), "MATIC-USD": Scale(4, 7)}


def _session() -> kraken.Session:
    return kraken.Session(SYMBOLS, SCALES)


def _outcome(s: kraken.Session, raw: bytes) -> object:
    return outcome(lambda r: s.parse_checked(r, 7), raw)


def _check(raw: bytes) -> bool:
    """The fast path's events equal the checked path's; True when it took the message."""
    s = _session()
    return agrees(lambda r: kraken._fast(s, r, 7), lambda r: s.parse_checked(r, 7), raw)


_digits = st.text("0123456789", min_size=1, max_size=10)
_good_number = st.one_of(
    st.integers(0, 10**9).map(str),
    # at most 2 decimals: every scale here holds them (more are taken only up to the scale)
    st.builds(lambda a, b: f"{int(a)}.{b}", _digits, st.text("0123456789", min_size=1, max_size=2)),
)
_stamp = st.builds(
    lambda d, f: d.strftime("%Y-%m-%dT%H:%M:%S") + f".{f:06d}Z",
    st.datetimes(datetime(1970, 1, 1), datetime(2199, 12, 31)),
    st.integers(0, 999_999),
)
_good_symbol = st.sampled_from(["BTC/USD", "ETH/USD", "MATIC/USD"])
_number = st.one_of(
    _good_number,
    st.text("0123456789.eE+-", min_size=1, max_size=22),
    st.text("0123456789", min_size=17, max_size=24),
    st.sampled_from(["0", "1.0", "00012.50", "5.", ".5", "1E+2", "-1", '"1.5"', "null"]),
)
_int = st.one_of(
    st.integers(0, 10**19).map(str), st.sampled_from(["01", "-1", "1.0", "1e3", '"1"'])
)
_symbol = st.one_of(_good_symbol, st.sampled_from(["XRP/USD", "", "BTC\\/USD", "\u00e9"]))
_side = st.sampled_from(["buy", "sell", "Buy", "", "sel"])
_ts = st.one_of(_stamp, st.sampled_from(["", "2023-09-25T07:49:37Z", "2023-13-01T00:00:00.1Z"]))


def _values(good: bool) -> tuple[st.SearchStrategy[str], ...]:
    if good:
        return _good_number, st.integers(0, 2**32 - 1).map(str), _good_symbol, _stamp
    return _number, _int, _symbol, _ts


@st.composite
def _trades(draw: st.DrawFn, good: bool = False) -> bytes:
    number, int_, symbol, ts = _values(good)
    side = st.sampled_from(["buy", "sell"]) if good else _side
    items = [
        f'{{"symbol":"{draw(symbol)}","side":"{draw(side)}","price":{draw(number)},'
        f'"qty":{draw(number)}'
        + draw(st.sampled_from([',"ord_type":"market"', ',"ord_type":"limit"', ""]))
        + f',"trade_id":{draw(int_)},"timestamp":"{draw(ts)}"}}'
        for _ in range(draw(st.integers(1, 3)))
    ]
    kind = draw(st.sampled_from(["update", "snapshot"] + ([] if good else ["other"])))
    return f'{{"channel":"trade","type":"{kind}","data":[{",".join(items)}]}}'.encode()


@st.composite
def _book(draw: st.DrawFn, good: bool = False) -> bytes:
    number, int_, symbol, ts = _values(good)
    side = st.lists(st.tuples(number, number), max_size=4).map(
        lambda ls: "[" + ",".join(f'{{"price":{p},"qty":{q}}}' for p, q in ls) + "]"
    )
    items = [
        f'{{"symbol":"{draw(symbol)}","bids":{draw(side)},"asks":{draw(side)},'
        f'"checksum":{draw(int_)},"timestamp":"{draw(ts)}"}}'
        for _ in range(draw(st.integers(1, 2)))
    ]
    kind = draw(st.sampled_from(["update", "snapshot"]))
    return f'{{"channel":"book","type":"{kind}","data":[{",".join(items)}]}}'.encode()


@st.composite
def _ticker(draw: st.DrawFn, good: bool = False) -> bytes:
    number, _, symbol, ts = _values(good)
    item = (
        f'{{"symbol":"{draw(symbol)}","bid":{draw(number)},"bid_qty":{draw(number)},'
        f'"ask":{draw(number)},"ask_qty":{draw(number)},"timestamp":"{draw(ts)}"}}'
    )
    return f'{{"channel":"ticker","type":"update","data":[{item}]}}'.encode()


_mutated = mutated(st.one_of(_trades(good=True), _book(good=True), _ticker(good=True)))


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        _trades(good=True), _book(good=True), _ticker(good=True), _trades(), _book(), _ticker()
    )
)
def test_fast_path_same_events_as_checked_path(raw: bytes) -> None:
    _check(raw)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated)
def test_fast_path_on_broken_messages_declines_or_agrees(raw: bytes) -> None:
    _check(raw)


@given(st.binary(max_size=300))
def test_fast_path_never_raises_on_any_bytes(raw: bytes) -> None:
    _check(b'{"channel":"book","type":"update","data":[' + raw)
    _check(raw)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_trades(good=True), _book(good=True), _ticker(good=True)))
def test_fast_path_takes_well_formed_messages(raw: bytes) -> None:
    """Generated in the venue's layout with values every scale holds: always taken."""
    assert _check(raw)


def test_fast_path_takes_the_samples_and_the_emulator_layouts() -> None:
    from tests.feeds.conftest import sample_lines

    s = kraken.Session(["MATIC-USD"], {"MATIC-USD": Scale(4, 8)})
    for raw in sample_lines("kraken"):
        fast = kraken._fast(s, raw, 7)
        assert fast is not None and fast == s.parse_checked(raw, 7)
    ticker = (
        b'{"channel":"ticker","type":"update","data":[{"symbol":"ETH/USD","bid":20099.99,'
        b'"bid_qty":43.86246383,"ask":20100.01,"ask_qty":24.63302715,'
        b'"timestamp":"2026-11-23T06:22:08.330583Z"}]}'
    )
    assert _check(ticker)
    # declined: decimals the scale cannot hold (ETH-USD prices: 2), so the checked path refuses
    refused = ticker.replace(b"20099.99", b"20099.991")
    assert not _check(refused) and str(_outcome(_session(), refused)).startswith("FeedError")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"sell",'
        b'"price":1.5x,"qty":2,"trade_id":1,"timestamp":"2023-09-25T07:49:37.708706Z"}]}',
        b'{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"sideways",'
        b'"price":1.5,"qty":2,"trade_id":1,"timestamp":"2023-09-25T07:49:37.708706Z"}]}',
        b'{"channel":"ticker","type":"update","data":[{"symbol":"XRP/USD","bid":1,"bid_qty":1,'
        b'"ask":1,"ask_qty":1,"timestamp":"2023-09-25T07:49:37.708706Z"}]}',
        b'{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"sell",'
        b'"price":-1.5,"qty":2,"trade_id":1,"timestamp":"2023-09-25T07:49:37.708706Z"}]}',
    ],
)
def test_malformed_messages_are_counted_with_the_fast_path_on(
    raw: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert_counted_as_malformed(kraken, "BTC-USD", raw, monkeypatch)
