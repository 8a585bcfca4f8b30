"""The hand-written PlaceOrder/CancelOrder codec equals the generated one, byte for byte."""

from __future__ import annotations

import dataclasses

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cambist.domain.commands import CancelOrder, PlaceOrder
from cambist.domain.types import OrderType, SelfTradePrevention, Side, TimeInForce
from cambist.log import codec, hotcodec
from cambist.log.errors import CodecError

money = st.integers(min_value=0, max_value=2**63 - 1)
places = st.builds(
    PlaceOrder,
    account=st.integers(min_value=1, max_value=2**40),
    market=st.sampled_from(["BTC-USD", "ETH-BTC", "Ä-€"]),
    side=st.sampled_from(list(Side)),
    order_type=st.sampled_from(list(OrderType)),
    time_in_force=st.sampled_from(list(TimeInForce)),
    price=money,
    quantity=money,
    quote_quantity=money,
    stop_price=money,
    expire_ts=money,
    post_only=st.booleans(),
    client_order_id=st.text(max_size=20),
    stp=st.sampled_from(list(SelfTradePrevention)),
)
cancels = st.builds(
    CancelOrder,
    account=st.integers(min_value=1, max_value=2**40),
    order_id=money,
    client_order_id=st.text(max_size=20),
)


def _generated(cls: type) -> tuple[object, object]:
    """The exec-generated pair, built afresh (the codec's tables hold the hand-written one)."""
    saved_enc, saved_make = dict(codec._ENCODERS), dict(codec._MAKERS)
    try:
        codec._generate(cls)
        return codec._ENCODERS[cls], codec._MAKERS[codec.command_tag(cls)]
    finally:
        codec._ENCODERS.clear()
        codec._ENCODERS.update(saved_enc)
        codec._MAKERS.clear()
        codec._MAKERS.update(saved_make)


def test_hotcodec_fields_match_the_commands_declared_fields() -> None:
    for cls, names in hotcodec.FIELDS.items():
        assert tuple(f.name for f in dataclasses.fields(cls)) == names, cls


def test_hotcodec_is_installed_in_the_codec_when_compiled() -> None:
    if str(hotcodec.__file__).endswith(".py"):  # interpreted: the generated pair is faster
        assert codec._ENCODERS[PlaceOrder] is not hotcodec.encode_place
        return
    assert codec._ENCODERS[PlaceOrder] is hotcodec.encode_place
    assert codec._ENCODERS[CancelOrder] is hotcodec.encode_cancel
    assert codec._MAKERS[hotcodec.PLACE_TAG] is hotcodec.make_place
    assert codec._MAKERS[hotcodec.CANCEL_TAG] is hotcodec.make_cancel


@given(st.lists(st.one_of(places, cancels), min_size=1, max_size=20))
def test_hotcodec_encodes_and_decodes_as_the_generated_codec(cmds: list[object]) -> None:
    enc = msgspec.msgpack.Encoder()
    generated = {cls: _generated(cls) for cls in (PlaceOrder, CancelOrder)}
    for cmd in cmds:
        gen_encode = generated[type(cmd)][0]
        assert enc.encode(hand_encode(cmd)) == enc.encode(gen_encode(cmd))  # type: ignore[operator]
    payload = codec.join_chunks([codec.encode_chunk(cmds)])  # type: ignore[arg-type]
    decoded = codec.decode_payload(payload, 10, 99)
    for i, (cmd, out) in enumerate(zip(cmds, decoded, strict=True)):
        expected = dataclasses.replace(cmd, seq=10 + i, ts=99)  # type: ignore[type-var]
        assert out == expected
        values = msgspec.msgpack.decode(enc.encode(hand_encode(cmd)))
        assert generated[type(cmd)][1](values, 10 + i, 99) == out  # type: ignore[operator]
        hand_make = hotcodec.make_place if type(cmd) is PlaceOrder else hotcodec.make_cancel
        assert hand_make(values, 10 + i, 99) == out


def hand_encode(cmd: object) -> tuple[object, ...]:
    if type(cmd) is PlaceOrder:
        return hotcodec.encode_place(cmd)
    assert type(cmd) is CancelOrder
    return hotcodec.encode_cancel(cmd)


@pytest.mark.parametrize("keep", [4, 5, 8, 12, 13])
def test_hotcodec_old_records_with_fewer_fields_take_defaults(keep: int) -> None:
    cmd = PlaceOrder(account=7, market="BTC-USD", side=Side.SELL, price=5, quantity=3)
    values = list(msgspec.msgpack.decode(msgspec.msgpack.encode(hotcodec.encode_place(cmd))))
    short = values[:keep]
    _, gen_make = _generated(PlaceOrder)
    assert hotcodec.make_place(short, 1, 2) == gen_make(short, 1, 2)  # type: ignore[operator]


def test_hotcodec_wrong_types_and_short_arrays_are_codec_errors() -> None:
    for bad in ([hotcodec.PLACE_TAG, 1, "BTC-USD"], [hotcodec.PLACE_TAG, 1, "BTC-USD", "up"],
                [hotcodec.CANCEL_TAG]):  # fmt: skip
        payload = codec.join_chunks([msgspec.msgpack.encode([bad])])
        with pytest.raises(CodecError):
            codec.decode_payload(payload, 1, 1)
        make = hotcodec.make_place if bad[0] == hotcodec.PLACE_TAG else hotcodec.make_cancel
        with pytest.raises((IndexError, KeyError)):
            make(bad, 1, 1)
