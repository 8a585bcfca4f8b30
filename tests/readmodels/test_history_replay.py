"""A long random workload projected to SQL, then every history endpoint's answer compared with
answers computed independently from the events (and the engine's balances)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from cambist.domain import events as ev
from cambist.domain.money import format_units, parse_units
from cambist.gateways.rest.app import Request
from cambist.gateways.rest.errors import ApiError
from cambist.gateways.rest.history import History
from cambist.gateways.rest.keystore import ApiKey
from cambist.gateways.rest.view import View, iso
from cambist.readmodels.projectors import CANDLE_INTERVALS
from cambist.readmodels.runner import ProjectorGroup
from cambist.readmodels.store import SqliteStore, Store
from tests.readmodels.workload import (
    engine_balances,
    expected_candles,
    expected_trades,
    final_order_states,
    workload,
)

N = 6000


class _Projectors:
    def __init__(self, path: Path, position: int) -> None:
        self.path, self.position = path, position
        self.opened: list[Store] = []

    def read_store(self) -> Store:
        s = SqliteStore(self.path)
        self.opened.append(s)
        return s

    async def wait_for(self, seq: int, timeout: float) -> bool:
        return self.position >= seq

    def status(self) -> list[tuple[str, int, int]]:
        return [("orders", self.position, 0)]


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    applied, _ = workload(N)
    path = Path(tmp_path_factory.mktemp("hist")) / "rm.sqlite"
    store = SqliteStore(path)
    ProjectorGroup(store).open().run(applied)
    store.close()
    view = View()
    view.apply_all(applied)
    fake = _Projectors(path, applied[-1].seq)
    yield History(view, fake, 1.0, lambda: applied[-1].ts)
    for s in fake.opened:
        s.close()


def call(handler: Any, account: int = 0, params: tuple[str, ...] = (), **query: Any) -> Any:
    q = {k: str(v) for k, v in query.items()}
    req = Request("GET", "/", b"/", q, b"", {}, params, ApiKey("k", b"s", account, "trader"))
    resp = asyncio.run(handler(req))
    assert resp.status == 200, resp.body
    return msgspec.json.decode(resp.body)


def pages(
    handler: Any, key: str, account: int = 0, params: tuple[str, ...] = (), **query: Any
) -> list[Any]:
    out: list[Any] = []
    cursor = None
    while True:
        extra = {"cursor": cursor} if cursor else {}
        page = call(handler, account, params, limit=97, **query, **extra)
        out.extend(page[key])
        cursor = page["next_cursor"]
        if cursor is None:
            return out


def test_history_orders_every_account_matches_event_statuses(history: History) -> None:
    applied, _ = workload(N)
    want = final_order_states(applied)
    owner = {a.command.seq: getattr(a.command, "account", None) for a in applied}
    for account in range(1, 13):
        got = pages(history.list_orders, "orders", account, status="all")
        ids = [o["order_id"] for o in got]
        assert ids == sorted(ids, reverse=True)
        assert {o["order_id"]: o["status"] for o in got} == {
            oid: s for oid, s in want.items() if owner[oid] == account
        }


def test_history_fills_every_account_matches_trades(history: History) -> None:
    applied, _ = workload(N)
    want: dict[int, set[tuple[int, int, str]]] = defaultdict(set)
    for a in applied:
        for e in a.events:
            if isinstance(e, ev.Trade):
                want[e.taker_account].add((e.trade_id, e.taker_order_id, "taker"))
                want[e.maker_account].add((e.trade_id, e.maker_order_id, "maker"))
    for account in range(1, 13):
        got = pages(history.list_fills, "fills", account)
        assert {(f["trade_id"], f["order_id"], f["liquidity"]) for f in got} == want[account]


def test_history_ledger_sums_per_asset_equal_engine_balances(history: History) -> None:
    _, engine = workload(N)
    balances = engine_balances(engine)
    for account in (0, 1, 5, 12):
        sums: dict[str, int] = defaultdict(int)
        for entry in pages(history.ledger, "entries", account):
            sums[entry["asset"]] += parse_units(entry["amount"], 8)
        want = {asset: av + rv for (acct, asset), (av, rv) in balances.items() if acct == account}
        assert {a: v for a, v in sums.items() if v} == want


def test_history_trades_and_candles_match_events(history: History) -> None:
    applied, _ = workload(N)
    trades = expected_trades(applied)
    for market in ("BTC-USD", "ETH-BTC"):
        got = pages(history.trades, "trades", params=(market,))
        assert [t["trade_id"] for t in got] == [t[0] for t in reversed(trades) if t[1] == market]
        for interval, span in CANDLE_INTERVALS.items():
            rows = call(history.candles, params=(market,), interval=interval, limit=1000)["candles"]
            want = {
                iso(start): v
                for (m, start), v in expected_candles(applied, span).items()
                if m == market
            }
            assert {c["start"]: parse_units(c["high"], 8) for c in rows} == {
                k: v[1] for k, v in sorted(want.items())[-1000:]
            }


def test_history_ticker_24h_matches_trades(history: History) -> None:
    applied, _ = workload(N)
    now = applied[-1].ts
    day = [t for t in expected_trades(applied) if t[1] == "BTC-USD"]
    since = now - 86_400 * 10**9
    since += -since % (60 * 10**9)
    recent = [t for t in day if t[6] - t[6] % (60 * 10**9) >= since]
    got = call(history.ticker, params=("BTC-USD",))
    assert got["last"] == format_units(day[-1][2], 8)
    assert got["volume_24h"] == format_units(sum(t[3] for t in recent), 8)
    assert got["high_24h"] == format_units(max(t[2] for t in recent), 8)


@pytest.mark.parametrize(
    ("handler", "params", "query", "code"),
    [
        ("trades", ("NOPE-USD",), {}, "unknown_market"),
        ("list_orders", (), {"market": "NOPE-USD"}, "unknown_market"),
        (
            "list_orders",
            (),
            {"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
            "invalid_parameter",
        ),
        (
            "list_orders",
            (),
            {"market": "BTC-USD", "price_min": "70000", "price_max": "60000"},
            "invalid_parameter",
        ),
        ("list_orders", (), {"limit": "100000"}, "invalid_parameter"),
        ("list_orders", (), {"cursor": "abc"}, "invalid_parameter"),
        ("list_fills", (), {"cursor": "12"}, "invalid_parameter"),
        ("ledger", (), {"cursor": "1.x"}, "invalid_parameter"),
        ("ledger", (), {"asset": "DOGE"}, "unknown_asset"),
        ("candles", ("BTC-USD",), {"interval": "2m"}, "invalid_parameter"),
        ("trades", ("BTC-USD",), {"limit": "0"}, "invalid_parameter"),
        ("trades", ("BTC-USD",), {"min_sequence": str(10**12)}, "invalid_parameter"),
    ],
)
def test_history_bad_parameters_get_a_clear_4xx(
    history: History, handler: str, params: tuple[str, ...], query: dict[str, str], code: str
) -> None:
    req = Request("GET", "/", b"/", query, b"", {}, params, ApiKey("k", b"s", 1, "trader"))
    with pytest.raises(ApiError) as err:
        asyncio.run(getattr(history, handler)(req))
    assert err.value.code == code and 400 <= err.value.status < 500
