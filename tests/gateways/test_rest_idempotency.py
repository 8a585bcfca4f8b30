"""Idempotency keys: same key and body, same answer; other body, 409; survives a restart."""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import sqlite3
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


def _forget_answers(data_dir: Path) -> None:
    """What a crash between the journal's fsync and the answer's write leaves: pending rows."""
    db = sqlite3.connect(data_dir / "gateway.sqlite")
    db.execute("UPDATE idempotency SET status = 0, answer = x''")
    db.commit()
    db.close()


def test_pending_record_after_crash_recovers_order_from_log(tmp_path: Path) -> None:
    srv = RunningServer(tmp_path).start()
    try:
        trader, _ = srv.trader(srv.admin())
        assert trader.api_key and trader.api_secret
        key, secret = trader.api_key, trader.api_secret
        first = trader.place_order("ETH-USD", "buy", "1", "10", idempotency_key="crash-1")
        failed = None
        with pytest.raises(ApiError) as err:
            trader.place_order("ETH-USD", "buy", "1", "10", client_order_id="crash-1")
        failed = err.value.code
    finally:
        srv.stop()
    assert failed == "duplicate_client_order_id"  # the key rode in the command as its client id
    _forget_answers(tmp_path)
    srv = RunningServer(tmp_path).start()
    try:
        client = srv.client(key, secret)
        again = client.place_order("ETH-USD", "buy", "1", "10", idempotency_key="crash-1")
        assert again["order"]["order_id"] == first["order"]["order_id"]
        assert len(client.orders(status="open")["orders"]) == 1
    finally:
        srv.stop()


def test_pending_record_without_durable_command_places_it(tmp_path: Path) -> None:
    srv = RunningServer(tmp_path).start()
    try:
        trader, account = srv.trader(srv.admin())
        assert trader.api_key and trader.api_secret
        key, secret = trader.api_key, trader.api_secret
    finally:
        srv.stop()
    body = b'{"market":"ETH-USD","side":"buy","quantity":"1","price":"10"}'
    db = sqlite3.connect(tmp_path / "gateway.sqlite")
    db.execute(
        "INSERT INTO idempotency VALUES (?, ?, ?, ?, ?, 0, x'')",
        (account, "lost-1", hashlib.sha256(body).digest(), "lost-1", 10**9),
    )
    db.commit()
    db.close()
    srv = RunningServer(tmp_path).start()
    try:
        client = srv.client(key, secret)
        placed = client.request(
            "POST", "/orders", json_body=json.loads(body), headers={"Idempotency-Key": "lost-1"}
        )
        assert placed["order"]["status"] == "open"
        again = client.request(
            "POST", "/orders", json_body=json.loads(body), headers={"Idempotency-Key": "lost-1"}
        )
        assert again == placed
    finally:
        srv.stop()
