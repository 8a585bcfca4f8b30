"""The load generator against a real server: a short, bounded run reports sane figures."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from cambist.client import AsyncClient
from cambist.server.loadtest import LoadConfig, report, run_loadtest
from cambist.server.runner import ADMIN_KEY_FILE
from tests.gateways.harness import RunningServer


def test_loadtest_short_open_loop_reports_all_fields(tmp_path: Path) -> None:
    srv = RunningServer(tmp_path).start()
    try:
        key = json.loads((tmp_path / ADMIN_KEY_FILE).read_text())
        cfg = LoadConfig(
            url=srv.url,
            admin_key=key["api_key"],
            admin_secret=key["api_secret"],
            rate=300,
            duration_s=1.0,
            accounts=4,
            connections=8,
            ceiling_s=0.5,
        )
        result = run_loadtest(cfg)
    finally:
        srv.stop()
    assert result["errors"] == 0, result["error_codes"]
    assert 90 <= result["orders_per_s"] <= 400  # 300 sent; elapsed includes the drain
    assert 0 < result["p50_ms"] <= result["p99_ms"] <= result["p999_ms"] <= result["max_ms"]
    assert result["ceiling_req_per_s"] > 0 and result["ratio"] > 0
    assert 0 <= result["client_lag_p99_ms"] <= result["client_lag_max_ms"] < 10_000
    assert json.loads(report(result).splitlines()[-1]) == result


def test_async_client_places_and_reads_back(tmp_path: Path) -> None:
    srv = RunningServer(tmp_path).start()
    try:
        admin = srv.admin()
        made = admin.create_account("async")
        admin.deposit(made["account_id"], "USD", "1000", "async-usd")

        async def scenario() -> tuple[dict[str, object], dict[str, object]]:
            async with AsyncClient(srv.url, made["api_key"], made["api_secret"]) as client:
                placed = await client.place_order("BTC-USD", "buy", "0.001", "100")
                got = await client.get_order(placed["order"]["order_id"])
                return placed, got

        placed, got = asyncio.run(scenario())
        assert got == placed["order"]
    finally:
        srv.stop()
