"""The enums of the trading vocabulary. Their values are the API's words (see shared/API.md)."""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"
    STOP_LIMIT = "stop_limit"
    STOP_MARKET = "stop_market"


class TimeInForce(StrEnum):
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"
    GTD = "gtd"


class SelfTradePrevention(StrEnum):
    """What happens when an incoming order would trade with a resting order of the same account."""

    CANCEL_NEWEST = "cancel_newest"
    CANCEL_OLDEST = "cancel_oldest"
    CANCEL_BOTH = "cancel_both"
    DECREMENT = "decrement"


class OrderStatus(StrEnum):
    PENDING_TRIGGER = "pending_trigger"
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"


class MarketStatus(StrEnum):
    OPEN = "open"
    HALTED = "halted"


class CancelReason(StrEnum):
    """Why an accepted order stopped before it filled completely."""

    USER = "user"
    IOC_REMAINDER = "ioc_remainder"
    FOK_NOT_FILLABLE = "fok_not_fillable"
    NO_LIQUIDITY = "no_liquidity"
    BUDGET_EXHAUSTED = "budget_exhausted"
    SELF_TRADE_PREVENTED = "self_trade_prevented"
    PRICE_OUT_OF_BAND = "price_out_of_band"


class Liquidity(StrEnum):
    MAKER = "maker"
    TAKER = "taker"
