"""Market-data gate benchmark: throughput per venue and message type, gate total on all
cores, end-to-end latency (emulator send -> log append) at a fixed rate, and cryptofeed's
own normalization of the same Binance messages as the baseline.

    python bench/feeds.py [--quick] [--json]

``--json``: one JSON object with the figures on the last line. ``--quick``: under 30 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
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
from cambist.feeds.book import Verdict
from cambist.feeds.emulator.market import BookChange, Market
from cambist.feeds.gate import Core, Counters, Gate, GateConfig
from cambist.feeds.merge import Merger
from cambist.feeds.sink import FileSink, encode_batch
from cambist.feeds.types import Record, Trade
from cambist.feeds.venues import VENUES
from cambist.feeds.workers import PipeSink, tune_gc

SYMBOLS = {"kraken": ["BTC-USD", "ETH-USD"], "coinbase": ["BTC-USD", "ETH-USD"]}


def record(venue: str, n: int) -> dict[str, list[bytes]]:
    """Wire messages per type, as the emulator speaks them (snapshots first for books)."""
    mod = VENUES[venue]
    syms = SYMBOLS.get(venue, ["BTC-USDT", "ETH-USDT"])
    market = Market(venue, syms, seed=3, depth=mod.Wire.book_depth, keep_history=False)
    wire = mod.Wire(syms)
    out: dict[str, list[bytes]] = {
        "trades": [],
        "book": [],
        "quotes": [],
        "setup": [],
        "all": [],  # every message in the order the venue sends them (the whole-gate run)
    }
    for s in syms:
        bids, asks, seq = market.snapshot(s)
        st = market.symbols[s]
        if mod.Wire.rest_path:
            out["setup"].append(wire.rest_snapshot(s, bids, asks, seq))
        else:
            out["setup"].append(
                wire.book(s, True, bids, asks, -1, seq, st.book_ts, market.view_of(st)).encode()
            )
    while min(len(out["trades"]), len(out["book"])) < n:
        ev = market.step()
        if isinstance(ev, list):
            msgs = [t.encode() for t in wire.trades(ev)]
            out["trades"] += msgs
            out["all"] += msgs
        else:
            assert isinstance(ev, BookChange)
            st = market.symbols[ev.symbol]
            view = market.view_of(st)
            msg = wire.book(
                ev.symbol, False, ev.bids, ev.asks, ev.prev_seq, ev.seq, ev.ts, view
            ).encode()
            out["book"].append(msg)
            out["all"].append(msg)
            q = market.quote(ev.symbol, ev.ts)
            if q is not None:
                msg = wire.quote(q).encode()
                out["all"].append(msg)
                if len(out["quotes"]) < n:
                    out["quotes"].append(msg)
    return out


def _cores(venue: str, merger: Merger, setup: list[bytes], conns: int = 2) -> list[Core]:
    """The connections' pipelines sharing one merger, books made live from the setup."""
    mod = VENUES[venue]
    syms = SYMBOLS.get(venue, ["BTC-USDT", "ETH-USDT"])
    cores = [Core(mod, syms, i, merger, Counters()) for i in range(conns)]
    for core in cores:
        for s, raw in zip(syms, setup, strict=True):
            if mod.Wire.rest_path:
                snap = core.session.parse_snapshot(s, raw, 0)
                synced = core.books[s]
                synced.on_rest_snapshot(snap)
                merger.book(core.conn, snap, synced, Verdict.SNAPSHOT)
            else:
                core.handle(raw, 0)
    return cores


def throughput(
    venue: str, kind: str, msgs: list[bytes], setup: list[bytes], conns: int = 2
) -> float:
    """Wire messages per CPU-second (``time.process_time``, so other processes on the shared
    machine do not count) through parse, integrity, dedup (2 redundant copies) and encode."""
    pending: list[Record] = []
    merger = Merger(pending.append)
    cores = _cores(venue, merger, setup, conns)
    frames = 0
    t0 = time.process_time()
    ts = time.time_ns()
    for raw in msgs:
        for core in cores:  # every message arrives on both connections
            core.handle(raw, ts)
        if len(pending) >= 512:
            frames += len(encode_batch(pending))
            pending.clear()
    if pending:
        frames += len(encode_batch(pending))
    dt = time.process_time() - t0
    bad = sum(c.stats.malformed for c in cores) + sum(c.stats.resyncs for c in cores)
    if bad:
        raise RuntimeError(f"{venue}/{kind}: {bad} malformed or resynced messages in the recording")
    return conns * len(msgs) / dt


def _gate_worker(venues: list[str], n: int, reps: int, conn: Any, go: Any) -> None:
    """One worker process of the whole-gate run: its venue group's messages, both copies,
    through ``Core`` and the merger, batches to the parent through the pipe (``PipeSink``)."""
    tune_gc()
    recs = {v: record(v, n) for v in venues}
    sink = PipeSink(conn)
    conn.send_bytes(b"R")
    go.wait()
    c0 = time.process_time()
    msgs = 0
    for _ in range(reps):
        for v, r in recs.items():
            pending: list[Record] = []
            merger = Merger(pending.append)
            cores = _cores(v, merger, r["setup"])
            ts = time.time_ns()
            for raw in r["all"]:
                for core in cores:
                    core.handle(raw, ts)
                if len(pending) >= 512:
                    sink.append(pending)
                    pending.clear()
            if pending:
                sink.append(pending)
            msgs += 2 * len(r["all"])
            if any(c.stats.malformed or c.stats.resyncs for c in cores):
                raise RuntimeError(f"{v}: malformed or resynced messages in the recording")
    conn.send_bytes(b"D" + json.dumps([msgs, time.process_time() - c0]).encode())


