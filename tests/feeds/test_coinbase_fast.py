"""Coinbase's byte-level fast path (``coinbase._fast``, what the compiled build's ``parse``
tries before ``Session._decode``) gives exactly ``_decode``'s ``(sequence_num, events)``, or
declines (None) and leaves the message to it; it never raises, so malformed input still
becomes the checked path's counted ``FeedError``."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.feeds.fastpath import agrees, assert_counted_as_malformed, mutated, outcome

from cambist.feeds.scaled import Scale
from cambist.feeds.types import Event, FeedError
from cambist.feeds.venues import coinbase

SYMBOLS = ["BTC-USD", "ETH-USD", "NKN-USD"]
SCALES = {"ETH-USD": Scale(2, 5), "NKN-USD": Scale(8, 10)}


def _session() -> coinbase.Session:
    return coinbase.Session(SYMBOLS, SCALES)


def _outcome(s: coinbase.Session, raw: bytes) -> object:
    return outcome(lambda r: s._decode(r, 7), raw)


def _check(raw: bytes) -> bool:
    """The fast path's result equals the checked ``_decode``'s; True when it took the message
    (a ``FeedError`` from ``_decode``, raised or returned, never equals a taken result)."""
    s = _session()
    return agrees(lambda r: coinbase._fast(s, r, 7), lambda r: s._decode(r, 7), raw)


_good_number = st.builds(
    lambda a, b: f"{a}.{b}" if b else a,
    st.text("0123456789", min_size=1, max_size=6),
    st.text("0123456789", max_size=2),
)
"""Decimals every scale here holds (at least two decimals, at most 18 digits in units)."""
_digits = st.text("0123456789", min_size=1, max_size=12)
_number = st.one_of(
    _good_number,
    st.builds(lambda a, b: f"{a}.{b}", _digits, st.text("0123456789", max_size=11)),
    st.text("0123456789.eE+-", max_size=22),
    st.text("0123456789", min_size=17, max_size=24),
    st.sampled_from(["0", "1.0", "00012.50", "5.", ".5", "", "1E+2", "\\u0031", "\u0661"]),
)
_good_seq = st.integers(0, 10**13).map(str)
_seq = st.one_of(
    _good_seq,
    st.integers(0, 10**19).map(str),
    st.sampled_from(["0", "01", "-1", "1.0", "1e3", "99999999999999999999", '"1"', "null"]),
)
_good_product = st.sampled_from(SYMBOLS)
_product = st.one_of(_good_product, st.sampled_from(["XRP-USD", "", "BTC\\u002dUSD", "\u00e9"]))
_good_text = st.text("abcXYZ0123456789-_ ", max_size=12)
_text = st.one_of(_good_text, st.sampled_from(['\\"', "\\u0041", "\u00e9", "\x01", "a\\nb"]))


@st.composite
def _good_time(draw: st.DrawFn) -> str:
    """An RFC 3339 UTC time of 1970-2199 with 0 to 9 fraction digits."""
    y, mo = draw(st.integers(1970, 2199)), draw(st.integers(1, 12))
    d = draw(st.integers(1, 28 if mo == 2 else 30))
    h, mi, sec = draw(st.integers(0, 23)), draw(st.integers(0, 59)), draw(st.integers(0, 59))
    frac = draw(st.text("0123456789", max_size=9))
    return f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{sec:02d}{'.' + frac if frac else ''}Z"


_time = st.one_of(
    _good_time(),
    st.sampled_from(
        [
            "2026-11-23T06:22:60Z",
            "2026-02-30T00:00:00Z",
            "2024-02-29T00:00:00.5Z",
            "2026-11-23T06:22:07.Z",
            "2026-11-23T06:22:07.1234567890Z",
            "2026-11-23 06:22:07Z",
            "2026-11-23T06:22:07+00:00",
            "2026-11-23T06:22:07.88",
            "1969-12-31T23:59:59Z",
            "2201-01-01T00:00:00Z",
            "\\u0032026-11-23T06:22:07Z",
            "2026-11-23T06:22:07.8x7Z",
            "",
        ]
    ),
)


class _V:
    """The value strategies of one kind of message: good ones, or any (mostly bad)."""

    def __init__(self, good: bool) -> None:
        self.good = good
        self.number = _good_number if good else _number
        self.seq = _good_seq if good else _seq
        self.product = _good_product if good else _product
        self.time = _good_time() if good else _time
        self.text = _good_text if good else _text


def _envelope(draw: st.DrawFn, v: _V, channel: str, events: list[str]) -> bytes:
    client = "" if v.good else draw(v.text)
    return (
        f'{{"channel":"{channel}","client_id":"{client}","timestamp":"{draw(v.time)}",'
        f'"sequence_num":{draw(v.seq)},"events":[{",".join(events)}]}}'
    ).encode()


def _count(draw: st.DrawFn, least: int, most: int) -> range:
    return range(draw(st.integers(least, most)))


@st.composite
def _trades(draw: st.DrawFn, good: bool = False) -> bytes:
    v = _V(good)
    side = st.sampled_from(["BUY", "SELL"] if good else ["BUY", "SELL", "buy", "", "BUYS"])
    events = []
    for _ in _count(draw, 0, 2):
        trades = [
            f'{{"trade_id":"{draw(v.text)}","product_id":"{draw(v.product)}",'
            f'"price":"{draw(v.number)}","size":"{draw(v.number)}","side":"{draw(side)}",'
            f'"time":"{draw(v.time)}"}}'
            for _ in _count(draw, 0, 3)
        ]
        kind = draw(st.sampled_from(["update", "snapshot"]) if good else v.text)
        events.append(f'{{"type":"{kind}","trades":[{",".join(trades)}]}}')
    return _envelope(draw, v, "market_trades", events)


@st.composite
def _book(draw: st.DrawFn, good: bool = False) -> bytes:
    v = _V(good)
    side = st.sampled_from(["bid", "offer", "ask"] + ([] if good else ["sell", "BID", ""]))
    kinds = st.sampled_from(["update", "snapshot"] + ([] if good else ["delta", "", "Update"]))
    events = []
    for _ in _count(draw, 1, 2):
        updates = [
            f'{{"side":"{draw(side)}","event_time":"{draw(v.time)}",'
            f'"price_level":"{draw(v.number)}","new_quantity":"{draw(v.number)}"}}'
            for _ in _count(draw, 0, 4)
        ]
        events.append(
            f'{{"type":"{draw(kinds)}","product_id":"{draw(v.product)}",'
            f'"updates":[{",".join(updates)}]}}'
        )
    return _envelope(draw, v, "l2_data", events)


_EXTRA = [
    ("price", "21932.98"),
    ("volume_24_h", "16038.28770938"),
    ("low_24_h", "21835.29"),
    ("high_24_h", "22143.75"),
    ("low_52_w", "15460"),
    ("high_52_w", "48240"),
    ("price_percent_chg_24_h", "-0.3"),
]
"""What the venue's tickers carry besides the best bid and ask (``CTicker`` ignores them)."""
_BAD_EXTRA = [("product_id", "ETH-USD"), ("best_bid", "1"), ("best_ask", "2"), ("foo", "x")]


