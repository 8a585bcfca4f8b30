"""Every recorded venue sample parses to exactly the expected normalized values."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from cambist.feeds.types import Ack, BookUpdate, Quote, Trade
from cambist.feeds.venues import binance, bybit, coinbase, kraken, okx
from conftest import SAMPLES, SHARED_SAMPLES, sample_lines

R = 7  # receive timestamp passed to the parsers
MS = 1_000_000


def X(text: str) -> int:
    """The value at the default scale (8 decimals), by Decimal arithmetic: an independent
    reckoning of what the parsers' string operations must give."""
    v = Decimal(text).scaleb(8)
    assert v == v.to_integral_value()
    return int(v)


def test_samples_files_match_shared_samples_doc() -> None:
    if not SHARED_SAMPLES.exists():
        pytest.skip("shared/feeds/samples.md not beside the repository")
    doc = SHARED_SAMPLES.read_text()
    lines = [
        ln
        for block in re.findall(r"```json\n(.*?)```", doc, re.S)
        for ln in block.split("\n")
        if ln
    ]
    recorded = [ln for f in sorted(SAMPLES.glob("*.jsonl")) for ln in f.read_text().splitlines()]
    assert sorted(lines) == sorted(recorded)


def test_binance_samples_parse_exact_values() -> None:
    s = binance.Session(["BNB-BTC", "NKN-USDT"])
    trade, agg, depth, ticker = (s.parse(x, R) for x in sample_lines("binance"))
    assert trade == [
        Trade("binance", "BNB-BTC", "sell", X("0.001"), X("100"), "12345", 1672515782136 * MS, R)
    ]
    assert agg == [
        Trade(
            "binance",
            "NKN-USDT",
            "buy",
            X("0.35280000"),
            X("58.00000000"),
            "15683430",
            1633998523963 * MS,
            R,
        )
    ]
    assert depth == [
        BookUpdate(
            "binance",
            "NKN-USDT",
            False,
            [(X("0.35170000"), X("4265.00000000"))],
            [(X("0.35290000"), X("10968.00000000"))],
            499869754,
            499869752,
            1633998512568 * MS,
            R,
        )
    ]
    assert ticker == [
        Quote(
            "binance",
            "NKN-USDT",
            X("0.35210000"),
            X("672.00000000"),
            X("0.35260000"),
            X("3199.00000000"),
            499869768,
            0,
            R,
        )
    ]
    assert agg[0].price == 35_280_000  # 0.35280000 in units of 1e-8


def test_coinbase_samples_parse_exact_values() -> None:
    symbols = ["SKL-BTC", "ETH-USD", "BTC-USD"]
    # separate recordings: each starts its own connection (both carry sequence_num 0)
    match, l2update, trades, l2 = (
        coinbase.Session(symbols).parse(x, R) for x in sample_lines("coinbase")
    )
    assert match == [
        Trade(
            "coinbase",
            "SKL-BTC",
            "buy",
            X("0.00001305"),
            X("985"),
            "280232",
            1618677817089723000,
            R,
            177100030,
        )
    ]
    assert l2update == [
        BookUpdate(
            "coinbase",
            "SKL-BTC",
            False,
            [],
            [(X("0.00001306"), X("660.5"))],
            -1,
            -1,
            1618677817075687000,
            R,
        )
    ]
    assert trades == [
        Trade(
            "coinbase",
            "ETH-USD",
            "sell",
            X("1260.01"),
            X("0.3"),
            "000000000",
            1565815347265000000,
            R,
            0,
        )
    ]
    assert l2 == [
        BookUpdate(
            "coinbase",
            "BTC-USD",
            True,
            [(X("21921.73"), X("0.06317902")), (X("21921.3"), X("0.02"))],
            [],
            -1,
            -1,
            1675974770714964855,
            R,
        )
    ]


