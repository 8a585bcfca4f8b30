"""The REST wire types: msgspec Structs, the single source of both decoding and the OpenAPI schema.

Money, prices and quantities travel as decimal strings (never JSON numbers): a float can't even
be decoded into these types, and the gateway parses the text straight to integer minor units.
Request types forbid unknown fields so a typo (``"qty"``) is a clear 400, not a silently
ignored field.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

Decimal = Annotated[
    str,
    Meta(
        pattern=r"^[0-9]{1,30}(\.[0-9]{1,30})?$",
        description="A non-negative decimal number as text, e.g. `65000.10`.",
        examples=["65000.10"],
    ),
]
Timestamp = Annotated[
    str,
    Meta(description="RFC 3339 UTC with microseconds", examples=["2026-11-22T10:00:00.123456Z"]),
]
MarketName = Annotated[str, Meta(pattern=r"^[A-Z0-9]{1,12}-[A-Z0-9]{1,12}$", examples=["BTC-USD"])]
AssetName = Annotated[str, Meta(pattern=r"^[A-Z0-9]{1,12}$", examples=["BTC"])]
ClientId = Annotated[str, Meta(max_length=64, pattern=r"^[A-Za-z0-9_.:-]{0,64}$")]
Reference = Annotated[str, Meta(min_length=1, max_length=128)]
AccountId = Annotated[int, Meta(ge=1, le=2**62)]

Side = Literal["buy", "sell"]
OrderKind = Literal["limit", "market", "stop_limit", "stop_market"]
TimeInForce = Literal["gtc", "ioc", "fok", "gtd"]
Stp = Literal["cancel_newest", "cancel_oldest", "cancel_both", "decrement"]
OrderStatus = Literal[
    "pending_trigger", "open", "partially_filled", "filled", "cancelled", "rejected", "expired"
]
Role = Literal["trader", "read_only", "admin"]


class _Request(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Base of request bodies: unknown fields are an error."""


# -- errors -------------------------------------------------------------------------------------


class ErrorDetail(msgspec.Struct, omit_defaults=True):
    code: str
    message: str
    field: str | None = None
    sequence: int | None = None
    """Set when the refusal was sequenced (the engine rejected a durable command)."""
    order_id: int | None = None


class ErrorBody(msgspec.Struct):
    error: ErrorDetail


# -- public -------------------------------------------------------------------------------------


class TimeOut(msgspec.Struct):
    iso: Timestamp
    epoch_ms: int


class HealthOut(msgspec.Struct):
    status: Literal["ok", "starting", "stopping"]
    sequence: int


class MarketOut(msgspec.Struct):
    market: MarketName
    base: AssetName
    quote: AssetName
    tick_size: Decimal
    lot_size: Decimal
    min_quantity: Decimal
    max_quantity: Decimal
    min_notional: Decimal
    maker_fee_bps: int
    taker_fee_bps: int
    status: Literal["open", "halted"]


class BookOut(msgspec.Struct):
    market: MarketName
    sequence: int
    bids: list[tuple[Decimal, Decimal]]
    asks: list[tuple[Decimal, Decimal]]


class PublicTradeOut(msgspec.Struct):
    trade_id: int
    market: MarketName
    price: Decimal
    quantity: Decimal
    taker_side: Side
    time: Timestamp
    sequence: int


class TradesPage(msgspec.Struct):
    trades: list[PublicTradeOut]
    next_cursor: str | None = None


class CandleOut(msgspec.Struct):
    start: Timestamp
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Decimal


class CandlesOut(msgspec.Struct):
    market: MarketName
    interval: str
    candles: list[CandleOut]


class TickerOut(msgspec.Struct):
    market: MarketName
    last: Decimal | None
    best_bid: Decimal | None
    best_ask: Decimal | None
    open_24h: Decimal | None
    high_24h: Decimal | None
    low_24h: Decimal | None
    volume_24h: Decimal
    quote_volume_24h: Decimal
    sequence: int


# -- private ------------------------------------------------------------------------------------


class OrderRequest(_Request):
    market: MarketName
    side: Side
    type: OrderKind = "limit"
    quantity: Decimal | None = None
    price: Decimal | None = None
    quote_quantity: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: TimeInForce | None = None
    """Default: ``gtc`` for limit and stop-limit orders, ``ioc`` for market and stop-market."""
    expire_time: Timestamp | None = None
    post_only: bool = False
    client_order_id: ClientId | None = None
    self_trade_prevention: Stp = "cancel_newest"


