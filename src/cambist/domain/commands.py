"""Commands: the engine's only input. The sequencer stamps ``seq`` and ``ts`` before the engine
sees them, so ids and time are inputs (a placed order's id *is* its command's ``seq``).

Money fields are integers in minor units (see :mod:`cambist.domain.money`). Each command class has
a stable tag in :data:`COMMAND_TAGS` for the log's codec; never renumber one.
"""

from __future__ import annotations

from dataclasses import dataclass

from cambist.domain.types import OrderType, SelfTradePrevention, Side, TimeInForce


@dataclass(slots=True, kw_only=True)
class Command:
    """Base of every command. ``seq``: log position; ``ts``: sequencer time, ns since the epoch."""

    seq: int = 0
    ts: int = 0


@dataclass(slots=True, kw_only=True)
class CreateAsset(Command):
    asset: str
    scale: int


@dataclass(slots=True, kw_only=True)
class CreateMarket(Command):
    """Prices in quote minor units per whole base unit; quantities in base minor units.

    ``band_bps``: orders priced more than this many basis points from the last trade are rejected
    (0 disables the band). ``tick * lot`` must be a whole number of quote minor units per lot.
    """

    market: str
    base: str
    quote: str
    tick: int
    lot: int
    min_quantity: int
    max_quantity: int
    min_notional: int = 0
    band_bps: int = 0
    maker_fee_bps: int = 0
    taker_fee_bps: int = 0


@dataclass(slots=True, kw_only=True)
class SetMarketStatus(Command):
    market: str
    halted: bool


@dataclass(slots=True, kw_only=True)
class CreateAccount(Command):
    account: int


@dataclass(slots=True, kw_only=True)
class Deposit(Command):
    account: int
    asset: str
    amount: int
    reference: str


@dataclass(slots=True, kw_only=True)
class Withdraw(Command):
    account: int
    asset: str
    amount: int
    reference: str


@dataclass(slots=True, kw_only=True)
class PlaceOrder(Command):
    """A new order; its id will be this command's ``seq``.

    ``price``: limit price (limit and stop_limit). ``quantity``: base quantity; a market buy may
    instead give ``quote_quantity`` (spend this much quote). ``expire_ts``: for GTD, in ns.
    """

    account: int
    market: str
    side: Side
    order_type: OrderType = OrderType.LIMIT
    time_in_force: TimeInForce = TimeInForce.GTC
    price: int = 0
    quantity: int = 0
    quote_quantity: int = 0
    stop_price: int = 0
    expire_ts: int = 0
    post_only: bool = False
    client_order_id: str = ""
    stp: SelfTradePrevention = SelfTradePrevention.CANCEL_NEWEST


@dataclass(slots=True, kw_only=True)
class CancelOrder(Command):
    """Cancel by ``order_id``, or (when it is 0) by the account's ``client_order_id``."""

    account: int
    order_id: int = 0
    client_order_id: str = ""


@dataclass(slots=True, kw_only=True)
class CancelAll(Command):
    """Cancel every live order of the account, or only those in ``market`` when given."""

    account: int
    market: str = ""


@dataclass(slots=True, kw_only=True)
class AmendOrder(Command):
    """New limit ``price`` and/or new total ``quantity`` (0 = unchanged).

    Reducing the quantity keeps time priority; a price change or a quantity increase loses it.
    """

    account: int
    order_id: int
    price: int = 0
    quantity: int = 0


COMMAND_TYPES: tuple[type[Command], ...] = (
    CreateAsset,
    CreateMarket,
    SetMarketStatus,
    CreateAccount,
    Deposit,
    Withdraw,
    PlaceOrder,
    CancelOrder,
    CancelAll,
    AmendOrder,
)

COMMAND_TAGS: dict[type[Command], int] = {
    cls: tag for tag, cls in enumerate(COMMAND_TYPES, start=1)
}
"""Stable wire tags for the log's codec: a type's position in :data:`COMMAND_TYPES`. Append new
types at the end; never reorder (mypyc cannot compile a ClassVar tag on the dataclasses)."""