def test_kraken_samples_parse_json_numbers_exactly() -> None:
    s = kraken.Session(["MATIC-USD"])
    trade, book = (s.parse(x, R) for x in sample_lines("kraken"))
    assert trade == [
        Trade(
            "kraken", "MATIC-USD", "sell", X("0.5117"), X("40.0"), "4665906", 1695628177708706000, R
        )
    ]
    assert book == [
        BookUpdate(
            "kraken",
            "MATIC-USD",
            False,
            [(X("0.5657"), X("1098.3947558"))],
            [],
            -1,
            -1,
            1696613755440295000,
            R,
            2114181697,
        )
    ]
    assert book[0].bids[0][1] == 109_839_475_580  # a JSON number, exact: 1098.3947558e8


def test_okx_samples_parse_exact_values() -> None:
    s = okx.Session(["BTC-USDT"])
    trade, book = (s.parse(x, R) for x in sample_lines("okx"))
    assert trade == [
        Trade(
            "okx",
            "BTC-USDT",
            "buy",
            X("42219.9"),
            X("0.12060306"),
            "130639474",
            1630048897897 * MS,
            R,
            1234,
        )
    ]
    assert book == [
        BookUpdate(
            "okx",
            "BTC-USDT",
            False,
            [(X("8476.97"), X("256")), (X("8475.55"), X("101"))],
            [(X("8476.98"), X("415")), (X("8477"), X("7"))],
            123457,
            123456,
            1597026383085 * MS,
            R,
        )
    ]


def test_bybit_samples_parse_exact_values() -> None:
    s = bybit.Session(["BTC-USDT"])
    trade, book = (s.parse(x, R) for x in sample_lines("bybit"))
    assert trade == [
        Trade(
            "bybit",
            "BTC-USDT",
            "buy",
            X("16578.50"),
            X("0.001"),
            "20f43950-d8dd-5b31-9112-a178eb6023af",
            1672304486865 * MS,
            R,
        )
    ]
    assert book == [
        BookUpdate(
            "bybit",
            "BTC-USDT",
            True,
            [(X("16493.50"), X("0.006")), (X("16493.00"), X("0.100"))],
            [(X("16611.00"), X("0.029")), (X("16612.00"), X("0.213"))],
            18521288,
            18521287,
            1672304484978 * MS,
            R,
        )
    ]


@pytest.mark.parametrize(
    ("session", "raw"),
    [
        (binance.Session(["BTC-USDT"]), b'{"result":null,"id":1}'),
        (kraken.Session(["BTC-USD"]), b'{"channel":"heartbeat"}'),
        (okx.Session(["BTC-USDT"]), b"pong"),
        (bybit.Session(["BTC-USDT"]), b'{"success":true,"ret_msg":"pong","op":"ping"}'),
        (
            coinbase.Session(["BTC-USD"]),
            b'{"channel":"heartbeats","client_id":"","timestamp":"2023-06-23T20:31:26.122969572Z","sequence_num":0,"events":[{"current_time":"2023-06-23 20:31:56","heartbeat_counter":"3049"}]}',
        ),
    ],
)
def test_control_message_any_venue_yields_ack(session: object, raw: bytes) -> None:
    events = session.parse(raw, R)  # type: ignore[attr-defined]
    assert len(events) == 1 and isinstance(events[0], Ack)


def test_template_venue_roundtrip_wire_to_normalized_exact() -> None:
    from cambist.feeds.book import L2Book
    from cambist.feeds.venues import _template

    wire = _template.Wire(["BTC-USDT"])
    session = _template.Session(["BTC-USDT"])
    t = Trade("template", "BTC-USDT", "sell", X("1.10"), X("0.5"), "9", 5, 0)
    (text,) = wire.trades([t])
    assert session.parse(text.encode(), R) == [
        Trade("template", "BTC-USDT", "sell", X("1.10"), X("0.5"), "9", 5, R)
    ]
    book = wire.book("BTC-USDT", False, [(X("1"), X("2"))], [], 4, 5, 6, L2Book())
    (u,) = session.parse(book.encode(), R)
    assert isinstance(u, BookUpdate) and (u.seq, u.prev_seq, u.bids) == (5, 4, [(X("1"), X("2"))])
