"""Market-data gate benchmark: throughput per venue and message type, gate total on all
cores, end-to-end latency (emulator send -> log append) at a fixed rate, and cryptofeed's
own normalization of the same Binance messages as the baseline.

    python bench/feeds.py [--quick] [--json] [--native | --native-dir DIR] [--rounds N]
                          [--instructions]

``--json``: one JSON object with the figures on the last line. ``--quick``: under 30 s.
``--native``: compile the feed hot path with mypyc (the ``feeds`` group of
tools/build_native.py, as ``make native`` does) into a temporary directory, then run every
measurement in a fresh process per build, interpreted and native alternated, and report both
and their ratio; ``--native-dir build/native`` reuses an existing build. The builds'
figures include CPU microseconds per message, which others' load on the shared machine
inflates far less than wall-clock rates. ``--instructions`` adds each build's instructions per
message of the whole-gate mix counted by valgrind (callgrind), and the native gate's and
cryptofeed's per Binance trade and depth update with one connection: unaffected by the load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import describe
from cambist.feeds.gate import Gate, GateConfig
from cambist.feeds.merge import Merger
from cambist.feeds.sink import encode_batch
from cambist.feeds.types import Record, Trade
from cambist.feeds.venues import VENUES
from cambist.feeds.workers import share_text, tune_gc
from feeds_gate import (
    BOOKS,
    arrivals,
    balance,
    cores_for,
    drive,
    gate_total,
    group_args,
    record,
)


def throughput(
    venue: str, kind: str, msgs: list[bytes], setup: list[bytes], conns: int = 2
) -> float:
    """Wire messages per CPU-second (``time.process_time``, so other processes on the shared
    machine do not count) through parse, integrity, dedup (2 redundant copies) and encode."""
    pending: list[Record] = []
    merger = Merger(pending.append)
    cores = cores_for(venue, merger, setup, conns=conns)
    stream = arrivals(msgs, conns)  # every message arrives on each connection
    t0 = time.process_time()
    drive(cores, stream, time.time_ns(), pending, encode_batch)
    dt = time.process_time() - t0
    bad = sum(c.stats.malformed for c in cores) + sum(c.stats.resyncs for c in cores)
    if bad:
        raise RuntimeError(f"{venue}/{kind}: {bad} malformed or resynced messages in the recording")
    return conns * len(msgs) / dt


def cryptofeed_rate(trades: list[bytes], depth: list[bytes], snap: bytes) -> dict[str, float]:
    """cryptofeed 2.x's Binance normalization of the same messages, callbacks doing nothing;
    messages per CPU-second like ``throughput``."""
    feed, count = _cryptofeed(snap)

    async def run(msgs: list[bytes]) -> float:
        texts = [m.decode() for m in msgs]
        t0 = time.process_time()
        for m in texts:
            await feed.message_handler(m, None, 1.0)
        return len(texts) / (time.process_time() - t0)

    out = {"trades": asyncio.run(run(trades)), "book": asyncio.run(run(depth))}
    if count[0] < len(trades):
        raise RuntimeError("cryptofeed callbacks were not called")
    return out


def _cryptofeed(snap: bytes) -> tuple[Any, list[int]]:
    """A cryptofeed Binance feed on BTC-USDT and ETH-USDT with books loaded from ``snap``,
    and the count of its callbacks."""
    from decimal import Decimal

    from cryptofeed.defines import L2_BOOK, TRADES
    from cryptofeed.exchanges import Binance
    from cryptofeed.symbols import Symbols
    from cryptofeed.types import OrderBook

    info = {
        "symbols": [
            {
                "symbol": f"{b}USDT",
                "baseAsset": b,
                "quoteAsset": "USDT",
                "status": "TRADING",
                "filters": [{"filterType": "PRICE_FILTER", "tickSize": "0.01"}],
            }
            for b in ("BTC", "ETH")
        ]
    }
    syms, meta = Binance._parse_symbol_data(info)
    Symbols.set(Binance.id, syms, meta)
    count = [0]

    async def cb(obj: object, ts: float) -> None:
        count[0] += 1

    feed = Binance(
        symbols=["BTC-USDT", "ETH-USDT"],
        channels=[TRADES, L2_BOOK],
        callbacks={TRADES: cb, L2_BOOK: cb},
    )
    snapshot = json.loads(snap)
    for pair in ("BTC-USDT", "ETH-USDT"):
        feed._l2_book[pair] = OrderBook(
            feed.id,
            pair,
            bids={Decimal(p): Decimal(q) for p, q in snapshot["bids"]},
            asks={Decimal(p): Decimal(q) for p, q in snapshot["asks"]},
        )
        feed.last_update_id[pair] = 1000
    return feed, count


class TimedSink:
    """Records the append time of every trade, keyed by trade id (latency measurement)."""

    def __init__(self) -> None:
        self.appended: dict[str, int] = {}

    def append(self, records: Any) -> None:
        encode_batch(records)
        now = time.time_ns()
        for r in records:
            if type(r) is Trade:
                self.appended[r.trade_id] = now

    def append_encoded(self, payload: bytes) -> int:
        raise NotImplementedError("the latency run keeps its gate in-process")

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None


async def _latency_run(port: int, seconds: float, sink: TimedSink) -> dict[str, int]:
    syms = ["BTC-USDT", "ETH-USDT"]
    cfg = GateConfig(
        connections=2, ws_url=f"http://127.0.0.1:{port}/ws", rest_url=f"http://127.0.0.1:{port}"
    )
    gate = Gate(VENUES["binance"], syms, sink, cfg)
    task = asyncio.create_task(gate.run())
    await asyncio.sleep(seconds)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return gate.totals()


def latency(rate: float, seconds: float) -> dict[str, float]:
    """Emulator (separate process) sends Binance at ``rate`` events/s; gate appends to a sink."""
    with tempfile.TemporaryDirectory() as tmp:
        sends = Path(tmp) / "sends.json"
        emu = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "cambist"),
                "emulate",
                "--venue",
                "binance",
                "--symbols",
                "BTC-USDT,ETH-USDT",
                "--rate",
                str(rate),
                "--duration",
                str(seconds + 2),
                "--record-sends",
                str(sends),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert emu.stdout is not None
        port = json.loads(emu.stdout.readline())["port"]
        sink = TimedSink()
        try:  # the gate CLI runs on uvloop when it is installed; measure the same loop
            import uvloop

            totals = uvloop.run(_latency_run(port, seconds, sink))
        except ImportError:
            totals = asyncio.run(_latency_run(port, seconds, sink))
        emu.wait(timeout=30)
        sent = json.loads(sends.read_text())
    lat = sorted((sink.appended[k] - v) / 1e6 for k, v in sent.items() if k in sink.appended)
    if not lat:
        raise RuntimeError("no trade reached the sink")
    return {
        "p50_latency_ms": statistics.median(lat),
        "p99_latency_ms": lat[int(len(lat) * 0.99) - 1] if len(lat) >= 100 else lat[-1],
        "latency_samples": len(lat),
        "wire_msgs_per_s_at_rate": totals["messages"] / seconds,
    }


def measure(quick: bool) -> dict[str, Any]:
    """Every figure of one build (whichever ``cambist`` this process imports), printed as
    it comes; the result is what ``--json`` prints."""
    from cambist.feeds import core as core_module

    build = "native" if (core_module.__file__ or "").endswith(".so") else "interpreted"
    n = 5_000 if quick else 40_000
    m = describe()
    print(f"machine: {m['cpu']}, {m['cores']} cores, python {m['python']}, feeds {build}")
    per: dict[str, float] = {}
    recs = {venue: record(venue, n) for venue in VENUES}
    # the recordings (millions of objects) out of the collector's way, as `cambist feeds run`
    # freezes its start-up objects: otherwise every full collection walks them and charges
    # the gate (which allocates more tracked containers than cryptofeed) for the benchmark's
    # own heap; measured, that halved the gate's one-connection rate and not cryptofeed's
    tune_gc()
    for venue in VENUES:
        for kind in ("trades", "book", "quotes"):
            rate = throughput(venue, kind, recs[venue][kind], recs[venue]["setup"])
            per[f"{venue}.{kind}"] = rate
            print(
                f"  {venue:9s} {kind:7s} {rate:>12,.0f} msgs per CPU-second "
                f"({1e6 / rate:.2f} us/msg)"
            )
    cores = os.cpu_count() or 1
    reps = 1 if quick else 4
    one = gate_total([BOOKS], n, reps)
    # the books placed by what each cost in the one-worker run of the same messages (the
    # per-type rates above are short runs of one kind each: a noisier guide to the mix); a
    # venue's symbols may go to different workers, as `cambist feeds run --group` allows
    groups = balance(one["book_cpu_s"], cores)
    total = gate_total(groups, n, reps)
    for label, g in (("1 worker", one), (f"{len(groups)} workers", total)):
        print(
            f"whole gate, {label}: {g['msgs_per_s']:,.0f} msgs/s wall "
            f"({g['messages']:,} msgs, {g['records']:,} records logged, "
            f"{g['cpu_us_per_msg']:.2f} us CPU/msg, load {g['load']:.1f})"
        )
    print(
        f"  placed as `cambist feeds run {group_args(groups)}`; "
        f"per worker CPU / wall s: {total['workers_cpu_wall_s']}, "
        f"parent CPU {total['parent_cpu_s']} s, wall {total['wall_s']:.3f} s"
    )
    b = recs["binance"]
    # the machine is shared: alternate cryptofeed and the gate on the same messages a few
    # times and keep each one's best, so the ratio compares like with like. cryptofeed has
    # one connection per feed, so the gate runs one too here (each message once: no second
    # copy, whose memoized parse is cheaper, to flatter the rate)
    cf = {"trades": 0.0, "book": 0.0}
    ours = {"trades": 0.0, "book": 0.0}
    for _ in range(3):
        for k, v in cryptofeed_rate(b["trades"], b["book"], b["setup"][0]).items():
            cf[k] = max(cf[k], v)
        for k, best in list(ours.items()):
            ours[k] = max(best, throughput("binance", k, b[k], b["setup"], conns=1))
    cf_all = 2 / (1 / cf["trades"] + 1 / cf["book"])
    ours_all = 2 / (1 / ours["trades"] + 1 / ours["book"])
    for k in ("trades", "book"):
        print(
            f"  cryptofeed binance {k:6s} {cf[k]:>12,.0f} msgs per CPU-second "
            f"(gate, one connection, {ours[k]:,.0f}, x{ours[k] / cf[k]:.2f})"
        )
    tune_gc()
    lat = latency(2000 if quick else 5000, 4.0 if quick else 10.0)
    print(
        f"latency emulator->log at fixed rate: p50 {lat['p50_latency_ms']:.2f} ms, "
        f"p99 {lat['p99_latency_ms']:.2f} ms ({lat['latency_samples']} trades)"
    )
    return {
        "machine": m,
        "build": build,
        "per_core_msgs_per_s": {k: round(v) for k, v in per.items()},
        "gate_msgs_per_s": round(total["msgs_per_s"]),
        "gate_1_worker_msgs_per_s": round(one["msgs_per_s"]),
        "gate_cpu_us_per_msg": round(total["cpu_us_per_msg"], 2),
        "gate_1_worker_cpu_us_per_msg": round(one["cpu_us_per_msg"], 2),
        "gate_groups": [share_text(g, BOOKS) for g in groups],
        "gate_workers_cpu_wall_s": total["workers_cpu_wall_s"],
        "load_avg_1m": os.getloadavg()[0],
        **{k: round(v, 3) if isinstance(v, float) else v for k, v in lat.items()},
        "cryptofeed_msgs_per_s": round(cf_all),
        "cryptofeed_trades_per_s": round(cf["trades"]),
        "cryptofeed_depth_per_s": round(cf["book"]),
        "gate_one_conn_trades_per_s": round(ours["trades"]),
        "gate_one_conn_depth_per_s": round(ours["book"]),
        "ratio_vs_cryptofeed": round(ours_all / cf_all, 2),
    }


def native_build(into: Path) -> Path:
    """The ``feeds`` group of tools/build_native.py compiled into ``into`` (the same source
    as ``make native``; the domain is not needed here)."""
    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root / "tools"))
    try:
        from build_native import build_native
    finally:
        sys.path.pop(0)
    t0 = time.perf_counter()
    build_native(into, groups=("feeds",))
    print(f"built the feeds group with mypyc into {into} in {time.perf_counter() - t0:.0f} s")
    return into


def _part(quick: bool, pythonpath: str | None) -> dict[str, Any]:
    """``measure`` in a fresh process on one build (its gate workers inherit its path)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    args = [sys.executable, __file__, "--json", *(["--quick"] if quick else [])]
    run = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    lines = run.stdout.strip().splitlines()
    if run.returncode != 0 or not lines:
        raise RuntimeError(f"benchmark part failed: {run.stderr[-2000:]}")
    print("\n".join("  | " + ln for ln in lines[:-1]))
    out: dict[str, Any] = json.loads(lines[-1])
    return out


