"""The command codec: every command type round-trips; bad bytes give a clear error."""

from __future__ import annotations

import pytest

from cambist.domain import commands as c
from cambist.domain.types import OrderType, SelfTradePrevention, Side, TimeInForce
from cambist.log.codec import decode_payload, encode_chunk, join_chunks
from cambist.log.errors import CodecError

EVERY_TYPE: list[c.Command] = [
    c.CreateAsset(asset="BTC", scale=8),
    c.CreateMarket(
        market="BTC-USD",
        base="BTC",
        quote="USD",
        tick=100,
        lot=1000,
        min_quantity=1000,
        max_quantity=10**12,
        min_notional=5,
        band_bps=500,
        maker_fee_bps=1,
        taker_fee_bps=2,
    ),
    c.SetMarketStatus(market="BTC-USD", halted=True),
    c.CreateAccount(account=7),
    c.Deposit(account=7, asset="BTC", amount=10**19, reference="tx-1"),
    c.Withdraw(account=7, asset="BTC", amount=3, reference="w-1"),
    c.PlaceOrder(
        account=7,
        market="BTC-USD",
        side=Side.SELL,
        order_type=OrderType.STOP_LIMIT,
        time_in_force=TimeInForce.GTD,
        price=5,
        quantity=6,
        quote_quantity=0,
        stop_price=4,
        expire_ts=2**62,
        post_only=True,
        client_order_id="ü-1",
        stp=SelfTradePrevention.DECREMENT,
    ),
    c.CancelOrder(account=7, order_id=12, client_order_id="x"),
    c.CancelAll(account=7, market=""),
    c.AmendOrder(account=7, order_id=12, price=0, quantity=9),
]


def test_codec_every_command_type_round_trips_with_stamps() -> None:
    payload = join_chunks([encode_chunk(EVERY_TYPE[:4]), encode_chunk(EVERY_TYPE[4:])])
    decoded = decode_payload(payload, 100, 555)
    assert [(d.seq, d.ts) for d in decoded] == [(100 + i, 555) for i in range(len(EVERY_TYPE))]
    for original, got in zip(EVERY_TYPE, decoded, strict=True):
        original.seq, original.ts = got.seq, got.ts
        assert got == original and type(got) is type(original)
    place = decoded[6]
    assert isinstance(place, c.PlaceOrder) and type(place.side) is Side


def test_codec_unknown_command_type_raises_codec_error() -> None:
    class Stranger(c.Command):
        pass

    with pytest.raises(CodecError, match="no codec"):
        encode_chunk([Stranger()])


def test_codec_garbage_payload_raises_codec_error() -> None:
    with pytest.raises(CodecError, match="does not decode"):
        decode_payload(b"\x92\x01", 1, 1)
    with pytest.raises(CodecError):
        decode_payload(join_chunks([b"\x91\x92\xcc\xff\x01"]), 1, 1)  # unknown tag 255


def test_codec_integer_beyond_64_bits_raises_codec_error() -> None:
    with pytest.raises(CodecError, match="64-bit"):
        encode_chunk([c.Deposit(account=1, asset="BTC", amount=2**64, reference="")])
