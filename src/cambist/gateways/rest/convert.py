"""Between the wire and the engine: decimal text to integer minor units and back.

Parsing refuses (never rounds): text with more decimals than the asset's scale is off the tick
or lot by construction, and is reported with the engine's own code for that (``invalid_price_tick``
or ``invalid_quantity_lot``), so a client sees the same word whichever layer caught it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from cambist.domain.money import DecimalFormatError, format_units, parse_units
from cambist.domain.reasons import Reject
from cambist.domain.types import OrderStatus, OrderType, Side, TimeInForce
from cambist.gateways.rest import wire
from cambist.gateways.rest.errors import ApiError
from cambist.gateways.rest.view import FillRec, MarketView, OrderState, PublicTrade, iso

MAX_UNITS = 2**63 - 1
"""No amount in minor units may exceed this: the log stores 64-bit integers (and no real price or
quantity comes near it)."""

_FORMAT_CODE = {
    "price": (Reject.INVALID_PRICE, Reject.INVALID_PRICE_TICK),
    "stop_price": (Reject.INVALID_STOP_PRICE, Reject.INVALID_STOP_PRICE),
    "quantity": (Reject.INVALID_QUANTITY, Reject.INVALID_QUANTITY_LOT),
    "quote_quantity": (Reject.INVALID_QUANTITY, Reject.INVALID_QUANTITY_LOT),
    "amount": (Reject.INVALID_AMOUNT, Reject.INVALID_AMOUNT),
}
_PLAIN = re.compile(r"[0-9]{1,40}(?:\.[0-9]{1,40})?")
_POW10: list[int] = [10**i for i in range(40)]
_UNITS_CACHE: list[dict[str, int]] = [{} for _ in range(31)]


def plain_units(text: str, scale: int) -> int:
    """Minor units of ``digits[.digits]`` text (at most 20 whole digits, at most ``scale`` and
    30 decimals, at most ``MAX_UNITS``), else -1. Whatever it accepts also matches the wire's
    ``Decimal`` pattern, so the order fast path can skip that regex.

    Orders repeat the same prices and sizes, so the value is remembered per scale (as
    :func:`fmt` remembers text): a dict hit is a fifth of the split and ``int`` calls.
    """
    cache = _UNITS_CACHE[scale] if scale < 31 else None
    if cache is not None:
        known = cache.get(text)
        if known is not None:
            return known
    whole, dot, frac = text.partition(".")
    if (
        whole.isascii() and whole.isdigit() and len(whole) <= 20
        and (not dot or (frac.isascii() and frac.isdigit() and len(frac) <= scale <= 30))
    ):  # fmt: skip
        value = int(whole) * _POW10[scale] + (int(frac) * _POW10[scale - len(frac)] if frac else 0)
        if value <= MAX_UNITS:
            if cache is not None:
                if len(cache) >= 65_536:
                    cache.clear()
                cache[text] = value
            return value
    return -1


def units(text: str | None, scale: int, field: str) -> int:
    """Parse a non-negative decimal string into minor units (0 for None).

    The hot path (text already matched the wire pattern ``digits[.digits]``) is
    :func:`plain_units`; anything else goes through :func:`parse_units` for the exact error.
    """
    if text is None:
        return 0
    value = plain_units(text, scale)
    if value >= 0:
        return value
    bad_text, bad_grid = _FORMAT_CODE.get(field, ("invalid_field", "invalid_field"))
    if _PLAIN.fullmatch(text) is None:
        raise ApiError(str(bad_text), f"{field} must be a non-negative decimal string", field)
    try:
        value = parse_units(text, scale)
    except DecimalFormatError:
        raise ApiError(
            str(bad_grid), f"{field} has more than {scale} decimals: off the grid", field
        ) from None
    if value > MAX_UNITS:
        raise ApiError(str(bad_text), f"{field} is too large", field)
    return value


def fmt(value: int, scale: int) -> str:
    """:func:`format_units` for non-negative values, without the sign handling (hot path).

    Answers repeat the same few prices and quantities (a book's levels, the usual sizes, zero),
    so the text is remembered per scale: a dict hit costs a fifth of the formatting.
    """
    cache = _FMT_CACHE[scale] if scale < 40 else None
    if cache is not None:
        text = cache.get(value)
        if text is not None:
            return text
    if value < 0 or scale == 0:
        return format_units(value, scale)
    text = _FMT[scale] % divmod(value, _POW10[scale])
    if cache is not None:
        if len(cache) >= 65_536:
            cache.clear()
        cache[value] = text
    return text


_FMT = ["%d"] + [f"%d.%0{n}d" for n in range(1, 40)]
_FMT_CACHE: list[dict[int, str]] = [{} for _ in range(40)]
_TEXT: dict[str, Any] = {
    m: m.value for kind in (Side, OrderType, TimeInForce, OrderStatus) for m in kind
}
"""An enum member's plain text (typed Any: it fills the wire's Literal fields): a dict hit, where
``.value`` is a slow descriptor and msgspec's enum path is slower than a plain str."""


