"""SIGKILL under load, then restart: nothing answered is lost, state equals a replay of the log."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from cambist.client import ApiError, Client
from cambist.domain.engine import Engine
from cambist.domain.money import format_units
from cambist.gateways.rest.view import View
from cambist.log.journal import read_commands
from cambist.node import Applied
from cambist.server.runner import ADMIN_KEY_FILE, SERVE_FILE


def _start(data_dir: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    """``cambist serve`` on a free port in a child process, once it answers ``/ready``."""
    serve_file = data_dir / SERVE_FILE
    if serve_file.exists():
        serve_file.unlink()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from cambist.cli import main; main()",
            "serve",
            "--data-dir",
            str(data_dir),
            "--port",
            "0",
            "--log-level",
            "warning",
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if serve_file.exists():
            url = json.loads(serve_file.read_text())["url"]
            try:
                if httpx.get(url + "/ready").status_code == 200:
                    return proc, url
            except httpx.TransportError:
                pass
        assert proc.poll() is None, "server exited during start-up"
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("server did not start")


def _replay(data_dir: Path) -> tuple[Engine, View]:
    engine, view = Engine(), View()
    for cmd in read_commands(data_dir):
        view.apply(Applied(cmd.seq, cmd.ts, cmd, engine.apply(cmd)))
    return engine, view


def _trade(
    url: str,
    creds: dict[str, Any],
    worker: int,
    stop: threading.Event,
    answered: list[dict[str, Any]],
    idem: list[tuple[dict[str, Any], str, dict[str, Any]]],
) -> None:
    client = Client(url, creds["api_key"], creds["api_secret"], timeout=5)
    i = 0
    try:
        while not stop.is_set():
            i += 1
            side = "buy" if (i + worker) % 2 else "sell"
            price = f"{3000 + (i * 7 + worker) % 11 - 5}"
            fields: dict[str, Any] = {"quantity": "0.1", "price": price}
            key = f"w{worker}-{i}" if i % 3 == 0 else None
            try:
                answer = client.place_order("ETH-USD", side, idempotency_key=key, **fields)
            except ApiError:
                continue
            except httpx.TransportError:
                return
            answered.append(answer)
            if key is not None:
                idem.append(({"side": side, **fields}, key, answer))
    finally:
        client.close()


@pytest.mark.slow
def test_sigkill_under_load_loses_nothing_answered(tmp_path: Path) -> None:
    proc, url = _start(tmp_path)
    try:
        admin_creds = json.loads((tmp_path / ADMIN_KEY_FILE).read_text())
        admin = Client(url, admin_creds["api_key"], admin_creds["api_secret"])
        traders = []
        for n in range(4):
            made = admin.create_account(f"crash-{n}")
            for asset in ("USD", "ETH"):
                admin.deposit(made["account_id"], asset, "1000000", f"crash-{n}-{asset}")
            traders.append(made)
        admin.close()
        stop = threading.Event()
        answered: list[list[dict[str, Any]]] = [[] for _ in traders]
        idem: list[list[tuple[dict[str, Any], str, dict[str, Any]]]] = [[] for _ in traders]
        threads = [
            threading.Thread(target=_trade, args=(url, t, w, stop, answered[w], idem[w]))
            for w, t in enumerate(traders)
        ]
        for t in threads:
            t.start()
        time.sleep(1.5)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        stop.set()
        for t in threads:
            t.join(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert sum(map(len, answered)) > 50, "too little load before the kill"

    engine, replay = _replay(tmp_path)
    proc, url = _start(tmp_path)
    try:
        for w, made in enumerate(traders):
            client = Client(url, made["api_key"], made["api_secret"])
            for answer in answered[w]:
                order_id = answer["order"]["order_id"]
                expected = replay.orders[order_id]
                got = client.get_order(order_id)
                assert got["status"] == expected.status.value, order_id
                assert got["filled_quantity"] == format_units(expected.filled, 8)
            balances = {b["asset"]: (b["available"], b["reserved"]) for b in client.balances()}
            for asset, bal in engine.wallets.accounts[made["account_id"]].items():
                assert balances[asset] == (
                    format_units(bal.available, 8),
                    format_units(bal.reserved, 8),
                )
            for body, key, first in idem[w]:
                again = client.place_order("ETH-USD", idempotency_key=key, **body)
                assert again == first
            client.close()
        book = httpx.get(url + "/api/v1/markets/ETH-USD/book?depth=1000").json()
        ms = engine.markets["ETH-USD"].book
        assert book["bids"] == [
            [format_units(p, 8), format_units(q, 8)] for p, q in ms.bids.depth(0)
        ]
        assert book["asks"] == [
            [format_units(p, 8), format_units(q, 8)] for p, q in ms.asks.depth(0)
        ]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
