"""``Trading.fast_place_command`` (decoding without msgspec's regexes) builds exactly the command
the checked path builds (decoding ``wire.OrderRequest`` with its patterns, then
``place_command``), or declines and leaves the body to that path; never anything else."""

from __future__ import annotations

import json
import typing
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cambist.domain.commands import PlaceOrder
from cambist.gateways.rest import wire
from cambist.gateways.rest.app import decode_body
from cambist.gateways.rest.convert import plain_units
from cambist.gateways.rest.errors import ApiError
from cambist.gateways.rest.trading import Trading, client_id_ok, market_name_ok
from cambist.gateways.rest.view import MarketView, View

_STRICT = msgspec.json.Decoder(wire.OrderRequest)


def _trading() -> Trading:
    view = View()
    view.assets.update({"BTC": 8, "USD": 2, "ETH": 18, "btc": 8})
    for base, quote in (("BTC", "USD"), ("ETH", "BTC"), ("btc", "USD")):
        view.markets[f"{base}-{quote}"] = MarketView(
            name=f"{base}-{quote}", base=base, quote=quote, tick=1, lot=1, min_quantity=1,
            max_quantity=10**12, min_notional=0, band_bps=0, maker_fee_bps=0, taker_fee_bps=0,
        )  # fmt: skip
    return Trading(view, store=None, sequencer=None)  # type: ignore[arg-type]


TRADING = _trading()


def _checked(raw: bytes) -> tuple[str, Any]:
    try:
        return "placed", TRADING.place_command(decode_body(raw, _STRICT), 7)
    except ApiError as err:
        return "refused", (err.code, err.message, err.field)


def _same(raw: bytes) -> PlaceOrder | None:
    fast = TRADING.fast_place_command(raw, 7)
    if fast is not None:
        assert _checked(raw) == ("placed", fast), raw
    else:
        _checked(raw)  # the checked path answers (a command or a refusal), whatever it is
    return fast


def test_twin_has_the_wire_types_fields_types_and_defaults() -> None:
    strict = {k: typing.get_args(v)[0] if typing.get_origin(v) is typing.Annotated else v
              for k, v in typing.get_type_hints(wire.OrderRequest, include_extras=True).items()}  # fmt: skip
    loose = typing.get_type_hints(wire.OrderRequestText)
    assert list(loose) == list(strict)
    for name, hint in loose.items():
        want = strict[name]
        if typing.get_origin(want) is typing.Union:
            args = tuple(
                typing.get_args(a)[0] if typing.get_origin(a) is typing.Annotated else a
                for a in typing.get_args(want)
            )
            assert typing.get_args(hint) == args, name
        else:
            assert hint == want, name
    assert wire.OrderRequestText.__struct_defaults__ == wire.OrderRequest.__struct_defaults__
    assert wire.OrderRequestText.__struct_config__.forbid_unknown_fields


DECIMALS = [
    "0", "1", "65000.10", "0.001", "1" * 30, "1" * 31, "1." + "0" * 30, "1." + "0" * 31, "",
    ".", "1.", ".5", "1.2.3", "-1", "+1", "1e5", " 1", "1 ", "1\n", "\uff11", "\u0663", "1_000", "0x10",
    "1,5", "\u0661.\u0662",
]  # fmt: skip
MARKETS = [
    "BTC-USD", "btc-USD", "BTC-usd", "BTCUSD", "-USD", "BTC-", "BTC--USD", "BTC-USD-X",
    "A" * 12 + "-B", "A" * 13 + "-B", "B-" + "C" * 13, "ÄBC-USD", "BTC-USD\n", "B_C-USD", "1-2",
    "",
]  # fmt: skip
CLIENT_IDS = ["", "abc", "a.b:c-d_e", "x" * 64, "x" * 65, "a b", "é", "a/b", "a\n", "A9"]


@pytest.mark.parametrize("text", DECIMALS)
def test_decimal_check_never_accepts_what_the_pattern_refuses(text: str) -> None:
    for field in ("price", "quantity", "quote_quantity", "stop_price"):
        _same(json.dumps({"market": "BTC-USD", "side": "buy", field: text}).encode())
    for scale in (0, 2, 8, 18, 30, 31):
        if plain_units(text, scale) >= 0:
            assert wire_pattern_ok(text, wire.Decimal)


def test_the_common_order_takes_the_fast_path() -> None:
    raw = b'{"market":"BTC-USD","side":"buy","quantity":"0.001","price":"64987.12"}'
    cmd = _same(raw)
    assert cmd is not None and (cmd.price, cmd.quantity) == (6498712, 100000)
    assert _same(raw.replace(b"BTC-USD", b"btc-USD")) is None  # a market the pattern refuses
    assert _same(raw.replace(b"64987.12", b"64987.123")) is None  # off the tick: checked path


@pytest.mark.parametrize("text", MARKETS)
def test_market_check_never_accepts_what_the_pattern_refuses(text: str) -> None:
    _same(json.dumps({"market": text, "side": "sell", "price": "1", "quantity": "2"}).encode())
    if market_name_ok(text):
        assert wire_pattern_ok(text, wire.MarketName)


@pytest.mark.parametrize("text", CLIENT_IDS)
def test_client_id_check_never_accepts_what_the_pattern_refuses(text: str) -> None:
    _same(json.dumps({"market": "BTC-USD", "side": "buy", "client_order_id": text}).encode())
    if client_id_ok(text):
        assert wire_pattern_ok(text, wire.ClientId)


def wire_pattern_ok(text: str, hint: Any) -> bool:
    try:
        msgspec.convert(text, hint)
    except msgspec.ValidationError:
        return False
    return True


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"[]",
        b"{}",
        b'{"market":"BTC-USD"}',
        b'{"market":"BTC-USD","side":"buy","qty":"1"}',
        b'{"market":"BTC-USD","side":"hold"}',
        b'{"market":"btc","side":"buy","price":1}',  # two problems: the first one is named
        b'{"price":"x","market":"BTC-USD","side":"buy","quantity":2}',
        b'{"market":"BTC-USD","side":"buy","price":"1","quantity":"2","post_only":"yes"}',
        b'{"market":"BTC-USD","side":"buy","type":"market","quote_quantity":"10"}',
        b'{"market":"BTC-USD","side":"buy","expire_time":"2026-01-01T00:00:00Z"}',
        b'{"market":"BTC-USD","side":"buy","self_trade_prevention":"decrement"}',
        b'{"market":"BTC-USD","side":"buy","time_in_force":"gtd","price":"1","quantity":"1"}',
    ],
)
def test_awkward_bodies_decode_or_fail_alike(raw: bytes) -> None:
    _same(raw)


_TEXT = st.text(alphabet=st.sampled_from("0123456789.-ABCXYZabc_:/ \n\uff11"), max_size=40)


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            ["market", "side", "price", "quantity", "quote_quantity", "stop_price",
             "client_order_id", "type", "post_only"]
        ),
        st.one_of(_TEXT, st.integers(), st.booleans(), st.none(),
                  st.sampled_from(["buy", "sell", "limit", "market", "BTC-USD", "1.5"])),
    )
)  # fmt: skip
def test_random_bodies_decode_or_fail_alike(fields: dict[str, Any]) -> None:
    _same(json.dumps(fields).encode())
