"""The load generator against a real server: a short, bounded run reports sane figures."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from pathlib import Path

import pytest

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
    assert result["client_cpu_us_per_order"] > 0 and result["client_cpu_us_per_time_req"] > 0
    assert "load generator's own CPU per request" in report(result)
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


def test_loadtest_signed_request_is_build_request_with_the_clients_signature() -> None:
    """The load generator formats a signed request in one step; it must be byte for byte what
    the plain builder makes with the headers the client library signs."""
    from cambist.client import signed_headers
    from cambist.server.loadtest import LoadGenerator, Trader
    from cambist.server.rawhttp import build_request

    gen = LoadGenerator(LoadConfig(url="http://127.0.0.1:8123", admin_key="", admin_secret=""))
    trader = Trader(7, "key-7", b"s3cret")
    for method, path, body in (
        ("POST", "/api/v1/orders", b'{"market":"BTC-USD","side":"buy"}'),
        ("DELETE", "/api/v1/orders/42", b""),
    ):
        raw = gen._sign(trader, method, path, body)
        ts = int(raw.split(b"CAMBIST-TIMESTAMP: ")[1].split(b"\r\n")[0])
        headers = signed_headers("key-7", "s3cret", ts, method, path, body)
        assert raw == build_request(method, path, "127.0.0.1:8123", body, headers)


def test_loadtest_answers_decode_the_order_and_the_error_code() -> None:
    from cambist.server.loadtest import LoadGenerator, Result, Trader

    gen = LoadGenerator(LoadConfig(url="http://127.0.0.1:8123", admin_key="", admin_secret=""))
    trader, res = Trader(7, "k", b"s"), Result()
    due = time.perf_counter()
    placed = b'{"order":{"order_id":17,"client_order_id":null,"status":"open","price":"1.5"},'
    gen._record(res, due, 201, placed + b'"fills":[],"sequence":17}', trader, "POST")
    gen._record(res, due, 201, b'{"order":{"order_id":18,"status":"filled"}}', trader, "POST")
    gen._record(res, due, 400, b'{"error":{"code":"invalid_price","message":"x"}}', trader, "POST")
    gen._record(res, due, 503, b"not json", trader, "POST")
    gen._record(res, due, 404, b'{"error":{"code":"unknown_order"}}', trader, "DELETE")
    assert list(trader.open) == [17]  # only the order still resting can be cancelled later
    assert (res.ok, res.errors, res.cancel_misses) == (3, 2, 1)
    assert res.error_codes == {"invalid_price": 1, "503": 1}
    assert res.histogram().get_total_count() == 5


def test_loadtest_open_loop_sends_every_order_without_spinning_between_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The open loop waits at least the loop's timer resolution between rounds of sends (a
    shorter sleep is a call_soon under uvloop: it spun a core the server needed), and still
    sends each order once, with its own due time."""
    import cambist.server.loadtest as lt

    gen = lt.LoadGenerator(lt.LoadConfig(url="http://127.0.0.1:8123", admin_key="",
                                         admin_secret=""))  # fmt: skip
    gen.traders = [lt.Trader(1, "k", b"s")]
    gen.idle.extend(object() for _ in range(4))  # type: ignore[misc]
    dues: list[float] = []

    async def send(res: lt.Result, conn: object, due: float, spec: object) -> None:
        dues.append(due)  # then what queued up behind it, as the real _send does
        while gen.backlog:
            dues.append(gen.backlog.popleft()[0])
        gen.idle.append(conn)  # type: ignore[arg-type]

    sleeps: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(delay: float) -> None:
        sleeps.append(delay)
        await real_sleep(delay)

    monkeypatch.setattr(gen, "_send", send)
    monkeypatch.setattr(lt.asyncio, "sleep", sleep)
    res = asyncio.run(gen.open_loop(rate=5_000, duration_s=0.2))
    assert res.sent == 1_000 and len(dues) == 1_000
    ordered = sorted(dues)  # each order once, 1/rate apart: its own due time
    assert all(abs(b - a - 1 / 5_000) < 1e-9 for a, b in itertools.pairwise(ordered))
    assert min(sleeps) >= lt._TICK_S
    assert len(sleeps) <= 0.2 / lt._TICK_S + 10  # one round per tick at most, not per order


def test_loadtest_cli_refuses_missing_files_bad_ranges_and_absent_servers(tmp_path: Path) -> None:
    """Every way to point the load generator at nothing answers with a sentence, never a
    traceback."""
    from typer.testing import CliRunner

    from cambist.cli import app

    def run(*args: str) -> tuple[int, str]:
        res = CliRunner().invoke(app, ["loadtest", "--data-dir", str(tmp_path), *args])
        assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
        # rich boxes and wraps the message to the terminal width: compare without the layout
        return res.exit_code, "".join(res.output.replace("│", " ").split())

    code, out = run("--rate", "10")
    assert code == 2 and "serve.json" in out and "cambistserve" in out
    (tmp_path / "serve.json").write_text("[1, 2]")
    code, out = run("--rate", "10")
    assert code == 2 and "notaJSONobject" in out
    code, out = run("--connections", "0")
    assert code == 2 and "connectionsin[1,4096]" in out
    (tmp_path / "serve.json").write_text(json.dumps({"url": "http://127.0.0.1:9", "pid": 1}))
    code, out = run("--rate", "10")
    assert code == 2 and "adminkey" in out
    (tmp_path / ADMIN_KEY_FILE).write_text(json.dumps({"api_key": "k", "api_secret": "s"}))
    code, out = run("--rate", "10", "--duration", "1", "--ceiling", "1")
    assert code == 1 and "noserveransweringathttp://127.0.0.1:9" in out


def test_loadtest_cli_with_an_unknown_admin_key_says_setup_failed(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cambist.cli import app

    srv = RunningServer(tmp_path / "srv").start()
    try:
        (tmp_path / "serve.json").write_text(json.dumps({"url": srv.url}))
        (tmp_path / ADMIN_KEY_FILE).write_text(json.dumps({"api_key": "x", "api_secret": "y"}))
        res = CliRunner().invoke(app, ["loadtest", "--data-dir", str(tmp_path), "--rate", "10",
                                       "--duration", "1", "--ceiling", "1"])  # fmt: skip
    finally:
        srv.stop()
    assert res.exit_code == 1 and "setting up the load test" in res.output
    assert "invalid_api_key" in res.output