def parse_time(text: str, field: str) -> int:
    """RFC 3339 text to integer nanoseconds since the epoch (microsecond precision)."""
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError("invalid_field", f"{field} is not an RFC 3339 time", field) from None
    if dt.tzinfo is None:
        raise ApiError("invalid_field", f"{field} needs a time zone (use Z)", field)
    delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    if not 0 <= micros < MAX_UNITS // 1_000:
        raise ApiError("invalid_field", f"{field} is out of range", field)
    return micros * 1_000


def _opt(value: int, scale: int) -> str | None:
    return fmt(value, scale) if value else None


def market_out(m: MarketView, assets: dict[str, int]) -> wire.MarketOut:
    qs, bs = assets[m.quote], assets[m.base]
    return wire.MarketOut(
        market=m.name, base=m.base, quote=m.quote, tick_size=fmt(m.tick, qs),
        lot_size=fmt(m.lot, bs), min_quantity=fmt(m.min_quantity, bs),
        max_quantity=fmt(m.max_quantity, bs),
        min_notional=fmt(m.min_notional, qs), maker_fee_bps=m.maker_fee_bps,
        taker_fee_bps=m.taker_fee_bps, status=m.status.value,
    )  # fmt: skip


def order_out(o: OrderState, m: MarketView, assets: dict[str, int]) -> wire.OrderOut:
    qs, bs = assets[m.quote], assets[m.base]
    by_budget = bool(o.quote_quantity) and not o.quantity
    status = o.status
    remaining = 0 if by_budget or status is OrderStatus.FILLED else o.remaining
    filled = o.filled
    created = iso(o.created_ts)
    return wire.OrderOut(
        o.order_id,
        o.client_order_id or None,
        o.market,
        _TEXT[o.side],
        _TEXT[o.order_type],
        _TEXT[o.time_in_force],
        fmt(o.price, qs) if o.price else None,
        fmt(o.stop_price, qs) if o.stop_price else None,
        fmt(o.quantity, bs),
        fmt(o.quote_quantity, qs) if o.quote_quantity else None,
        fmt(filled, bs),
        fmt(remaining, bs),
        fmt(o.filled_quote * _POW10[bs] // filled, qs) if filled else None,
        _TEXT[status],
        o.reason or None,
        created,
        created if o.updated_ts == o.created_ts else iso(o.updated_ts),
        o.seq,
    )


def fill_out(f: FillRec, m: MarketView, assets: dict[str, int]) -> wire.FillOut:
    qs, bs = assets[m.quote], assets[m.base]
    return wire.FillOut(
        trade_id=f.trade_id, order_id=f.order_id, market=f.market, side=_TEXT[f.side],
        price=fmt(f.price, qs), quantity=fmt(f.quantity, bs),
        fee=fmt(f.fee, assets[f.fee_asset]), fee_asset=f.fee_asset,
        liquidity="maker" if f.liquidity == "maker" else "taker", time=iso(f.ts), sequence=f.seq,
    )  # fmt: skip


def trade_out(t: PublicTrade, m: MarketView, assets: dict[str, int]) -> wire.PublicTradeOut:
    return wire.PublicTradeOut(
        trade_id=t.trade_id, market=t.market, price=fmt(t.price, assets[m.quote]),
        quantity=fmt(t.quantity, assets[m.base]), taker_side=t.taker_side.value,
        time=iso(t.ts), sequence=t.seq,
    )  # fmt: skip
