"""Commands: the engine's only input. The sequencer stamps ``seq`` and ``ts`` before the engine
sees them, so ids and time are inputs (a placed order's id *is* its command's ``seq``).

Money fields are integers in minor units (see :mod:`cambist.domain.money`). Each command class has
a stable tag in :data:`COMMAND_TAGS` for the log's codec; never renumber one.

Like events, commands are slotted dataclasses with a hand-written keyword-only ``__init__``
(``init=False``): compiled with mypyc a written ``__init__`` is native code, while the one
:mod:`dataclasses` generates stays interpreted (the gateway builds a ``PlaceOrder`` per order;
measured ~7.5k instructions through the generated one). Each takes ``seq``, ``ts`` and then the
fields in declaration order with the same defaults, which a test checks.
"""

from __future__ import annotations

from dataclasses import dataclass

from cambist.domain.types import OrderType, SelfTradePrevention, Side, TimeInForce


@dataclass(slots=True, kw_only=True)
class Command:
    """Base of every command. ``seq``: log position; ``ts``: sequencer time, ns since the epoch."""

    seq: int = 0
    ts: int = 0


@dataclass(slots=True, kw_only=True, init=False)
class CreateAsset(Command):
    asset: str
    scale: int

    def __init__(
        self,
        *,
        seq: int = 0,
        ts: int = 0,
        asset: str,
        scale: int,
    ) -> None:
        self.seq = seq
        self.ts = ts
        self.asset = asset
        self.scale = scale


@dataclass(slots=True, kw_only=True, init=False)
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

    def __init__(
        self,
        *,
        seq: int = 0,
        ts: int = 0,
        market: str,
        base: str,
        quote: str,
        tick: int,
        lot: int,
        min_quantity: int,
        max_quantity: int,
        min_notional: int = 0,
        band_bps: int = 0,
        maker_fee_bps: int = 0,
        taker_fee_bps: int = 0,
    ) -> None:
        self.seq = seq
        self.ts = ts
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


@dataclass(slots=True, kw_only=True, init=False)
class SetMarketStatus(Command):
    market: str
    halted: bool

    def __init__(
        self,
        *,
        seq: int = 0,
        ts: int = 0,
        market: str,
        halted: bool,
    ) -> None:
        self.seq = seq
        self.ts = ts
        self.market = market
        self.halted = halted


@dataclass(slots=True, kw_only=True, init=False)
class CreateAccount(Command):
    account: int

    def __init__(
        self,
        *,
        seq: int = 0,
        ts: int = 0,
        account: int,
    ) -> None:
        self.seq = seq
        self.ts = ts
        self.account = account


@dataclass(slots=True, kw_only=True, init=False)
class Deposit(Command):
    account: int
    asset: str
    amount: int
    reference: str

    def __init__(
        self,
        *,
        seq: int = 0,
        ts: int = 0,
        account: int,
        asset: str,
        amount: int,
        reference: str,
    ) -> None:
        self.seq = seq
        self.ts = ts
        self.account = account
        self.asset = asset
        self.amount = amount
        self.reference = reference


@dataclass(slots=True, kw_only=True, init=False)
class Withdraw(Command):
    account: int
    asset: str
    amount: int
    reference: str

    def __init__(
        self,
        *,
        seq: int = 0,
        ts: int = 0,
        account: int,
        asset: str,
        amount: int,
        reference: str,
    ) -> None:
        self.seq = seq
        self.ts = ts
        self.account = account
        self.asset = asset
        self.amount = amount
        self.reference = reference


@dataclass(slots=True, kw_only=True, init=False)
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

    def __init__(
        self,
        *,
        seq: int = 0,
        ts: int = 0,
        account: int,
        market: str,
        side: Side,
        order_type: OrderType = OrderType.LIMIT,
        time_in_force: TimeInForce = TimeInForce.GTC,
        price: int = 0,
        quantity: int = 0,
        quote_quantity: int = 0,
        stop_price: int = 0,
        expire_ts: int = 0,
        post_only: bool = False,
        client_order_id: str = "",
        stp: SelfTradePrevention = SelfTradePrevention.CANCEL_NEWEST,
    ) -> None:
        self.seq = seq
        self.ts = ts
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
        self.client_order_id = client_order_id
        self.stp = stp


@dataclass(slots=True, kw_only=True, init=False)
class CancelOrder(Command):
    """Cancel by ``order_id``, or (when it is 0) by the account's ``client_order_id``."""

    account: int
    order_id: int = 0
    client_order_id: str = ""

    def __init__(
        self,
        *,
        seq: int = 0,
        ts: int = 0,
        account: int,
        order_id: int = 0,
        client_order_id: str = "",
    ) -> None:
        self.seq = seq
        self.ts = ts
        self.account = account
        self.order_id = order_id
        self.client_order_id = client_order_id


@dataclass(slots=True, kw_only=True, init=False)
class CancelAll(Command):
    """Cancel every live order of the account, or only those in ``market`` when given."""

    account: int
    market: str = ""

    def __init__(
        self,
        *,
        seq: int = 0,
        ts: int = 0,
        account: int,
        market: str = "",
    ) -> None:
        self.seq = seq
        self.ts = ts
        self.account = account
        self.market = market


@dataclass(slots=True, kw_only=True, init=False)
class AmendOrder(Command):
    """New limit ``price`` and/or new total ``quantity`` (0 = unchanged).

    Reducing the quantity keeps time priority; a price change or a quantity increase loses it.
    """

    account: int
    order_id: int
    price: int = 0
    quantity: int = 0

    def __init__(
        self,
        *,
        seq: int = 0,
        ts: int = 0,
        account: int,
        order_id: int,
        price: int = 0,
        quantity: int = 0,
    ) -> None:
        self.seq = seq
        self.ts = ts
        self.account = account
        self.order_id = order_id
        self.price = price
        self.quantity = quantity


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
