"""Shape checks of a new order against its market's rules, before any funds move.

Returns a :class:`Reject` or None; never raises. Kept apart from the engine so the rules read as
one list, in the order a client would want to hear about them.
"""

from __future__ import annotations

from typing import Final

from cambist.domain.commands import PlaceOrder
from cambist.domain.matching import MarketState
from cambist.domain.money import MAX_UNITS, SHORT_UNITS, mul_div
from cambist.domain.reasons import Reject
from cambist.domain.types import OrderType, Side, TimeInForce

# Enum members as module constants: attribute access on an Enum class costs ~7x a global.
_OT_LIMIT: Final = OrderType.LIMIT
_OT_STOP_LIMIT: Final = OrderType.STOP_LIMIT
_OT_STOP_MARKET: Final = OrderType.STOP_MARKET
_SIDE_BUY: Final = Side.BUY
_TIF_GTC: Final = TimeInForce.GTC
_TIF_GTD: Final = TimeInForce.GTD
_TIF_IOC: Final = TimeInForce.IOC

_LIMIT_TYPES: Final = (_OT_LIMIT, _OT_STOP_LIMIT)
_STOP_TYPES: Final = (_OT_STOP_LIMIT, _OT_STOP_MARKET)
_IMMEDIATE: Final = (_TIF_GTC, _TIF_IOC)


def quantity_problem(ms: MarketState, quantity: int) -> Reject | None:
    spec = ms.spec
    if quantity <= 0:
        return Reject.INVALID_QUANTITY
    if quantity % spec.lot:
        return Reject.INVALID_QUANTITY_LOT
    if quantity < spec.min_quantity:
        return Reject.QUANTITY_BELOW_MINIMUM
    if quantity > spec.max_quantity:
        return Reject.QUANTITY_ABOVE_MAXIMUM
    return None


def price_problem(ms: MarketState, price: int, *, check_band: bool) -> Reject | None:
    if price <= 0:
        return Reject.INVALID_PRICE
    if price % ms.spec.tick:
        return Reject.INVALID_PRICE_TICK
    if check_band:
        low, high = ms.band()
        if not low <= price <= high:
            return Reject.PRICE_OUT_OF_BAND
    return None


def place_problem(cmd: PlaceOrder, ms: MarketState) -> Reject | None:
    """Why ``cmd`` cannot be accepted in ``ms`` as it stands, or None."""
    if _plain_limit_ok(cmd, ms):
        return None
    return _place_problem(cmd, ms)


def _plain_limit_ok(cmd: PlaceOrder, ms: MarketState) -> bool:
    """The common case in one expression: a plain GTC/IOC/FOK limit order that passes every check
    of :func:`_place_problem`. False means only "look closer", never a verdict."""
    spec = ms.spec
    price, quantity = cmd.price, cmd.quantity
    if not (
        cmd.order_type is _OT_LIMIT
        and cmd.time_in_force is not _TIF_GTD
        and not (cmd.stop_price or cmd.quote_quantity or cmd.expire_ts or cmd.post_only)
        and 0 < price <= SHORT_UNITS
        and price % spec.tick == 0
        and spec.min_quantity <= quantity <= spec.max_quantity
        and quantity % spec.lot == 0
        and mul_div(price, quantity, spec.base_unit) >= spec.min_notional
    ):
        return False
    last, bps = ms.last_price, spec.band_bps
    if bps and last:
        width = mul_div(last, bps, 10_000)
        return last - width <= price <= last + width
    return True


def _place_problem(cmd: PlaceOrder, ms: MarketState) -> Reject | None:
    if cmd.price > MAX_UNITS or cmd.price < 0:
        return Reject.INVALID_PRICE
    if cmd.stop_price > MAX_UNITS or cmd.stop_price < 0:
        return Reject.INVALID_STOP_PRICE
    if cmd.quote_quantity > MAX_UNITS:
        return Reject.INVALID_AMOUNT
    if not 0 <= cmd.expire_ts <= MAX_UNITS:
        return Reject.INVALID_EXPIRE_TIME
    spec = ms.spec
    order_type, tif = cmd.order_type, cmd.time_in_force
    is_stop = order_type in _STOP_TYPES
    if tif is _TIF_GTD:
        if cmd.expire_ts <= cmd.ts:
            return Reject.INVALID_EXPIRE_TIME
    elif cmd.expire_ts:
        return Reject.INVALID_EXPIRE_TIME
    if cmd.post_only and (order_type is not _OT_LIMIT):
        return Reject.INVALID_ORDER_TYPE
    if order_type in _LIMIT_TYPES:
        if cmd.quote_quantity:
            return Reject.INVALID_QUANTITY
        if cmd.post_only and tif not in (_TIF_GTC, _TIF_GTD):
            return Reject.INVALID_TIME_IN_FORCE
        problem = price_problem(ms, cmd.price, check_band=not is_stop) or quantity_problem(
            ms, cmd.quantity
        )
        if problem:
            return problem
        if spec.notional(cmd.price, cmd.quantity) < spec.min_notional:
            return Reject.NOTIONAL_BELOW_MINIMUM
    else:
        if cmd.price:
            return Reject.INVALID_PRICE
        if tif not in _IMMEDIATE:
            return Reject.INVALID_TIME_IN_FORCE
        if cmd.quote_quantity:
            if cmd.side is not _SIDE_BUY or cmd.quantity or is_stop:
                return Reject.INVALID_QUANTITY
            if cmd.quote_quantity < 0:
                return Reject.INVALID_AMOUNT
            if cmd.quote_quantity < max(spec.min_notional, 1):
                return Reject.NOTIONAL_BELOW_MINIMUM
        else:
            problem = quantity_problem(ms, cmd.quantity)
            if problem:
                return problem
    if is_stop:
        stop = cmd.stop_price
        if stop <= 0 or stop % spec.tick:
            return Reject.INVALID_STOP_PRICE
        last = ms.last_price
        if last and (last >= stop if cmd.side is _SIDE_BUY else last <= stop):
            return Reject.STOP_WOULD_TRIGGER
    elif cmd.stop_price:
        return Reject.INVALID_STOP_PRICE
    return None
