"""OKX's byte-level fast path (``okx._fast``, the compiled build's parse) gives exactly the
checked msgspec path's events, or declines (None) and leaves the message to it; it never
raises, so malformed input still becomes the checked path's counted ``FeedError``.
Interpreted, ``_fast`` runs the same readers as plain Python, so this holds in both builds."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.feeds.fastpath import agrees, assert_counted_as_malformed, mutated, outcome

from cambist.feeds.scaled import Scale
from cambist.feeds.venues import okx

SYMBOLS = ["BTC-USDT", "ETH-USDT", "NKN-USDT"]
SCALES = {"ETH-USDT": Scale(2, 5), "NKN-USDT": Scale(8, 10)}


def _session() -> okx.Session:
    return okx.Session(SYMBOLS, SCALES)


def _outcome(s: okx.Session, raw: bytes) -> object:
    return outcome(lambda r: s.parse_checked(r, 7), raw)


def _check(raw: bytes) -> bool:
    """The fast path's events equal the checked path's; True when it took the message."""
    s = _session()
    return agrees(lambda r: okx._fast(s, r, 7), lambda r: s.parse_checked(r, 7), raw)


_digits = st.text("0123456789", min_size=1, max_size=8)
_good_number = st.one_of(  # at most 8 digits before the point: 18 in units of 10**-10
    st.integers(0, 10**8 - 1).map(str),
    # at most 2 decimals: every scale here holds them (more are taken only up to the scale)
    st.builds(lambda a, b: f"{int(a)}.{b}", _digits, st.text("0123456789", min_size=1, max_size=2)),
)
_good_ms = st.integers(0, 8_999_999_999_999).map(str)
_good_seq = st.integers(-1, 10**18 - 1).map(str)
_good_symbol = st.sampled_from(SYMBOLS)
_number = st.one_of(
    _good_number,
    st.text("0123456789.eE+-", max_size=22),
    st.text("0123456789", min_size=17, max_size=24),
    st.sampled_from(["0", "1.0", "00012.50", "5.", ".5", "", "1E+2", "\\u0031", "\u0661"]),
)
_ms = st.one_of(
    _good_ms,
    st.integers(0, 10**20).map(str),
    st.sampled_from(["", "01", "-1", "1.5", "9000000000000", "\u0661", "1 "]),
)
_seq = st.one_of(
    _good_seq,
    st.integers(-(10**20), 10**20).map(str),
    st.sampled_from(["-0", "01", "-01", "1.0", "1e3", '"1"', "null", "-", "true"]),
)
_symbol = st.one_of(_good_symbol, st.sampled_from(["XRP-USDT", "", "BTC\\u002dUSDT", "\u00e9"]))
_side = st.sampled_from(["buy", "sell", "Buy", "", "sel"])
_extra = st.sampled_from(
    [
        ',"count":"3"',
        ',"source":"0"',
        ',"count":""',
        ',"x":true',
        ',"x":-5',
        ',"x":null',
        ',"x":1.5',
        ',"x":"a\\"b"',
        ',"px":"7"',
        ',"side":"buy"',
        ',"p\\u0078":"7"',
        ',"seqId":9',
    ]
)


def _values(good: bool) -> tuple[st.SearchStrategy[str], ...]:
    if good:
        return _good_number, _good_ms, _good_seq, _good_symbol
    return _number, _ms, _seq, _symbol


@st.composite
def _trades(draw: st.DrawFn, good: bool = False) -> bytes:
    number, ms, seq, symbol = _values(good)
    side = st.sampled_from(["buy", "sell"]) if good else _side
    tail = st.sampled_from(
        [
            ',"count":"1","source":"0","seqId":{seq}',
            ',"count":"3","source":"0","seqId":{seq}',
            ',"count":"3"',
            "",
            ',"seqId":{seq},"count":"1"',
        ]
    )
    items = []
    for _ in range(draw(st.integers(1, 3))):
        rest = draw(tail).format(seq=draw(seq))
        if not good:
            rest += "".join(draw(st.lists(_extra, max_size=2)))
        items.append(
            f'{{"instId":"{draw(symbol)}","tradeId":"{draw(st.integers(0, 10**12))}",'
            f'"px":"{draw(number)}","sz":"{draw(number)}","side":"{draw(side)}",'
            f'"ts":"{draw(ms)}"{rest}}}'
        )
    return (
        f'{{"arg":{{"channel":"trades","instId":"{draw(symbol)}"}},"data":[{",".join(items)}]}}'
    ).encode()


def _side_levels(number: st.SearchStrategy[str], min_size: int = 0) -> st.SearchStrategy[str]:
    level = st.tuples(number, number, st.sampled_from(["0", "", "13"]), st.sampled_from(["1"]))
    return st.lists(level, min_size=min_size, max_size=4).map(
        lambda ls: "[" + ",".join(f'["{p}","{q}","{a}","{b}"]' for p, q, a, b in ls) + "]"
    )


@st.composite
def _book(draw: st.DrawFn, good: bool = False) -> bytes:
    number, ms, seq, symbol = _values(good)
    side = _side_levels(number)
    if not good:
        side = st.one_of(side, st.sampled_from(['[["1","2"]]', '[["1","2","0","1","x"]]', "[]"]))
    items = []
    for _ in range(draw(st.integers(1, 2))):
        prev = draw(seq)
        tail = draw(
            st.sampled_from(
                [
                    f',"checksum":{draw(seq)},"prevSeqId":{prev},"seqId":{draw(seq)}',
                    f',"prevSeqId":{prev},"seqId":{draw(seq)}',
                    f',"seqId":{draw(seq)}',
                    f',"checksum":0,"prevSeqId":{prev},"seqId":{prev}',
                ]
            )
        )
        items.append(f'{{"asks":{draw(side)},"bids":{draw(side)},"ts":"{draw(ms)}"{tail}}}')
    actions = ["snapshot", "update"] + ([] if good else ["partial", ""])
    action = draw(st.sampled_from([f',"action":"{a}"' for a in actions] + [""]))
    return (
        f'{{"arg":{{"channel":"books","instId":"{draw(symbol)}"}}{action},'
        f'"data":[{",".join(items)}]}}'
    ).encode()


@st.composite
def _bbo(draw: st.DrawFn, good: bool = False) -> bytes:
    number, ms, seq, symbol = _values(good)
    side = _side_levels(number, min_size=1 if good else 0)
    item = f'{{"asks":{draw(side)},"bids":{draw(side)},"ts":"{draw(ms)}","seqId":{draw(seq)}}}'
    channel = draw(st.sampled_from(["bbo-tbt"] + ([] if good else ["bbo-tbt2", "books5"])))
    return (
        f'{{"arg":{{"channel":"{channel}","instId":"{draw(symbol)}"}},"data":[{item}]}}'
    ).encode()


_mutated = mutated(st.one_of(_trades(good=True), _book(good=True), _bbo(good=True)))


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_trades(good=True), _book(good=True), _bbo(good=True), _trades(), _book(), _bbo()))
def test_fast_path_same_events_as_checked_path(raw: bytes) -> None:
    _check(raw)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated)
def test_fast_path_on_broken_messages_declines_or_agrees(raw: bytes) -> None:
    _check(raw)


@given(st.binary(max_size=300))
def test_fast_path_never_raises_on_any_bytes(raw: bytes) -> None:
    _check(b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[' + raw)
    _check(b'{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[' + raw)
    _check(raw)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_trades(good=True), _book(good=True), _bbo(good=True)))
def test_fast_path_takes_well_formed_messages(raw: bytes) -> None:
    """Generated in the venue's layout with values every scale holds: always taken."""
    assert _check(raw)


