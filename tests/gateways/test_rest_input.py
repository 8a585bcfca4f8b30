"""Malformed bodies and hostile values get a clear 4xx with a stable code, never a 500."""

from __future__ import annotations

import time

import httpx
import pytest

from cambist.client import Client, signed_headers
from tests.gateways.harness import RunningServer


@pytest.fixture(scope="module")
def trader(server: RunningServer, admin: Client) -> Client:
    return server.trader(admin)[0]


def _post(
    server: RunningServer, who: Client, path: str, body: bytes, method: str = "POST"
) -> httpx.Response:
    assert who.api_key and who.api_secret
    headers = signed_headers(
        who.api_key, who.api_secret, time.time_ns() // 1_000_000 + _post.n, method, path, body
    )
    _post.n += 1
    headers["content-type"] = "application/json"
    return httpx.request(method, server.url + path, content=body, headers=headers)


_post.n = 0  # type: ignore[attr-defined]

GOOD = b'{"market":"ETH-USD","side":"buy","quantity":"1","price":"10"}'


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (b"", "malformed_json", None),
        (b"{", "malformed_json", None),
        (b"not json", "malformed_json", None),
        (b"[]", "invalid_field", None),
        (
            b'{"market":"ETH-USD","side":"buy","quantity":1,"price":"10"}',
            "invalid_field",
            "quantity",
        ),
        (
            b'{"market":"ETH-USD","side":"buy","quantity":"1","price":10.5}',
            "invalid_field",
            "price",
        ),
        (
            b'{"market":"ETH-USD","side":"buy","quantity":"1","price":"1e3"}',
            "invalid_price",
            "price",
        ),
        (
            b'{"market":"ETH-USD","side":"buy","quantity":"-1","price":"10"}',
            "invalid_quantity",
            "quantity",
        ),
        (b'{"market":"ETH-USD","side":"up","quantity":"1","price":"10"}', "invalid_field", "side"),
        (
            b'{"market":"ETH-USD","side":"buy","quantity":"1","price":"10","qty":"1"}',
            "unknown_field",
            "qty",
        ),
        (b'{"side":"buy","quantity":"1","price":"10"}', "missing_field", "market"),
        (
            b'{"market":"ETH-USD","side":"buy","quantity":"1","price":"10","post_only":"yes"}',
            "invalid_field",
            "post_only",
        ),
        (
            b'{"market":"ETH-USD","side":"buy","quantity":"' + b"9" * 5000 + b'","price":"10"}',
            "invalid_quantity",
            "quantity",
        ),
        (
            b'{"market":"ETH-USD","side":"buy","quantity":"1","price":"10","expire_time":"soon","time_in_force":"gtd"}',
            "invalid_field",
            "expire_time",
        ),
        (
            b'{"market":"ETH-USD","side":"buy","quantity":"1","price":"10","client_order_id":"has space"}',
            "invalid_field",
            "client_order_id",
        ),
    ],
)
def test_order_body_problems_are_400(
    server: RunningServer, trader: Client, body: bytes, code: str, field: str | None
) -> None:
    resp = _post(server, trader, "/api/v1/orders", body)
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["code"] == code and error["message"]
    assert error.get("field") == field


def test_oversized_body_is_413(server: RunningServer, trader: Client) -> None:
    body = (
        b'{"market":"ETH-USD","side":"buy","quantity":"1","price":"10","client_order_id":"'
        + b"x" * 70_000
        + b'"}'
    )
    resp = _post(server, trader, "/api/v1/orders", body)
    assert (resp.status_code, resp.json()["error"]["code"]) == (413, "body_too_large")


def test_bad_idempotency_key_is_400(server: RunningServer, trader: Client) -> None:
    assert trader.api_key and trader.api_secret
    headers = signed_headers(
        trader.api_key,
        trader.api_secret,
        time.time_ns() // 1_000_000,
        "POST",
        "/api/v1/orders",
        GOOD,
    )
    headers["Idempotency-Key"] = "x" * 100
    resp = httpx.post(server.url + "/api/v1/orders", content=GOOD, headers=headers)
    assert (resp.status_code, resp.json()["error"]["field"]) == (400, "Idempotency-Key")


@pytest.mark.parametrize(
    "path", ["/api/v1/orders/abc", "/api/v1/orders/99999999999999999999999", "/api/v1/orders/-1"]
)
def test_non_numeric_order_ids_are_404(server: RunningServer, trader: Client, path: str) -> None:
    resp = _post(server, trader, path, b"", method="GET")
    assert (resp.status_code, resp.json()["error"]["code"]) == (404, "unknown_order")


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=x",
        "status=maybe",
        "side=up",
        "cursor=-5",
        "start=yesterday",
        "market=NOPE-X",
    ],
)
def test_bad_query_parameters_are_4xx(server: RunningServer, trader: Client, query: str) -> None:
    resp = _post(server, trader, f"/api/v1/orders?{query}", b"", method="GET")
    assert resp.status_code in (400, 404)
    assert resp.json()["error"]["code"] in ("invalid_parameter", "unknown_market")


def test_amend_with_float_is_400(server: RunningServer, trader: Client) -> None:
    order_id = trader.place_order("ETH-USD", "buy", "1", "10")["order"]["order_id"]
    resp = _post(server, trader, f"/api/v1/orders/{order_id}", b'{"price": 11.0}', method="PATCH")
    assert (resp.status_code, resp.json()["error"]["field"]) == (400, "price")
