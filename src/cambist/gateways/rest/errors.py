"""The error model: one exception type carrying a stable code, and the HTTP status of each code.

Engine rejections keep the engine's :class:`~cambist.domain.reasons.Reject` value as their code
(the same word a WebSocket or FIX client sees); gateway-level refusals (authentication, body
shape, rate limits) have their own codes listed in :data:`GATEWAY_CODES`.
"""

from __future__ import annotations

import msgspec

from cambist.domain.reasons import Reject
from cambist.gateways.rest.wire import ErrorBody, ErrorDetail

GATEWAY_CODES: dict[str, int] = {
    "malformed_json": 400,
    "invalid_field": 400,
    "missing_field": 400,
    "unknown_field": 400,
    "invalid_parameter": 400,
    "missing_credentials": 401,
    "invalid_api_key": 401,
    "invalid_signature": 401,
    "stale_timestamp": 401,
    "replayed_signature": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "idempotency_key_conflict": 409,
    "body_too_large": 413,
    "rate_limited": 429,
    "internal_error": 500,
    "unavailable": 503,
    "not_caught_up": 503,
}
"""Codes the gateway itself answers with, and their HTTP status."""

_REJECT_STATUS: dict[Reject, int] = {
    Reject.UNKNOWN_ORDER: 404,
    Reject.UNKNOWN_ACCOUNT: 404,
    Reject.UNKNOWN_MARKET: 404,
    Reject.UNKNOWN_ASSET: 404,
    Reject.DUPLICATE_ASSET: 409,
    Reject.DUPLICATE_MARKET: 409,
    Reject.DUPLICATE_ACCOUNT: 409,
    Reject.DUPLICATE_CLIENT_ORDER_ID: 409,
    Reject.DUPLICATE_REFERENCE: 409,
    Reject.REFERENCE_CONFLICT: 409,
    Reject.MARKET_HALTED: 409,
    Reject.INSUFFICIENT_FUNDS: 422,
    Reject.PRICE_OUT_OF_BAND: 422,
    Reject.POST_ONLY_WOULD_TAKE: 422,
    Reject.STOP_WOULD_TRIGGER: 422,
    Reject.ORDER_NOT_AMENDABLE: 422,
    Reject.AMEND_NO_CHANGE: 422,
}
"""Engine rejections that are not plain 400s (a bad value in the request is a 400)."""


def status_of(code: str) -> int:
    """The HTTP status for an error code."""
    status = GATEWAY_CODES.get(code)
    if status is not None:
        return status
    try:
        return _REJECT_STATUS.get(Reject(code), 400)
    except ValueError:
        return 400


_FIELD_OF: dict[Reject, str] = {
    Reject.INVALID_PRICE: "price",
    Reject.INVALID_PRICE_TICK: "price",
    Reject.PRICE_OUT_OF_BAND: "price",
    Reject.INVALID_QUANTITY: "quantity",
    Reject.INVALID_QUANTITY_LOT: "quantity",
    Reject.QUANTITY_BELOW_MINIMUM: "quantity",
    Reject.QUANTITY_ABOVE_MAXIMUM: "quantity",
    Reject.INVALID_STOP_PRICE: "stop_price",
    Reject.INVALID_TIME_IN_FORCE: "time_in_force",
    Reject.INVALID_EXPIRE_TIME: "expire_time",
    Reject.INVALID_ORDER_TYPE: "type",
    Reject.INVALID_AMOUNT: "amount",
    Reject.UNKNOWN_MARKET: "market",
    Reject.UNKNOWN_ASSET: "asset",
    Reject.DUPLICATE_CLIENT_ORDER_ID: "client_order_id",
    Reject.DUPLICATE_REFERENCE: "reference",
    Reject.REFERENCE_CONFLICT: "reference",
}


class ApiError(Exception):
    """A refusal to answer with ``{"error": {...}}``; raised anywhere in a handler."""

    def __init__(
        self,
        code: str,
        message: str,
        field: str | None = None,
        *,
        status: int | None = None,
        headers: list[tuple[bytes, bytes]] | None = None,
        sequence: int | None = None,
        order_id: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.status = status if status is not None else status_of(code)
        self.headers = headers or []
        self.sequence = sequence
        self.order_id = order_id

    def body(self) -> bytes:
        detail = ErrorDetail(
            code=self.code,
            message=self.message,
            field=self.field,
            sequence=self.sequence,
            order_id=self.order_id,
        )
        return msgspec.json.encode(ErrorBody(error=detail))


def rejected(
    reason: Reject, *, sequence: int | None = None, order_id: int | None = None
) -> ApiError:
    """The API error for an engine rejection of a sequenced command."""
    message = reason.value.replace("_", " ")
    return ApiError(
        reason.value,
        message,
        _FIELD_OF.get(reason),
        sequence=sequence,
        order_id=order_id or None,
    )
