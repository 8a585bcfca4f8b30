"""``external_projectors = true``: the server runs no projector and serves history from the
tables of separate ``cambist projector run`` processes, following their marks."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cambist.client import ApiError, Client
from cambist.server.runner import ADMIN_KEY_FILE
from tests.server.test_crash import _start
from tests.server.test_workers import _stop


def _projector(data_dir: Path, *names: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", "from cambist.cli import main; main()", "projector", "run",
         *names, "--data-dir", str(data_dir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.mark.slow
def test_external_projectors_serve_history_once_their_processes_catch_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAMBIST_EXTERNAL_PROJECTORS", "true")
    monkeypatch.setenv("CAMBIST_MIN_SEQUENCE_TIMEOUT_S", "0.5")
    proc, url = _start(tmp_path)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        creds = json.loads((tmp_path / ADMIN_KEY_FILE).read_text())
        admin = Client(url, creds["api_key"], creds["api_secret"])
        clients = []
        for name in ("seller", "buyer"):
            made = admin.create_account(name)
            for asset, amount in (("USD", "100000"), ("BTC", "5")):
                admin.deposit(made["account_id"], asset, amount, f"{name}-{asset}")
            clients.append(Client(url, made["api_key"], made["api_secret"]))
        seller, client = clients
        seller.place_order("BTC-USD", "sell", "1", "30000")
        bought = client.place_order("BTC-USD", "buy", "0.5", "30000")
        seq = bought["sequence"]
        assert bought["fills"], "the buy should have traded"
        # nothing projects yet: a read of one's own write is refused, not answered stale
        with pytest.raises(ApiError) as refused:
            client.fills(min_sequence=seq)
        assert (refused.value.status, refused.value.code) == (503, "not_caught_up")
        assert {p["name"]: p["lag"] > 0 for p in admin.status()["projectors"]} == {
            "orders": True, "market": True, "ledger": True,
        }  # fmt: skip
        workers = [_projector(tmp_path, "orders", "market"), _projector(tmp_path, "ledger")]
        deadline = time.monotonic() + 60
        while True:  # each try waits 0.5 s for the processes to start and catch up
            try:
                fills = client.fills(min_sequence=seq)["fills"]
                break
            except ApiError as err:
                assert err.code == "not_caught_up" and time.monotonic() < deadline
        history = {f["trade_id"] for f in fills}
        assert {f["trade_id"] for f in bought["fills"]} <= history
        status = {p["name"]: p["position"] for p in admin.status()["projectors"]}
        assert min(status.values()) >= seq
        for c in (admin, seller, client):
            c.close()
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
            w.wait(30)
        _stop(proc)
