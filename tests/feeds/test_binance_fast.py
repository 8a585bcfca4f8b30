"""Binance's byte-level fast path (``binance._fast``, the compiled build's parse) gives exactly
the checked msgspec path's events, or declines (None) and leaves the message to it; it never
raises, so malformed input still becomes the checked path's counted ``FeedError``."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.feeds.fastpath import agrees, assert_counted_as_malformed, mutated, outcome

from cambist.feeds.scaled import Scale
from cambist.feeds.types import Event
from cambist.feeds.venues import binance

SYMBOLS = ["BTC-USDT", "ETH-USDT", "NKN-USDT"]
SCALES = {"ETH-USDT": Scale(2, 5), "NKN-USDT": Scale(8, 10)}


def _session() -> binance.Session:
    return binance.Session(SYMBOLS, SCALES)


def _outcome(s: binance.Session, raw: bytes) -> object:
    return outcome(lambda r: s.parse_checked(r, 7), raw)


def _listed(ev: Event | None) -> list[Event] | None:
    return None if ev is None else [ev]


def _check(raw: bytes) -> bool:
    """The fast path's events equal the checked path's; True when it took the message."""
    s = _session()
    return agrees(lambda r: _listed(binance._fast(s, r, 7)), lambda r: s.parse_checked(r, 7), raw)


_digits = st.text("0123456789", min_size=1, max_size=12)
_good_number = st.one_of(
    _digits,
    st.builds(lambda a, b: f"{a}.{b}", _digits, st.text("0123456789", max_size=11)),
)
_good_int = st.integers(0, 10**13).map(str)
_good_symbol = st.sampled_from(["BTCUSDT", "ETHUSDT", "NKNUSDT"])
_good_bool = st.sampled_from(["true", "false"])
_number = st.one_of(
    _good_number,
    st.text("0123456789.eE+-", max_size=22),
    st.text("0123456789", min_size=17, max_size=24),
    st.sampled_from(["0", "1.0", "00012.50", "5.", ".5", "", "1E+2", "\\u0031", "\u0661"]),
)
_int = st.one_of(
    st.integers(0, 10**19).map(str),
    st.sampled_from(
        ["0", "01", "-1", "1.0", "1e3", "99999999999999999999", '"1"', "9000000000000"]
    ),
)
_symbol = st.one_of(_good_symbol, st.sampled_from(["XRPUSDT", "", "BTC\\u0055SDT", "\u00e9"]))
_bool = st.sampled_from(["true", "false", "null", "1", "tru"])


def _values(good: bool) -> tuple[st.SearchStrategy[str], ...]:
    if good:
        return _good_number, _good_int, _good_symbol, _good_bool
    return _number, _int, _symbol, _bool


@st.composite
def _trade(draw: st.DrawFn, good: bool = False) -> bytes:
    number, int_, symbol, bool_ = _values(good)
    sym = draw(symbol)
    data = (
        f'{{"e":"aggTrade","E":{draw(int_)},"s":"{sym}","a":{draw(int_)},'
        f'"p":"{draw(number)}","q":"{draw(number)}","f":{draw(int_)},"l":{draw(int_)},'
        f'"T":{draw(int_)},"m":{draw(bool_)},"M":{draw(bool_)}}}'
    )
    streams = [f"{sym.lower()}@aggTrade"] if good else [f"{sym.lower()}@aggTrade", "@aggTrade"]
    return f'{{"stream":"{draw(st.sampled_from(streams))}","data":{data}}}'.encode()


@st.composite
def _depth(draw: st.DrawFn, good: bool = False) -> bytes:
    number, int_, symbol, _ = _values(good)
    sym = draw(symbol)
    side = st.lists(st.tuples(number, number), max_size=4).map(
        lambda ls: "[" + ",".join(f'["{p}","{q}"]' for p, q in ls) + "]"
    )
    data = (
        f'{{"e":"depthUpdate","E":{draw(int_)},"s":"{sym}","U":{draw(int_)},'
        f'"u":{draw(int_)},"b":{draw(side)},"a":{draw(side)}}}'
    )
    kinds = ["depth@100ms", "depth"] + ([] if good else ["depth@1000ms", "depth20@100ms"])
    return f'{{"stream":"{sym.lower()}@{draw(st.sampled_from(kinds))}","data":{data}}}'.encode()


@st.composite
def _ticker(draw: st.DrawFn, good: bool = False) -> bytes:
    number, int_, symbol, _ = _values(good)
    sym = draw(symbol)
    data = (
        f'{{"u":{draw(int_)},"s":"{sym}","b":"{draw(number)}","B":"{draw(number)}",'
        f'"a":"{draw(number)}","A":"{draw(number)}"}}'
    )
    kinds = ["bookTicker"] + ([] if good else ["bookticker", "bookTickers"])
    return f'{{"stream":"{sym.lower()}@{draw(st.sampled_from(kinds))}","data":{data}}}'.encode()


_mutated = mutated(st.one_of(_trade(good=True), _depth(good=True), _ticker(good=True)))


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        _trade(good=True), _depth(good=True), _ticker(good=True), _trade(), _depth(), _ticker()
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
    _check(b'{"stream":"' + raw)
    _check(raw)


def test_fast_path_declines_control_bytes_in_the_stream_name() -> None:
    """Found by the random-bytes test: the stream name is checked like any JSON string."""
    ticker = (
        b'{"stream":"\x00@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"1","B":"1","a":"1","A":"1"}}'
    )
    assert binance._fast(_session(), ticker, 7) is None
    assert str(_outcome(_session(), ticker)).startswith("FeedError")


def test_fast_path_takes_the_usual_layouts() -> None:
    """What the venue (and the emulator) send is taken, so the compiled build gains."""
    from tests.feeds.conftest import sample_lines

    taken = [raw for raw in sample_lines("binance") if _check(raw)]
    assert len(taken) == 3  # the combined aggTrade, depth and bookTicker samples (not raw)
    trade = (
        b'{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1795409402596,'
        b'"s":"BTCUSDT","a":0,"p":"19999.99000000","q":"20.02530365","f":1,"l":1,'
        b'"T":1795409402596,"m":true,"M":true}}'
    )
    depth = (
        b'{"stream":"ethusdt@depth@100ms","data":{"e":"depthUpdate","E":1795409402596,'
        b'"s":"ETHUSDT","U":1001,"u":1001,"b":[["20099.99","13.52383"],["1.5","0"]],'
        b'"a":[]}}'
    )
    assert _check(trade) and _check(depth)
    # declined: decimals the scale cannot hold (ETH-USDT: 2), so the checked path refuses
    refused = depth.replace(b"20099.99", b"20099.991")
    assert not _check(refused) and str(_outcome(_session(), refused)).startswith("FeedError")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1,"s":"BTCUSDT","a":1,'
        b'"p":"1.5x","q":"2","f":1,"l":1,"T":1,"m":true,"M":true}}',
        b'{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1,"s":"BTCUSDT","a":1,'
        b'"p":"1.5","q":"2","f":1,"l":1,"T":1,"m":true,"M":true}',
        b'{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT",'
        b'"U":1,"u":2,"b":[["1","2","3"]],"a":[]}}',
        b'{"stream":"xrpusdt@aggTrade","data":{"e":"aggTrade","E":1,"s":"XRPUSDT","a":1,'
        b'"p":"1.5","q":"2","f":1,"l":1,"T":1,"m":true,"M":true}}',
    ],
)
def test_malformed_messages_are_counted_with_the_fast_path_on(
    raw: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert_counted_as_malformed(binance, "BTC-USDT", raw, monkeypatch)
