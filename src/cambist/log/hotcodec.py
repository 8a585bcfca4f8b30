"""Hand-written codec functions for the two commands that make up most of a journal.

:mod:`cambist.log.codec` generates an encoder and a decoder per command type with ``exec``. That
code stays interpreted even in the mypyc build (``make native``), where the generated decoder
also has to call the constructor with keywords (a compiled class refuses ``object.__new__``).
These two are the same functions written out for ``PlaceOrder`` and ``CancelOrder`` with typed
arguments, so mypyc compiles them (group ``log`` of tools/build_native.py) into direct slot
reads and a native constructor call. The codec installs them over the generated ones;
tests/log/test_hotcodec.py checks that they encode the same bytes and decode the same
commands as the generated pair, including records written with fewer trailing fields.
"""

from __future__ import annotations

from typing import Any

from cambist.domain.commands import COMMAND_TAGS, CancelOrder, PlaceOrder
from cambist.domain.types import OrderType, SelfTradePrevention, Side, TimeInForce

PLACE_TAG = COMMAND_TAGS[PlaceOrder]
CANCEL_TAG = COMMAND_TAGS[CancelOrder]
_SIDES: dict[str, Side] = {m.value: m for m in Side}
_TYPES: dict[str, OrderType] = {m.value: m for m in OrderType}
_TIFS: dict[str, TimeInForce] = {m.value: m for m in TimeInForce}
_STPS: dict[str, SelfTradePrevention] = {m.value: m for m in SelfTradePrevention}
_PLACE_FIELDS = (
    "seq", "ts", "account", "market", "side", "order_type", "time_in_force", "price", "quantity",
    "quote_quantity", "stop_price", "expire_ts", "post_only", "client_order_id", "stp",
)  # fmt: skip
FIELDS: dict[type, tuple[str, ...]] = {
    PlaceOrder: _PLACE_FIELDS,
    CancelOrder: ("seq", "ts", "account", "order_id", "client_order_id"),
}
"""The fields these functions were written for: should a command gain one, the codec keeps its
generated pair for it (and the test of this module fails until they are updated)."""
_LIMIT = OrderType.LIMIT
_GTC = TimeInForce.GTC
_CANCEL_NEWEST = SelfTradePrevention.CANCEL_NEWEST


def encode_place(o: PlaceOrder) -> tuple[object, ...]:
    """``PlaceOrder`` as its positional array: the tag, then the fields without seq/ts."""
    return (
        PLACE_TAG, o.account, o.market, o.side, o.order_type, o.time_in_force, o.price,
        o.quantity, o.quote_quantity, o.stop_price, o.expire_ts, o.post_only,
        o.client_order_id, o.stp,
    )  # fmt: skip


def encode_cancel(o: CancelOrder) -> tuple[object, ...]:
    return (CANCEL_TAG, o.account, o.order_id, o.client_order_id)


def make_place(v: list[Any], seq: int, ts: int) -> PlaceOrder:
    """The inverse of :func:`encode_place`; trailing fields an older record lacks take their
    defaults. A value of the wrong type raises ``TypeError`` (the codec reports it)."""
    n = len(v)
    if n < 4:
        raise IndexError(n)
    return PlaceOrder(
        seq=seq,
        ts=ts,
        account=v[1],
        market=v[2],
        side=_SIDES[v[3]],
        order_type=_TYPES[v[4]] if n > 4 else _LIMIT,
        time_in_force=_TIFS[v[5]] if n > 5 else _GTC,
        price=v[6] if n > 6 else 0,
        quantity=v[7] if n > 7 else 0,
        quote_quantity=v[8] if n > 8 else 0,
        stop_price=v[9] if n > 9 else 0,
        expire_ts=v[10] if n > 10 else 0,
        post_only=v[11] if n > 11 else False,
        client_order_id=v[12] if n > 12 else "",
        stp=_STPS[v[13]] if n > 13 else _CANCEL_NEWEST,
    )


def make_cancel(v: list[Any], seq: int, ts: int) -> CancelOrder:
    n = len(v)
    if n < 2:
        raise IndexError(n)
    return CancelOrder(
        seq=seq,
        ts=ts,
        account=v[1],
        order_id=v[2] if n > 2 else 0,
        client_order_id=v[3] if n > 3 else "",
    )