def compare(quick: bool, native_dir: Path, rounds: int) -> dict[str, Any]:
    """Interpreted and native alternated (A B A B ...) in the same minutes; each figure is
    the best of its build's rounds (the machine is shared: others' load only slows a run)."""
    runs: dict[str, list[dict[str, Any]]] = {"interpreted": [], "native": []}
    for r in range(rounds):
        for build, path in (("interpreted", None), ("native", str(native_dir))):
            print(f"round {r + 1}/{rounds}: {build} (load {os.getloadavg()[0]:.1f})")
            res = _part(quick, path)
            if res["build"] != build:
                raise RuntimeError(f"expected the {build} build, ran {res['build']}")
            runs[build].append(res)
    best: dict[str, dict[str, Any]] = {}
    for build, rs in runs.items():
        per = {
            k: max(r["per_core_msgs_per_s"][k] for r in rs) for k in rs[0]["per_core_msgs_per_s"]
        }
        best[build] = {
            "per_core_msgs_per_s": per,
            "gate_msgs_per_s": max(r["gate_msgs_per_s"] for r in rs),
            "gate_cpu_us_per_msg": min(r["gate_cpu_us_per_msg"] for r in rs),
            "gate_1_worker_cpu_us_per_msg": min(r["gate_1_worker_cpu_us_per_msg"] for r in rs),
            "p99_latency_ms": min(r["p99_latency_ms"] for r in rs),
            "p50_latency_ms": min(r["p50_latency_ms"] for r in rs),
            "ratio_vs_cryptofeed": max(r["ratio_vs_cryptofeed"] for r in rs),
            "cryptofeed_msgs_per_s": max(r["cryptofeed_msgs_per_s"] for r in rs),
            "loads": [round(r["load_avg_1m"], 1) for r in rs],
            "runs": rs,
        }
    i, n = best["interpreted"], best["native"]
    print("\nnative / interpreted (best of each build's rounds, msgs per CPU-second):")
    for k, v in i["per_core_msgs_per_s"].items():
        w = n["per_core_msgs_per_s"][k]
        print(f"  {k:18s} {1e6 / v:6.2f} -> {1e6 / w:6.2f} us/msg  x{w / v:.2f}")
    for label, key, fmt in (
        ("whole gate CPU us/msg", "gate_cpu_us_per_msg", ".2f"),
        ("whole gate msgs/s (wall)", "gate_msgs_per_s", ",.0f"),
        ("ratio vs cryptofeed (1 conn)", "ratio_vs_cryptofeed", ".2f"),
        ("p99 latency ms", "p99_latency_ms", ".1f"),
    ):
        print(f"  {label:30s} {i[key]:{fmt}} -> {n[key]:{fmt}}")
    print(f"  load averages: interpreted {i['loads']}, native {n['loads']}")
    return {
        # the headline keys are the native build's; both builds in full below
        **{k: v for k, v in n.items() if k != "runs"},
        "native_vs_interpreted_cpu": round(i["gate_cpu_us_per_msg"] / n["gate_cpu_us_per_msg"], 2),
        "interpreted": {k: v for k, v in i.items() if k != "runs"},
        "native": {k: v for k, v in n.items() if k != "runs"},
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument(
        "--native",
        action="store_true",
        help="compile the feed hot path with mypyc into a temporary directory and measure "
        "interpreted and native alternately in the same run",
    )
    ap.add_argument(
        "--native-dir",
        type=Path,
        help="like --native with an existing build (e.g. build/native from make native)",
    )
    ap.add_argument("--rounds", type=int, default=0, help="A/B rounds (default 1 quick, 2 full)")
    ap.add_argument(
        "--instructions",
        action="store_true",
        help="with --native/--native-dir: also count instructions per message of each build "
        "under valgrind (load-independent; several minutes)",
    )
    args = ap.parse_args()
    if not (args.native or args.native_dir):
        result = measure(args.quick)
    else:
        rounds = args.rounds or (1 if args.quick else 2)
        with tempfile.TemporaryDirectory() as tmp:
            native_dir = args.native_dir.resolve() if args.native_dir else native_build(Path(tmp))
            result = compare(args.quick, native_dir, rounds)
            if args.instructions:
                from feeds_instructions import instructions

                result["instructions_per_msg"] = instructions(native_dir)
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
