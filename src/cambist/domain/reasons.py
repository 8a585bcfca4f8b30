"""Rejections are values: one enum whose values are the API's stable error codes.

The same words appear in REST errors, WebSocket answers and FIX rejects. Grouped by the stage that
decides them (as exchange-core numbers its result codes): command shape, reference data, risk
(wallets), matching.
"""

from __future__ import annotations

from enum import StrEnum


class Reject(StrEnum):
    # command shape (validated against the market's spec)
    INVALID_PRICE = "invalid_price"
    INVALID_PRICE_TICK = "invalid_price_tick"
    INVALID_QUANTITY = "invalid_quantity"
    INVALID_QUANTITY_LOT = "invalid_quantity_lot"
    QUANTITY_BELOW_MINIMUM = "quantity_below_minimum"
    QUANTITY_ABOVE_MAXIMUM = "quantity_above_maximum"
    NOTIONAL_BELOW_MINIMUM = "notional_below_minimum"
    INVALID_STOP_PRICE = "invalid_stop_price"
    INVALID_TIME_IN_FORCE = "invalid_time_in_force"
    INVALID_EXPIRE_TIME = "invalid_expire_time"
    INVALID_ORDER_TYPE = "invalid_order_type"
    INVALID_AMOUNT = "invalid_amount"
    INVALID_MARKET_SPEC = "invalid_market_spec"
    INVALID_ASSET_SPEC = "invalid_asset_spec"
    # reference data
    UNKNOWN_MARKET = "unknown_market"
    UNKNOWN_ASSET = "unknown_asset"
    UNKNOWN_ACCOUNT = "unknown_account"
    UNKNOWN_ORDER = "unknown_order"
    DUPLICATE_ASSET = "duplicate_asset"
    DUPLICATE_MARKET = "duplicate_market"
    DUPLICATE_ACCOUNT = "duplicate_account"
    DUPLICATE_CLIENT_ORDER_ID = "duplicate_client_order_id"
    DUPLICATE_REFERENCE = "duplicate_reference"
    REFERENCE_CONFLICT = "reference_conflict"
    # risk stage
    INSUFFICIENT_FUNDS = "insufficient_funds"
    # matching stage
    MARKET_HALTED = "market_halted"
    PRICE_OUT_OF_BAND = "price_out_of_band"
    POST_ONLY_WOULD_TAKE = "post_only_would_take"
    STOP_WOULD_TRIGGER = "stop_would_trigger"
    ORDER_NOT_AMENDABLE = "order_not_amendable"
    AMEND_NO_CHANGE = "amend_no_change"