class OrderRequestText(_Request):
    """:class:`OrderRequest` without its text patterns: what the gateway decodes first.

    msgspec checks a ``pattern`` by calling Python's ``re`` for each constrained field: 3.6 of
    the 4.1 us it took to decode an order here. The gateway decodes this twin instead and checks
    the constrained fields in compiled code (``Trading.fast_place_command``); when anything is
    off it decodes :class:`OrderRequest` itself, so every refusal is the one the patterns give.
    The fields, types and defaults must stay :class:`OrderRequest`'s (a test compares them).
    """

    market: str
    side: Side
    type: OrderKind = "limit"
    quantity: str | None = None
    price: str | None = None
    quote_quantity: str | None = None
    stop_price: str | None = None
    time_in_force: TimeInForce | None = None
    expire_time: str | None = None
    post_only: bool = False
    client_order_id: str | None = None
    self_trade_prevention: Stp = "cancel_newest"


class AmendRequest(_Request):
    price: Decimal | None = None
    quantity: Decimal | None = None


class OrderOut(msgspec.Struct):
    order_id: int
    client_order_id: str | None
    market: MarketName
    side: Side
    type: OrderKind
    time_in_force: TimeInForce
    price: Decimal | None
    stop_price: Decimal | None
    quantity: Decimal
    quote_quantity: Decimal | None
    filled_quantity: Decimal
    remaining_quantity: Decimal
    average_price: Decimal | None
    status: OrderStatus
    reason: str | None
    created_at: Timestamp
    updated_at: Timestamp
    sequence: int
    """The log position of this order's latest change."""


class FillOut(msgspec.Struct):
    trade_id: int
    order_id: int
    market: MarketName
    side: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_asset: AssetName
    liquidity: Literal["maker", "taker"]
    time: Timestamp
    sequence: int


class PlacedOut(msgspec.Struct):
    order: OrderOut
    fills: list[FillOut]
    sequence: int


class OrderChangeOut(msgspec.Struct):
    order: OrderOut
    sequence: int


class CancelAllOut(msgspec.Struct):
    cancelled: list[int]
    sequence: int


class OrdersPage(msgspec.Struct):
    orders: list[OrderOut]
    next_cursor: str | None = None


class FillsPage(msgspec.Struct):
    fills: list[FillOut]
    next_cursor: str | None = None


class BalanceOut(msgspec.Struct):
    asset: AssetName
    available: Decimal
    reserved: Decimal


# -- admin --------------------------------------------------------------------------------------


class CreateAccountRequest(_Request):
    name: Annotated[str, Meta(min_length=1, max_length=128)]


class CreateAccountOut(msgspec.Struct):
    account_id: int
    api_key: str
    api_secret: str
    sequence: int


class CreateKeyRequest(_Request):
    role: Role = "trader"


class KeyOut(msgspec.Struct):
    account_id: int
    api_key: str
    api_secret: str
    role: Role


class TransferRequest(_Request):
    account_id: AccountId
    asset: AssetName
    amount: Decimal
    reference: Reference


class TransferOut(msgspec.Struct):
    account_id: int
    asset: AssetName
    amount: Decimal
    reference: str
    sequence: int
    duplicate: bool = False


class MarketRequest(_Request):
    base: AssetName
    quote: AssetName
    tick: Decimal
    lot: Decimal
    min_quantity: Decimal | None = None
    max_quantity: Decimal | None = None
    min_notional: Decimal = "0"
    band_bps: Annotated[int, Meta(ge=0, lt=10_000)] = 0
    maker_fee_bps: Annotated[int, Meta(ge=0, le=1_000)] = 0
    taker_fee_bps: Annotated[int, Meta(ge=0, le=1_000)] = 0
    base_scale: Annotated[int, Meta(ge=0, le=18)] = 8
    """Used only when the base asset does not exist yet (it is created with this scale)."""
    quote_scale: Annotated[int, Meta(ge=0, le=18)] = 8


class MarketChangeOut(msgspec.Struct):
    market: MarketOut
    sequence: int


class AccountOut(msgspec.Struct):
    account_id: int
    name: str | None
    balances: list[BalanceOut]
    open_orders: int
    keys: list[str]


class ProjectorStatus(msgspec.Struct):
    name: str
    position: int
    lag: int


class StatusOut(msgspec.Struct):
    log_position: int
    engine_position: int
    view_position: int
    projectors: list[ProjectorStatus]
    open_orders: int
    accounts: int


WIRE_TYPES: tuple[type, ...] = (
    ErrorBody, TimeOut, HealthOut, MarketOut, BookOut, TradesPage, CandlesOut, TickerOut,
    OrderRequest, AmendRequest, OrderOut, FillOut, PlacedOut, OrderChangeOut, CancelAllOut,
    OrdersPage, FillsPage, BalanceOut, CreateAccountRequest, CreateAccountOut, CreateKeyRequest,
    KeyOut, TransferRequest, TransferOut, MarketRequest, MarketChangeOut, AccountOut, StatusOut,
)  # fmt: skip
"""Every type that appears in the OpenAPI document's components."""
