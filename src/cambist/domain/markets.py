"""Reference data: assets with a scale, markets with their trading rules."""

from __future__ import annotations

from dataclasses import dataclass

from cambist.domain.money import mul_div
from cambist.domain.types import MarketStatus

MAX_SCALE = 18


@dataclass(slots=True)
class Asset:
    symbol: str
    scale: int


@dataclass(slots=True, kw_only=True)
class Market:
    """A market's rules, in integer minor units (see :mod:`cambist.domain.money`).

    ``base_unit`` (10**base scale) converts price x quantity into quote minor units:
    ``notional = price * quantity // base_unit``, exact because ``tick * lot`` is a multiple of
    ``base_unit`` (checked when the market is created).
    """

    name: str
    base: str
    quote: str
    base_unit: int
    tick: int
    lot: int
    min_quantity: int
    max_quantity: int
    min_notional: int
    band_bps: int
    maker_fee_bps: int
    taker_fee_bps: int
    status: MarketStatus = MarketStatus.OPEN

    def notional(self, price: int, quantity: int) -> int:
        return mul_div(price, quantity, self.base_unit)


def market_spec_problem(
    *,
    base_scale: int,
    tick: int,
    lot: int,
    min_quantity: int,
    max_quantity: int,
    min_notional: int,
    band_bps: int,
    maker_fee_bps: int,
    taker_fee_bps: int,
) -> str | None:
    """Return why a market spec is unusable, or None when it is sound."""
    if tick <= 0 or lot <= 0:
        return "tick and lot must be positive"
    if (tick * lot) % (10**base_scale) != 0:
        return "tick x lot must be a whole number of quote minor units"
    if (
        min_quantity < lot
        or min_quantity % lot
        or max_quantity % lot
        or max_quantity < min_quantity
    ):
        return "min/max quantity must be multiples of the lot, min >= lot, max >= min"
    if min_notional < 0 or not 0 <= band_bps < 10_000:
        return "min notional must be >= 0 and the band within [0, 10000) bps"
    if not (0 <= maker_fee_bps <= 1_000 and 0 <= taker_fee_bps <= 1_000):
        return "fees must be within [0, 1000] bps"
    return None