@st.composite
def _ticker(draw: st.DrawFn, good: bool = False) -> bytes:
    v = _V(good)
    extra = st.sampled_from(_EXTRA if good else _EXTRA + _BAD_EXTRA)
    events = []
    for _ in _count(draw, 0, 2):
        tickers = []
        for _ in _count(draw, 0, 2):
            extras = "".join(
                f',"{k}":"{val}{"" if good else draw(st.one_of(st.just(""), v.text))}"'
                for k, val in draw(st.lists(extra, max_size=4))
            )
            kind = "ticker" if good else draw(v.text)
            tickers.append(
                f'{{"type":"{kind}","product_id":"{draw(v.product)}"{extras},'
                f'"best_bid":"{draw(v.number)}","best_bid_quantity":"{draw(v.number)}",'
                f'"best_ask":"{draw(v.number)}","best_ask_quantity":"{draw(v.number)}"}}'
            )
        kind = "update" if good else draw(v.text)
        events.append(f'{{"type":"{kind}","tickers":[{",".join(tickers)}]}}')
    return _envelope(draw, v, "ticker", events)


def _any(good: bool) -> st.SearchStrategy[bytes]:
    return st.one_of(_trades(good=good), _book(good=good), _ticker(good=good))


_mutated = mutated(_any(good=True))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_any(good=True))
def test_fast_path_takes_well_formed_messages(raw: bytes) -> None:
    """Generated in the usual layouts with values every scale holds: always taken."""
    assert _check(raw)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_any(good=False))
def test_fast_path_same_result_as_checked_path_on_bad_values(raw: bytes) -> None:
    _check(raw)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated)
def test_fast_path_on_broken_messages_declines_or_agrees(raw: bytes) -> None:
    _check(raw)


@given(st.binary(max_size=300))
def test_fast_path_never_raises_on_any_bytes(raw: bytes) -> None:
    _check(b'{"channel":"market_trades","client_id":"' + raw)
    _check(b'{"channel":"l2_data","client_id":"","timestamp":"' + raw)
    _check(b'{"channel":"ticker","client_id":"","timestamp":"2026-11-23T06:22:07Z",' + raw)
    _check(raw)


