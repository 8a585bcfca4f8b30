"""The history endpoints on a real ``cambist serve`` (node, projectors in-process, uvicorn)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cambist.client.client import ApiError
from tests.gateways.harness import RunningServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    srv = RunningServer(Path(tmp_path_factory.mktemp("srv"))).start()
    yield srv
    srv.stop()


def test_history_server_closed_order_fills_ledger_and_status(server: RunningServer) -> None:
    admin = server.admin()
    seller, _ = server.trader(admin)
    buyer, _ = server.trader(admin)
    resting = seller.place_order("BTC-USD", "sell", "1", "65000")
    taken = buyer.place_order("BTC-USD", "buy", "0.4", "65000")
    gone = seller.place_order("BTC-USD", "sell", "1", "70000")
    seller.cancel_order(gone["order"]["order_id"])
    closed = seller.orders(status="closed", min_sequence=taken["sequence"])["orders"]
    assert [o["order_id"] for o in closed] == [gone["order"]["order_id"]]
    assert seller.get_order(gone["order"]["order_id"])["status"] == "cancelled"
    fills = buyer.fills()["fills"]
    assert [(f["order_id"], f["quantity"], f["fee"], f["fee_asset"]) for f in fills] == [
        (taken["order"]["order_id"], "0.40000000", "0.00080000", "BTC")
    ]
    ledger = buyer.request("GET", "/ledger", params={"asset": "BTC"})["entries"]
    assert [e["kind"] for e in ledger] == ["fee", "fill", "deposit"]
    assert sum(float(e["amount"]) for e in ledger) == pytest.approx(100.3992)
    trades = buyer.trades("BTC-USD")["trades"]
    assert trades[0]["price"] == "65000.00000000" and resting["order"]["status"] == "open"
    status = admin.status()
    assert {p["name"] for p in status["projectors"]} == {"orders", "market", "ledger"}


def test_history_server_min_sequence_beyond_log_is_a_400(server: RunningServer) -> None:
    admin = server.admin()
    trader, _ = server.trader(admin)
    with pytest.raises(ApiError) as err:
        trader.request("GET", "/fills", params={"min_sequence": 10**15})
    assert err.value.status == 400 and err.value.field == "min_sequence"
