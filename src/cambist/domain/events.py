"""Events: every state change the engine makes, in order. Read models and gateways fold these.

Events are slotted dataclasses (fields, ``__eq__`` and ``__repr__`` for the codec and the tests)
with a hand-written ``__init__`` (``init=False``): compiled with mypyc, a written ``__init__`` is
native code, while the one :mod:`dataclasses` generates stays interpreted (measured 6.5x slower
per event; it was a quarter of an amend's instructions). Each ``__init__`` takes the fields in
declaration order, which a test checks. The engine builds the hot ones positionally (keywords
cost 3-4x on CPython). Events carry no ``seq``/``ts``:
the engine returns them per command, and whoever publishes them pairs them with that command's
``seq`` and ``ts``. Money fields are integers in minor units.
Fee assets follow from the side: a buyer pays its fee in the base asset (what it receives), a
seller in the quote asset.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(slots=True)
class Event:
    """Base of every event (see the module docstring for what events carry and why)."""


@dataclass(slots=True, init=False)
class AssetCreated(Event):
    asset: str
    scale: int

    def __init__(self, asset: str, scale: int) -> None:
        self.asset = asset
        self.scale = scale


@dataclass(slots=True, init=False)
class MarketCreated(Event):
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

    def __init__(
        self,
        market: str,
        base: str,
        quote: str,
        tick: int,
        lot: int,
        min_quantity: int,
        max_quantity: int,
        min_notional: int,
        band_bps: int,
        maker_fee_bps: int,
        taker_fee_bps: int,
    ) -> None:
        self.market = market
        self.base = base
        self.quote = quote
        self.tick = tick
        self.lot = lot
        self.min_quantity = min_quantity
        self.max_quantity = max_quantity
        self.min_notional = min_notional
        self.band_bps = band_bps
        self.maker_fee_bps = maker_fee_bps
        self.taker_fee_bps = taker_fee_bps


@dataclass(slots=True, init=False)
class MarketStatusChanged(Event):
    market: str
    status: MarketStatus

    def __init__(self, market: str, status: MarketStatus) -> None:
        self.market = market
        self.status = status


@dataclass(slots=True, init=False)
class AccountCreated(Event):
    account: int

    def __init__(self, account: int) -> None:
        self.account = account


@dataclass(slots=True, init=False)
class Deposited(Event):
    account: int
    asset: str
    amount: int
    reference: str

    def __init__(self, account: int, asset: str, amount: int, reference: str) -> None:
        self.account = account
        self.asset = asset
        self.amount = amount
        self.reference = reference


@dataclass(slots=True, init=False)
class Withdrawn(Event):
    account: int
    asset: str
    amount: int
    reference: str

    def __init__(self, account: int, asset: str, amount: int, reference: str) -> None:
        self.account = account
        self.asset = asset
        self.amount = amount
        self.reference = reference


@dataclass(slots=True, init=False)
class CommandRejected(Event):
    """A command that changed nothing. ``order_id`` is the order it named or would have created."""

    account: int
    reason: Reject
    command: str
    order_id: int = 0
    client_order_id: str = ""

    def __init__(
        self,
        account: int,
        reason: Reject,
        command: str,
        order_id: int = 0,
        client_order_id: str = "",
    ) -> None:
        self.account = account
        self.reason = reason
        self.command = command
        self.order_id = order_id
        self.client_order_id = client_order_id


@dataclass(slots=True, init=False)
class OrderAccepted(Event):
    """An order passed validation and risk; ``reserved`` of its spend asset is now held for it."""

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

    def __init__(
        self,
        order_id: int,
        account: int,
        market: str,
        side: Side,
        order_type: OrderType,
        time_in_force: TimeInForce,
        price: int,
        quantity: int,
        quote_quantity: int,
        stop_price: int,
        expire_ts: int,
        post_only: bool,
        stp: SelfTradePrevention,
        client_order_id: str,
        status: OrderStatus,
        reserved: int,
    ) -> None:
        self.order_id = order_id
        self.account = account
        self.market = market
        self.side = side
        self.order_type = order_type
        self.time_in_force = time_in_force
        self.price = price
        self.quantity = quantity
        self.quote_quantity = quote_quantity
        self.stop_price = stop_price
        self.expire_ts = expire_ts
        self.post_only = post_only
        self.stp = stp
        self.client_order_id = client_order_id
        self.status = status
        self.reserved = reserved


@dataclass(slots=True, init=False)
class OrderTriggered(Event):
    """A stop order's trigger price was crossed; it now enters the book as a taker."""

    order_id: int
    account: int
    market: str
    last_price: int

    def __init__(self, order_id: int, account: int, market: str, last_price: int) -> None:
        self.order_id = order_id
        self.account = account
        self.market = market
        self.last_price = last_price


