"""Events: every state change the engine makes, in order. Read models and gateways fold these.

Events carry no ``seq``/``ts``: the engine returns them per command, and whoever publishes them
pairs them with that command's ``seq`` and ``ts``. Money fields are integers in minor units.
Fee assets follow from the side: a buyer pays its fee in the base asset (what it receives), a
seller in the quote asset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from cambist.domain.reasons import Reject
from cambist.domain.types import (
    CancelReason,
    MarketStatus,
    OrderStatus,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
)


@dataclass(slots=True, kw_only=True)
class Event:
    TAG: ClassVar[int] = 0


@dataclass(slots=True, kw_only=True)
class AssetCreated(Event):
    TAG: ClassVar[int] = 1
    asset: str
    scale: int


@dataclass(slots=True, kw_only=True)
class MarketCreated(Event):
    TAG: ClassVar[int] = 2
    market: str
    base: str
    quote: str
    tick: int
    lot: int
    min_quantity: int
    max_quantity: int
    min_notional: int
    band_bps: int
    maker_fee_bps: int
    taker_fee_bps: int


@dataclass(slots=True, kw_only=True)
class MarketStatusChanged(Event):
    TAG: ClassVar[int] = 3
    market: str
    status: MarketStatus


@dataclass(slots=True, kw_only=True)
class AccountCreated(Event):
    TAG: ClassVar[int] = 4
    account: int


@dataclass(slots=True, kw_only=True)
class Deposited(Event):
    TAG: ClassVar[int] = 5
    account: int
    asset: str
    amount: int
    reference: str


@dataclass(slots=True, kw_only=True)
class Withdrawn(Event):
    TAG: ClassVar[int] = 6
    account: int
    asset: str
    amount: int
    reference: str


@dataclass(slots=True, kw_only=True)
class CommandRejected(Event):
    """A command that changed nothing. ``order_id`` is the order it named or would have created."""

    TAG: ClassVar[int] = 7
    account: int
    reason: Reject
    command: str
    order_id: int = 0
    client_order_id: str = ""


@dataclass(slots=True, kw_only=True)
class OrderAccepted(Event):
    """An order passed validation and risk; ``reserved`` of its spend asset is now held for it."""

    TAG: ClassVar[int] = 8
    order_id: int
    account: int
    market: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    price: int
    quantity: int
    quote_quantity: int
    stop_price: int
    expire_ts: int
    post_only: bool
    stp: SelfTradePrevention
    client_order_id: str
    status: OrderStatus
    reserved: int


@dataclass(slots=True, kw_only=True)
class OrderTriggered(Event):
    """A stop order's trigger price was crossed; it now enters the book as a taker."""

    TAG: ClassVar[int] = 9
    order_id: int
    account: int
    market: str
    last_price: int


@dataclass(slots=True, kw_only=True)
class Trade(Event):
    """One fill between a taker and a maker, settled atomically in the same command.

    ``taker_reserve_used``: what the taker's reservation shrank by (for a limit buy, its own limit
    price times the quantity; the difference to ``quote_amount`` went back to available).
    """

    TAG: ClassVar[int] = 10
    trade_id: int
    market: str
    price: int
    quantity: int
    quote_amount: int
    taker_side: Side
    taker_order_id: int
    taker_account: int
    maker_order_id: int
    maker_account: int
    taker_fee: int
    maker_fee: int
    taker_reserve_used: int
    taker_remaining: int
    maker_remaining: int


@dataclass(slots=True, kw_only=True)
class OrderCancelled(Event):
    """An order left the book (or never rested) unfilled in part; ``released`` went back."""

    TAG: ClassVar[int] = 11
    order_id: int
    account: int
    market: str
    reason: CancelReason
    remaining: int
    released: int


@dataclass(slots=True, kw_only=True)
class OrderExpired(Event):
    TAG: ClassVar[int] = 12
    order_id: int
    account: int
    market: str
    remaining: int
    released: int


@dataclass(slots=True, kw_only=True)
class OrderAmended(Event):
    """New price/quantity. ``reserved_delta`` > 0 took more funds; < 0 released some.

    Also used when self-trade prevention decrements an order (``reason`` says which).
    """

    TAG: ClassVar[int] = 13
    order_id: int
    account: int
    market: str
    price: int
    quantity: int
    remaining: int
    reserved_delta: int
    priority_kept: bool
    reason: str = "user"


@dataclass(slots=True, kw_only=True)
class ReservationReleased(Event):
    """A filled order's unspent reservation (price improvement of a market buy, dust of a budget)
    went back to available."""

    TAG: ClassVar[int] = 14
    order_id: int
    account: int
    market: str
    released: int


EVENT_TYPES: tuple[type[Event], ...] = (
    AssetCreated,
    MarketCreated,
    MarketStatusChanged,
    AccountCreated,
    Deposited,
    Withdrawn,
    CommandRejected,
    OrderAccepted,
    OrderTriggered,
    Trade,
    OrderCancelled,
    OrderExpired,
    OrderAmended,
    ReservationReleased,
)
