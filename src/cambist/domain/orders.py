"""The live order: a mutable record the book links into its price level's FIFO queue."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cambist.domain.types import (
    OrderStatus,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
)

if TYPE_CHECKING:
    from cambist.domain.book import PriceLevel
    from cambist.domain.wallets import Balance


class Order:
    """One order. ``reserved`` is what is still held for it in its spend asset.

    ``spend``/``receive`` point at the account's balances (quote/base for a buy, base/quote for a
    sell), bound once by the risk stage so settling a fill needs no dictionary look-ups.
    ``budget`` caps a market buy's spending (its reservation); unused for every other order.
    """

    __slots__ = (
        "account",
        "budget",
        "budgeted",
        "client_order_id",
        "created_ts",
        "expire_ts",
        "filled",
        "filled_quote",
        "is_buy",
        "level",
        "market",
        "next",
        "order_id",
        "order_type",
        "post_only",
        "prev",
        "price",
        "quantity",
        "quote_quantity",
        "receive",
        "remaining",
        "reserved",
        "side",
        "spend",
        "status",
        "stop_price",
        "stp",
        "time_in_force",
    )

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
        client_order_id: str,
        stp: SelfTradePrevention,
        created_ts: int,
        spend: Balance,
        receive: Balance,
    ) -> None:
        self.order_id = order_id
        self.account = account
        self.market = market
        self.side = side
        self.is_buy = side is Side.BUY
        self.order_type = order_type
        self.time_in_force = time_in_force
        self.price = price
        self.quantity = quantity
        self.remaining = quantity
        self.quote_quantity = quote_quantity
        self.stop_price = stop_price
        self.expire_ts = expire_ts
        self.post_only = post_only
        self.client_order_id = client_order_id
        self.stp = stp
        self.created_ts = created_ts
        self.spend = spend
        self.receive = receive
        self.filled = 0
        self.filled_quote = 0
        self.reserved = 0
        self.budget = 0
        self.budgeted = False
        """A market buy: its fills are capped by ``budget``, which may run down to exactly 0."""
        self.status = OrderStatus.OPEN
        self.prev: Order | None = None
        self.next: Order | None = None
        self.level: PriceLevel | None = None

    def __repr__(self) -> str:
        return (
            f"Order(id={self.order_id}, acct={self.account}, {self.side} {self.remaining}"
            f"/{self.quantity} @ {self.price}, {self.status})"
        )
