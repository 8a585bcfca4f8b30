"""``cambist serve --workers N``: HTTP worker processes in front of one engine process.

Real processes throughout: a worker killed under load is started again and nothing answered is
lost; the engine killed takes its workers down with it; a graceful stop leaves no process.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from cambist.client import ApiError, Client
from cambist.domain.money import format_units
from cambist.server.runner import ADMIN_KEY_FILE
from tests.server.test_crash import _replay, _start


def _workers_of(pid: int) -> list[int]:
    """Live worker processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if stat[1] == str(pid) and stat[0] != "Z" and b"cambist.server.worker" in cmdline:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for whoever adopted it to reap it counts as gone)."""
    try:
        return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) != "Z"
    except (OSError, IndexError):
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the engine process and expect a clean exit with its workers; if it hangs, kill it
    and its workers (so a failure never leaves servers behind) and fail."""
    workers = _workers_of(proc.pid)
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(30)
    except subprocess.TimeoutExpired:
        for pid in [proc.pid, *workers]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        raise AssertionError(f"the server did not stop on SIGTERM (workers {workers})") from None
    assert code == 0
    _wait(lambda: not any(_alive(w) for w in workers), 15.0)


def _metric(url: str, name: str) -> float:
    for line in httpx.get(url + "/metrics").text.splitlines():
        if line.startswith((name + " ", name + "{")):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


def _wait(condition: Any, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def _trader(admin: Client, name: str) -> dict[str, Any]:
    made: dict[str, Any] = admin.create_account(name)
    for asset in ("USD", "ETH"):
        admin.deposit(made["account_id"], asset, "1000000", f"{name}-{asset}")
    return made


def _trade_reconnecting(
    url: str, creds: dict[str, Any], n: int, stop: threading.Event, answered: list[Any]
) -> None:
    """Order entry that opens a new connection whenever one drops (a killed worker's)."""
    i = 0
    while not stop.is_set():
        client = Client(url, creds["api_key"], creds["api_secret"], timeout=5)
        try:
            while not stop.is_set():
                i += 1
                side = "buy" if (i + n) % 2 else "sell"
                price = f"{3000 + (i * 7 + n) % 11 - 5}"
                try:
                    answered.append(client.place_order("ETH-USD", side, "0.1", price))
                except ApiError:
                    continue
        except httpx.TransportError:
            continue
        finally:
            client.close()


def test_workers_serve_the_api_like_one_process(tmp_path: Path) -> None:
    proc, url = _start(tmp_path, "--workers", "2")
    try:
        assert len(_workers_of(proc.pid)) == 2
        assert _metric(url, "cambist_workers_ready") == 2
        creds = json.loads((tmp_path / ADMIN_KEY_FILE).read_text())
        admin = Client(url, creds["api_key"], creds["api_secret"])
        alice, bob = _trader(admin, "alice"), _trader(admin, "bob")
        a = Client(url, alice["api_key"], alice["api_secret"])
        b = Client(url, bob["api_key"], bob["api_secret"])
        sell = a.place_order("ETH-USD", "sell", "1", "3000")
        first = b.place_order("ETH-USD", "buy", "0.4", "3001", idempotency_key="k1")
        assert first["order"]["status"] == "filled"
        assert first["fills"][0]["price"] == format_units(3000 * 10**8, 8)
        # a retry, whichever worker takes it, gets the first answer
        for _ in range(4):
            again = Client(url, bob["api_key"], bob["api_secret"])
            assert again.place_order("ETH-USD", "buy", "0.4", "3001", idempotency_key="k1") == first
            again.close()
        with pytest.raises(ApiError) as refused:
            b.get_order(sell["order"]["order_id"])
        assert refused.value.code == "unknown_order"
        # refusals a worker makes itself are answered and counted by the engine
        big = httpx.post(url + "/api/v1/orders", content=b"x" * (70 * 1024))
        assert big.status_code == 413 and big.json()["error"]["code"] == "body_too_large"
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as raw:
            raw.sendall(b"NOT HTTP\r\n\r\n")
            assert raw.recv(100).startswith(b"HTTP/1.1 400")
        for status in ("413", "400"):
            counted = f'cambist_http_requests_total{{route="unmatched",status="{status}"}}'
            assert _metric(url, counted) == 1
        for c in (admin, a, b):
            c.close()
    finally:
        _stop(proc)


@pytest.mark.slow
def test_worker_sigkill_under_load_is_replaced_and_loses_nothing(tmp_path: Path) -> None:
    proc, url = _start(tmp_path, "--workers", "2")
    try:
        creds = json.loads((tmp_path / ADMIN_KEY_FILE).read_text())
        admin = Client(url, creds["api_key"], creds["api_secret"])
        traders = [_trader(admin, f"t{n}") for n in range(3)]
        admin.close()
        stop = threading.Event()
        answered: list[list[Any]] = [[] for _ in traders]
        threads = [
            threading.Thread(target=_trade_reconnecting, args=(url, t, n, stop, answered[n]))
            for n, t in enumerate(traders)
        ]
        for t in threads:
            t.start()
        time.sleep(1.0)
        victim = _workers_of(proc.pid)[0]
        os.kill(victim, signal.SIGKILL)
        before = sum(map(len, answered))
        _wait(lambda: len(_workers_of(proc.pid)) == 2 and victim not in _workers_of(proc.pid))
        _wait(lambda: _metric(url, "cambist_workers_ready") == 2)
        assert _metric(url, "cambist_worker_restarts_total") == 1
        _wait(lambda: sum(map(len, answered)) > before + 50)  # still serving after the kill
        stop.set()
        for t in threads:
            t.join(10)
        _, replay = _replay(tmp_path)
        for n, made in enumerate(traders):
            client = Client(url, made["api_key"], made["api_secret"])
            for answer in answered[n]:
                order_id = answer["order"]["order_id"]
                assert client.get_order(order_id)["status"] == replay.orders[order_id].status.value
            client.close()
    finally:
        _stop(proc)


@pytest.mark.slow
def test_engine_sigkill_takes_workers_down_and_restart_recovers(tmp_path: Path) -> None:
    proc, url = _start(tmp_path, "--workers", "2")
    workers = _workers_of(proc.pid)
    creds = json.loads((tmp_path / ADMIN_KEY_FILE).read_text())
    admin = Client(url, creds["api_key"], creds["api_secret"])
    made = _trader(admin, "k")
    admin.close()
    client = Client(url, made["api_key"], made["api_secret"])
    placed = [client.place_order("ETH-USD", "buy", "0.1", f"{2900 + i}") for i in range(20)]
    client.close()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    # orphaned workers see the link close and exit by themselves
    _wait(lambda: not any(_alive(w) for w in workers), 15.0)
    proc, url = _start(tmp_path, "--workers", "2")
    try:
        client = Client(url, made["api_key"], made["api_secret"])
        for answer in placed:
            assert client.get_order(answer["order"]["order_id"])["status"] == "open"
        client.close()
    finally:
        _stop(proc)
