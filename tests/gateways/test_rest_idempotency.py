"""Idempotency keys: same key and body, same answer; other body, 409; survives a restart."""

from __future__ import annotations

import concurrent.futures
import time
from pathlib import Path

import pytest

from cambist.client import ApiError, Client
from tests.gateways.harness import RunningServer


def test_same_key_same_body_returns_first_answer(server: RunningServer, admin: Client) -> None:
    trader, _ = server.trader(admin)
    first = trader.place_order("ETH-USD", "buy", "1", "10", idempotency_key="idem-1")
    again = trader.place_order("ETH-USD", "buy", "1", "10", idempotency_key="idem-1")
    assert again == first
    assert len(trader.orders(status="open")["orders"]) == 1
    assert first["order"]["client_order_id"] == "idem-1"


def test_same_key_other_body_is_409(server: RunningServer, admin: Client) -> None:
    trader, _ = server.trader(admin)
    trader.place_order("ETH-USD", "buy", "1", "10", idempotency_key="idem-2")
    with pytest.raises(ApiError) as err:
        trader.place_order("ETH-USD", "buy", "2", "10", idempotency_key="idem-2")
    assert (err.value.status, err.value.code) == (409, "idempotency_key_conflict")


def test_rejection_is_replayed_too(server: RunningServer, admin: Client) -> None:
    trader, _ = server.trader(admin, usd="1", btc="0", eth="0")
    errors = []
    for _ in range(2):
        with pytest.raises(ApiError) as err:
            trader.place_order("ETH-USD", "buy", "1", "10", idempotency_key="idem-3")
        errors.append(err.value.body)
    assert errors[0] == errors[1] and errors[0]["error"]["code"] == "insufficient_funds"


def test_keys_are_per_account(server: RunningServer, admin: Client) -> None:
    one, _ = server.trader(admin)
    two, _ = server.trader(admin)
    a = one.place_order("ETH-USD", "buy", "1", "10", idempotency_key="shared")
    b = two.place_order("ETH-USD", "buy", "1", "10", idempotency_key="shared")
    assert a["order"]["order_id"] != b["order"]["order_id"]


def test_concurrent_retries_make_one_order(server: RunningServer, admin: Client) -> None:
    made = admin.create_account("conc")
    admin.deposit(made["account_id"], "USD", "1000", "conc-usd")
    clients = [server.client(made["api_key"], made["api_secret"]) for _ in range(6)]
    base = time.time_ns() // 1_000_000
    for i, c in enumerate(clients):  # identical requests must not share a signature (replay)
        c._last_ts = base + 10 * i
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        answers = list(
            pool.map(
                lambda c: c.place_order("ETH-USD", "buy", "1", "10", idempotency_key="conc-key"),
                clients,
            )
        )
    assert len({a["order"]["order_id"] for a in answers}) == 1
    assert len(clients[0].orders(status="open")["orders"]) == 1


def test_first_answer_survives_restart(tmp_path: Path) -> None:
    srv = RunningServer(tmp_path).start()
    try:
        trader, _ = srv.trader(srv.admin())
        assert trader.api_key and trader.api_secret
        key, secret = trader.api_key, trader.api_secret
        first = trader.place_order("ETH-USD", "sell", "1", "3000", idempotency_key="restart-1")
    finally:
        srv.stop()
    srv = RunningServer(tmp_path).start()
    try:
        again = srv.client(key, secret).place_order(
            "ETH-USD", "sell", "1", "3000", idempotency_key="restart-1"
        )
        assert again == first
    finally:
        srv.stop()