TRADE = (
    b'{"channel":"market_trades","client_id":"","timestamp":"2026-11-23T06:22:07.887872000Z",'
    b'"sequence_num":23,"events":[{"type":"update","trades":[{"trade_id":"4",'
    b'"product_id":"BTC-USD","price":"19999.99000000","size":"33.60060779","side":"BUY",'
    b'"time":"2026-11-23T06:22:07.887872Z"}]}]}'
)
BOOK = (
    b'{"channel":"l2_data","client_id":"","timestamp":"2026-11-23T06:22:07.887549000Z",'
    b'"sequence_num":15,"events":[{"type":"update","product_id":"ETH-USD","updates":['
    b'{"side":"bid","event_time":"2026-11-23T06:22:07.887549Z","price_level":"20099.93",'
    b'"new_quantity":"44.47628"},{"side":"offer","event_time":"2026-11-23T06:22:07.887549Z",'
    b'"price_level":"20100.04","new_quantity":"0.00000"}]}]}'
)
QUOTE = (
    b'{"channel":"ticker","client_id":"","timestamp":"2026-11-23T06:22:07.887549000Z",'
    b'"sequence_num":16,"events":[{"type":"update","tickers":[{"type":"ticker",'
    b'"product_id":"BTC-USD","best_bid":"20099.99000000","best_bid_quantity":"43.86246383",'
    b'"best_ask":"20100.01000000","best_ask_quantity":"24.63302715"}]}]}'
)
VENUE_QUOTE = (
    b'{"channel":"ticker","client_id":"","timestamp":"2023-02-09T20:30:37.167359596Z",'
    b'"sequence_num":0,"events":[{"type":"snapshot","tickers":[{"type":"ticker",'
    b'"product_id":"BTC-USD","price":"21932.98","volume_24_h":"16038.28770938",'
    b'"low_24_h":"21835.29","high_24_h":"22143.75","low_52_w":"15460","high_52_w":"48240",'
    b'"price_percent_chg_24_h":"-0.3","best_bid":"21931.98","best_bid_quantity":"8000.21",'
    b'"best_ask":"21933.98","best_ask_quantity":"8038.07770938"}]}]}'
)


def test_fast_path_takes_the_usual_layouts() -> None:
    """What the venue (and the emulator) send is taken, so the compiled build gains."""
    from tests.feeds.conftest import sample_lines

    taken = [raw for raw in sample_lines("coinbase") if _check(raw)]
    assert len(taken) == 2  # market_trades and l2_data (not the legacy exchange feed)
    for raw in (TRADE, BOOK, QUOTE, VENUE_QUOTE):
        assert _check(raw), raw
    several = TRADE.replace(b"}]}]}", b"}," + TRADE[TRADE.index(b'{"trade_id"') :], 1)
    assert _check(several) and len(_session()._decode(several, 7)[1]) == 2  # type: ignore[arg-type]
    assert _check(BOOK.replace(b"update", b"snapshot", 1))
    assert _check(BOOK.replace(b'"offer"', b'"ask"'))
    seq, events = coinbase._fast(_session(), TRADE, 7) or (0, [])
    assert seq == 23 and len(events) == 1


@pytest.mark.parametrize(
    "raw",
    [
        BOOK.replace(b"20099.93", b"20099.931"),  # more decimals than ETH-USD's 2
        BOOK.replace(b'"bid"', b'"buy"'),
        BOOK.replace(b'"update"', b'"delta"'),
        TRADE.replace(b'"BUY"', b'"buy"'),
        TRADE.replace(b"BTC-USD", b"XRP-USD"),
        TRADE.replace(b'"trade_id":"4",', b""),
        TRADE.replace(b"06:22:07.887872Z", b"06:22:07.887872"),
        QUOTE.replace(b'"best_bid":', b'"foo":"1","best_bid":'),
        QUOTE.replace(b'"best_bid":', b'"product_id":"ETH-USD","best_bid":'),
        QUOTE.replace(b"{", b" {", 1),
        QUOTE.replace(b"BTC-USD", b"BTC\\u002dUSD"),
        TRADE.replace(b'"market_trades"', b'"heartbeats"'),
    ],
)
def test_declined(raw: bytes) -> None:
    assert coinbase._fast(_session(), raw, 7) is None


@pytest.mark.parametrize(
    "raw",
    [
        TRADE.replace(b"19999.99000000", b"1.5x"),
        TRADE[:-1],
        TRADE.replace(b"BTC-USD", b"XRP-USD"),
        TRADE.replace(b'"BUY"', b'"BUYS"'),
        BOOK.replace(b"ETH-USD", b"BTC-USD").replace(b'"update"', b'"delta"'),
        QUOTE.replace(b'"sequence_num":16', b'"sequence_num":"16"'),
        QUOTE.replace(b"2026-11-23T06:22:07.887549000Z", b"2026-11-23T06:22:60Z"),
    ],
)
def test_malformed_messages_are_counted_with_the_fast_path_on(
    raw: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert_counted_as_malformed(coinbase, "BTC-USD", raw, monkeypatch)


def test_parse_with_the_fast_path_on_gives_the_same_events(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through ``parse``: the sequence check, the memo and a gap's ``Resync`` are unchanged."""
    raws = [QUOTE, TRADE, TRADE, BOOK, QUOTE.replace(b'_num":16', b'_num":30')]
    raws.append(TRADE.replace(b"BTC-USD", b"XRP-USD").replace(b'_num":23', b'_num":31'))

    def run() -> list[list[Event] | str]:
        s = _session()
        got: list[list[Event] | str] = []
        for raw in raws:
            try:
                got.append(s.parse(raw, 7))
            except FeedError as e:
                got.append(str(e))
        return got

    checked = run()
    monkeypatch.setattr(coinbase, "_NATIVE", True)
    assert run() == checked
    assert checked[2] == [] and isinstance(checked[-1], str)