def test_fast_path_takes_the_samples_and_the_emulator_layouts() -> None:
    from tests.feeds.conftest import sample_lines

    assert all(_check(raw) for raw in sample_lines("okx"))
    trade = (
        b'{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT",'
        b'"tradeId":"4","px":"19999.99000000","sz":"33.60060779","side":"sell",'
        b'"ts":"1795414928941","count":"1","source":"0","seqId":-1}]}'
    )
    book = (
        b'{"arg":{"channel":"books","instId":"ETH-USDT"},"action":"update","data":[{"asks":'
        b'[["20100.04","0.00000","0","1"]],"bids":[["20099.93","44.47628","0","1"]],'
        b'"ts":"1795414928940","checksum":0,"prevSeqId":1004,"seqId":1005}]}'
    )
    quote = (
        b'{"arg":{"channel":"bbo-tbt","instId":"ETH-USDT"},"data":[{"asks":[["20100.01",'
        b'"24.63302","0","1"]],"bids":[["20099.99","43.86246","0","1"]],'
        b'"ts":"1795414928940","seqId":1005}]}'
    )
    # a real trade without seqId or source (the checked path's seq: -1)
    old = trade.replace(b',"source":"0","seqId":-1', b"")
    for raw in (trade, book, quote, old, book.replace(b'"update"', b'"snapshot"')):
        assert _check(raw), raw
    # declined: decimals the scale cannot hold (ETH-USDT: 2), so the checked path refuses
    refused = book.replace(b"20099.93", b"20099.931")
    assert not _check(refused) and str(_outcome(_session(), refused)).startswith("FeedError")
    # declined: a bbo-tbt without bids, which the checked path refuses
    empty = quote.replace(b'[["20099.99","43.86246","0","1"]]', b"[]")
    assert not _check(empty) and str(_outcome(_session(), empty)).startswith("FeedError")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT",'
        b'"tradeId":"4","px":"1.5x","sz":"2","side":"sell","ts":"1","seqId":-1}]}',
        b'{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT",'
        b'"tradeId":"4","px":"1.5","sz":"2","side":"sideways","ts":"1","seqId":-1}]}',
        b'{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"XRP-USDT",'
        b'"tradeId":"4","px":"1.5","sz":"2","side":"sell","ts":"1","seqId":-1}]}',
        b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":'
        b'[["1","2","0"]],"bids":[],"ts":"1","checksum":0,"prevSeqId":1,"seqId":2}]}',
        b'{"arg":{"channel":"bbo-tbt","instId":"BTC-USDT"},"data":[{"asks":[],"bids":[],'
        b'"ts":"1","seqId":2}]}',
        b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":'
        b'[],"bids":[],"ts":"x1","checksum":0,"prevSeqId":1,"seqId":2}]}',
    ],
)
def test_malformed_messages_are_counted_with_the_fast_path_on(
    raw: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert_counted_as_malformed(okx, "BTC-USDT", raw, monkeypatch)