def balance(cost: dict[str, float], workers: int) -> list[list[str]]:
    """Venue groups of about equal CPU cost (largest first onto the least loaded group), as
    an operator would deal venues to worker processes."""
    groups: list[list[str]] = [[] for _ in range(min(workers, len(cost)))]
    load = [0.0] * len(groups)
    for v in sorted(cost, key=cost.__getitem__, reverse=True):
        i = load.index(min(load))
        groups[i].append(v)
        load[i] += cost[v]
    return groups


def gate_total(groups: list[list[str]], n: int, reps: int) -> dict[str, float]:
    """The whole gate on all cores: one process per venue group, the parent appending every
    batch to a real log file. Wire messages (both copies) per wall second from the start
    signal until the last batch is written, and CPU time per message of all processes."""
    ctx = mp.get_context("spawn")
    go = ctx.Event()
    with tempfile.TemporaryDirectory() as tmp:
        sink = FileSink(Path(tmp) / "md.log")
        pipes, procs = [], []
        for g in groups:
            parent_end, child_end = ctx.Pipe(duplex=False)
            p = ctx.Process(target=_gate_worker, args=(g, n, reps, child_end, go), daemon=True)
            p.start()
            child_end.close()
            pipes.append(parent_end)
            procs.append(p)
        for c in pipes:
            if c.recv_bytes() != b"R":
                raise RuntimeError("worker failed to start")
        load = os.getloadavg()[0]
        c0 = time.process_time()
        t0 = time.perf_counter()
        go.set()
        msgs, cpu, live = 0, 0.0, list(pipes)
        while live:
            for c in mp.connection.wait(live):
                data = c.recv_bytes()  # type: ignore[union-attr]
                if data[:1] == b"L":
                    sink.append_encoded(data[1:])
                else:
                    m, s = json.loads(data[1:])
                    msgs, cpu = msgs + m, cpu + s
                    live.remove(c)
        sink.flush()
        wall = time.perf_counter() - t0
        parent_cpu = time.process_time() - c0
        records = sink.count
        sink.close()
        for p in procs:
            p.join(10)
    return {
        "msgs_per_s": msgs / wall,
        "messages": msgs,
        "records": records,
        "wall_s": wall,
        "cpu_us_per_msg": (cpu + parent_cpu) / msgs * 1e6,
        "load": load,
    }


def cryptofeed_rate(trades: list[bytes], depth: list[bytes], snap: bytes) -> dict[str, float]:
    """cryptofeed 2.x's Binance normalization of the same messages, callbacks doing nothing;
    messages per CPU-second like ``throughput``."""
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
    count = 0

    async def cb(obj: object, ts: float) -> None:
        nonlocal count
        count += 1

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

    async def run(msgs: list[bytes]) -> float:
        texts = [m.decode() for m in msgs]
        t0 = time.process_time()
        for m in texts:
            await feed.message_handler(m, None, 1.0)
        return len(texts) / (time.process_time() - t0)

    out = {"trades": asyncio.run(run(trades)), "book": asyncio.run(run(depth))}
    if count < len(trades):
        raise RuntimeError("cryptofeed callbacks were not called")
    return out


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    n = 5_000 if args.quick else 40_000
    m = describe()
    print(f"machine: {m['cpu']}, {m['cores']} cores, python {m['python']}")
    per: dict[str, float] = {}
    recs = {}
    for venue in VENUES:
        recs[venue] = record(venue, n)
        for kind in ("trades", "book", "quotes"):
            rate = throughput(venue, kind, recs[venue][kind], recs[venue]["setup"])
            per[f"{venue}.{kind}"] = rate
            print(f"  {venue:9s} {kind:7s} {rate:>12,.0f} msgs per CPU-second")
    cost = {
        v: sum(len(recs[v][k]) / per[f"{v}.{k}"] for k in ("trades", "book", "quotes"))
        for v in VENUES
    }
    cores = os.cpu_count() or 1
    groups = balance(cost, cores)
    reps = 1 if args.quick else 4
    one = gate_total([list(VENUES)], n, reps)
    total = gate_total(groups, n, reps)
    for label, g in (("1 worker", one), (f"{len(groups)} workers", total)):
        print(
            f"whole gate, {label}: {g['msgs_per_s']:,.0f} msgs/s wall "
            f"({g['messages']:,} msgs, {g['records']:,} records logged, "
            f"{g['cpu_us_per_msg']:.2f} us CPU/msg, load {g['load']:.1f})"
        )
    print(f"  groups: {groups}")
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
    tune_gc()  # as `cambist feeds run` does before its gates start
    lat = latency(2000 if args.quick else 5000, 4.0 if args.quick else 10.0)
    print(
        f"latency emulator->log at fixed rate: p50 {lat['p50_latency_ms']:.2f} ms, "
        f"p99 {lat['p99_latency_ms']:.2f} ms ({lat['latency_samples']} trades)"
    )
    result = {
        "machine": m,
        "per_core_msgs_per_s": {k: round(v) for k, v in per.items()},
        "gate_msgs_per_s": round(total["msgs_per_s"]),
        "gate_1_worker_msgs_per_s": round(one["msgs_per_s"]),
        "gate_cpu_us_per_msg": round(total["cpu_us_per_msg"], 2),
        "gate_groups": groups,
        "load_avg_1m": os.getloadavg()[0],
        **{k: round(v, 3) if isinstance(v, float) else v for k, v in lat.items()},
        "cryptofeed_msgs_per_s": round(cf_all),
        "cryptofeed_trades_per_s": round(cf["trades"]),
        "cryptofeed_depth_per_s": round(cf["book"]),
        "ratio_vs_cryptofeed": round(ours_all / cf_all, 2),
    }
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