@dataclass(slots=True, init=False)
class Trade(Event):
    """One fill between a taker and a maker, settled atomically in the same command.

    ``taker_reserve_used``: what the taker's reservation shrank by (for a limit buy, its own limit
    price times the quantity; the difference to ``quote_amount`` went back to available).
    """

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

    def __init__(
        self,
        trade_id: int,
        market: str,
        price: int,
        quantity: int,
        quote_amount: int,
        taker_side: Side,
        taker_order_id: int,
        taker_account: int,
        maker_order_id: int,
        maker_account: int,
        taker_fee: int,
        maker_fee: int,
        taker_reserve_used: int,
        taker_remaining: int,
        maker_remaining: int,
    ) -> None:
        self.trade_id = trade_id
        self.market = market
        self.price = price
        self.quantity = quantity
        self.quote_amount = quote_amount
        self.taker_side = taker_side
        self.taker_order_id = taker_order_id
        self.taker_account = taker_account
        self.maker_order_id = maker_order_id
        self.maker_account = maker_account
        self.taker_fee = taker_fee
        self.maker_fee = maker_fee
        self.taker_reserve_used = taker_reserve_used
        self.taker_remaining = taker_remaining
        self.maker_remaining = maker_remaining


@dataclass(slots=True, init=False)
class OrderCancelled(Event):
    """An order left the book (or never rested) unfilled in part; ``released`` went back."""

    order_id: int
    account: int
    market: str
    reason: CancelReason
    remaining: int
    released: int

    def __init__(
        self,
        order_id: int,
        account: int,
        market: str,
        reason: CancelReason,
        remaining: int,
        released: int,
    ) -> None:
        self.order_id = order_id
        self.account = account
        self.market = market
        self.reason = reason
        self.remaining = remaining
        self.released = released


@dataclass(slots=True, init=False)
class OrderExpired(Event):
    order_id: int
    account: int
    market: str
    remaining: int
    released: int

    def __init__(
        self, order_id: int, account: int, market: str, remaining: int, released: int
    ) -> None:
        self.order_id = order_id
        self.account = account
        self.market = market
        self.remaining = remaining
        self.released = released


@dataclass(slots=True, init=False)
class OrderAmended(Event):
    """New price/quantity. ``reserved_delta`` > 0 took more funds; < 0 released some.

    Also used when self-trade prevention decrements an order (``reason`` says which).
    """

    order_id: int
    account: int
    market: str
    price: int
    quantity: int
    remaining: int
    reserved_delta: int
    priority_kept: bool
    reason: str = "user"

    def __init__(
        self,
        order_id: int,
        account: int,
        market: str,
        price: int,
        quantity: int,
        remaining: int,
        reserved_delta: int,
        priority_kept: bool,
        reason: str = "user",
    ) -> None:
        self.order_id = order_id
        self.account = account
        self.market = market
        self.price = price
        self.quantity = quantity
        self.remaining = remaining
        self.reserved_delta = reserved_delta
        self.priority_kept = priority_kept
        self.reason = reason


@dataclass(slots=True, init=False)
class ReservationReleased(Event):
    """An order completed as filled, and its unspent reservation (a market buy's price improvement
    or the dust of its budget) went back to available; ``released`` may be 0.

    Emitted for every filled market buy (by quote amount its ``remaining`` never reaches 0, so
    trades alone cannot say it is done) and for any other filled order that still held funds."""

    order_id: int
    account: int
    market: str
    released: int

    def __init__(self, order_id: int, account: int, market: str, released: int) -> None:
        self.order_id = order_id
        self.account = account
        self.market = market
        self.released = released


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

EVENT_TAGS: dict[type[Event], int] = {cls: tag for tag, cls in enumerate(EVENT_TYPES, start=1)}
"""Stable wire tags for the log's codec: a type's position in :data:`EVENT_TYPES`. Append new
types at the end; never reorder (mypyc cannot compile a ClassVar tag on the dataclasses)."""
