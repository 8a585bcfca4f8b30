"""Signatures, timestamps, replays, roles, account isolation and rate limits."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cambist.client import ApiError, Client, signed_headers
from tests.gateways.harness import RunningServer


def _raw(
    server: RunningServer,
    key: str,
    secret: str,
    method: str,
    path: str,
    body: bytes = b"",
    ts: int | None = None,
    signature: str | None = None,
) -> httpx.Response:
    headers = signed_headers(
        key, secret, ts if ts is not None else time.time_ns() // 1_000_000, method, path, body
    )
    if signature is not None:
        headers["CAMBIST-SIGNATURE"] = signature
    if body:
        headers["content-type"] = "application/json"
    return httpx.request(method, server.url + path, content=body, headers=headers)


@pytest.fixture(scope="module")
def trader(server: RunningServer, admin: Client) -> Client:
    return server.trader(admin)[0]


def test_private_endpoint_without_headers_is_401_missing_credentials(server: RunningServer) -> None:
    resp = httpx.get(server.url + "/api/v1/balances")
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "missing_credentials"


def test_unknown_key_is_401_invalid_api_key(server: RunningServer) -> None:
    resp = _raw(server, "ck_nope", "secret", "GET", "/api/v1/balances")
    assert (resp.status_code, resp.json()["error"]["code"]) == (401, "invalid_api_key")


def test_bad_signature_is_401_invalid_signature(server: RunningServer, trader: Client) -> None:
    assert trader.api_key and trader.api_secret
    resp = _raw(
        server, trader.api_key, trader.api_secret, "GET", "/api/v1/balances", signature="0" * 64
    )
    assert (resp.status_code, resp.json()["error"]["code"]) == (401, "invalid_signature")


def test_signature_over_other_body_is_refused(server: RunningServer, trader: Client) -> None:
    assert trader.api_key and trader.api_secret
    body = b'{"market":"ETH-USD","side":"buy","quantity":"1","price":"10"}'
    headers = signed_headers(
        trader.api_key,
        trader.api_secret,
        time.time_ns() // 1_000_000,
        "POST",
        "/api/v1/orders",
        body,
    )
    tampered = body.replace(b'"10"', b'"11"')
    resp = httpx.post(server.url + "/api/v1/orders", content=tampered, headers=headers)
    assert (resp.status_code, resp.json()["error"]["code"]) == (401, "invalid_signature")


@pytest.mark.parametrize("offset_ms", [-6_000, 6_000])
def test_stale_or_future_timestamp_is_401(
    server: RunningServer, trader: Client, offset_ms: int
) -> None:
    assert trader.api_key and trader.api_secret
    ts = time.time_ns() // 1_000_000 + offset_ms
    resp = _raw(server, trader.api_key, trader.api_secret, "GET", "/api/v1/balances", ts=ts)
    assert (resp.status_code, resp.json()["error"]["code"]) == (401, "stale_timestamp")


def test_replayed_signature_is_401(server: RunningServer, trader: Client) -> None:
    assert trader.api_key and trader.api_secret
    ts = time.time_ns() // 1_000_000
    first = _raw(server, trader.api_key, trader.api_secret, "GET", "/api/v1/balances", ts=ts)
    again = _raw(server, trader.api_key, trader.api_secret, "GET", "/api/v1/balances", ts=ts)
    assert first.status_code == 200
    assert (again.status_code, again.json()["error"]["code"]) == (401, "replayed_signature")


def test_signature_covers_query_string(server: RunningServer, trader: Client) -> None:
    assert trader.api_key and trader.api_secret
    headers = signed_headers(
        trader.api_key,
        trader.api_secret,
        time.time_ns() // 1_000_000,
        "GET",
        "/api/v1/orders?status=open",
        b"",
    )
    resp = httpx.get(server.url + "/api/v1/orders?status=all", headers=headers)
    assert (resp.status_code, resp.json()["error"]["code"]) == (401, "invalid_signature")


def test_trader_key_cannot_use_admin_endpoints(trader: Client) -> None:
    with pytest.raises(ApiError) as err:
        trader.create_account("sneaky")
    assert (err.value.status, err.value.code) == (403, "forbidden")


def test_read_only_key_may_get_but_not_post(server: RunningServer, admin: Client) -> None:
    _, account = server.trader(admin)
    key = admin.create_key(account, "read_only")
    ro = server.client(key["api_key"], key["api_secret"])
    assert {b["asset"] for b in ro.balances()} == {"USD", "BTC", "ETH"}
    with pytest.raises(ApiError) as err:
        ro.place_order("ETH-USD", "buy", "1", "10")
    assert (err.value.status, err.value.code) == (403, "forbidden")


def test_other_accounts_orders_are_not_found(server: RunningServer, admin: Client) -> None:
    owner, _ = server.trader(admin)
    other, _ = server.trader(admin)
    order_id = owner.place_order("ETH-USD", "buy", "1", "10")["order"]["order_id"]
    for call in (
        lambda: other.get_order(order_id),
        lambda: other.cancel_order(order_id),
        lambda: other.amend_order(order_id, price="11"),
    ):
        with pytest.raises(ApiError) as err:
            call()
        assert (err.value.status, err.value.code) == (404, "unknown_order")
    assert other.orders(status="all")["orders"] == []
    assert owner.get_order(order_id)["status"] == "open"


def test_other_accounts_fills_and_balances_are_not_visible(
    server: RunningServer, admin: Client
) -> None:
    maker, _ = server.trader(admin)
    taker, _ = server.trader(admin)
    outsider, _ = server.trader(admin, usd="1", btc="0", eth="0")
    maker.place_order("ETH-USD", "sell", "1", "2000")
    taker.place_order("ETH-USD", "buy", "1", "2000")
    assert outsider.fills()["fills"] == []
    assert [b["asset"] for b in outsider.balances()] == ["USD"]


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[RunningServer]:
    srv = RunningServer(tmp_path, rate_per_key=5.0, burst_per_key=5.0).start()
    yield srv
    srv.stop()


def test_rate_limit_answers_429_with_retry_after(limited: RunningServer) -> None:
    admin = limited.admin()
    statuses = []
    retry_after = None
    for _ in range(8):
        try:
            admin.status()
            statuses.append(200)
        except ApiError as err:
            statuses.append(err.status)
            assert err.code == "rate_limited"
            retry_after = err.headers.get("retry-after")
    assert statuses[:5] == [200] * 5 and 429 in statuses[5:]
    assert retry_after is not None and int(retry_after) >= 1
