"""Engine throughput and latency: exchange-core's mix (A) and a limit/cancel stream (B), with
liquibook (C++ book, Python fill listener) on workload B in the same run for a ratio.

    python bench/engine.py [--quick] [--json] [--mypyc]

Workloads are generated before timing with a fixed seed; a pre-pass through a scratch engine
picks cancels and amends that name live orders, then a fresh engine runs the identical list under
the clock. Wallets, risk checks and events are all on. Throughput is the best of three tight-loop
passes (on B alternating with liquibook's, so both see the same load); latency percentiles come
from a separate pass that reads the clock around every command. ``--mypyc`` compiles ``cambist.domain``
with mypyc into a temporary directory and runs the same measurement against that build too.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import describe, percentiles
from cambist.domain import commands as c
from cambist.domain.engine import Engine
from cambist.domain.events import Trade
from cambist.domain.orders import Order
from cambist.domain.types import SelfTradePrevention, Side, TimeInForce
from cambist.workloads import MarketDef, sequence, setup_commands

MARKET = MarketDef(
    "BTC-USD",
    "BTC",
    "USD",
    tick=10**6,
    lot=10**3,
    mid=65_000 * 10**8,
    maker_fee_bps=10,
    taker_fee_bps=20,
)
TICK = MARKET.tick
STP = SelfTradePrevention.CANCEL_OLDEST
console = Console(stderr=True)


def fresh_engine(accounts: int) -> tuple[Engine, int]:
    engine = Engine()
    setup = list(sequence(setup_commands([MARKET], accounts=accounts, funds=10**9)))
    for cmd in setup:
        engine.apply(cmd)
    return engine, len(setup) + 1


def workload_a(total: int, seed: int = 1) -> tuple[list[c.Command], int]:
    """exchange-core's mix: 9% GTC, 3% IOC, 6% cancel, 6% reduce, 76% move; ~6% trade."""
    rng = random.Random(seed)
    scratch, seq = fresh_engine(2_000)
    cmds: list[c.Command] = []
    mid = MARKET.mid // TICK
    ts = 10**18

    def emit(cmd: c.Command) -> None:
        nonlocal seq, ts
        cmd.seq, cmd.ts = seq, ts
        seq += 1
        ts += 1_000
        scratch.apply(cmd)
        cmds.append(cmd)

    def passive_price(is_buy: bool) -> int:
        return (mid - rng.randint(1, 40) if is_buy else mid + rng.randint(1, 40)) * TICK

    for _ in range(1_000):
        is_buy = rng.random() < 0.5
        emit(
            c.PlaceOrder(
                account=rng.randint(1, 2_000),
                market="BTC-USD",
                side=Side.BUY if is_buy else Side.SELL,
                price=passive_price(is_buy),
                quantity=rng.randint(1, 50) * MARKET.lot,
                stp=STP,
            )
        )
    warmup = len(cmds)
    live = scratch.orders
    sampler = LiveSampler(rng, live)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("generating workload A", total=total)
        for i in range(total):
            if i % 10_000 == 0:
                progress.update(task, completed=i)
                mid += rng.randint(-3, 3)
            roll = rng.random()
            is_buy = rng.random() < 0.5
            side = Side.BUY if is_buy else Side.SELL
            account = rng.randint(1, 2_000)
            if roll < 0.12 or len(live) < 500:
                ioc = 0.09 <= roll < 0.12
                through = rng.random() < (0.5 if ioc else 0.12)
                price = (
                    (mid + rng.randint(0, 3) if is_buy else mid - rng.randint(0, 3)) * TICK
                    if through
                    else passive_price(is_buy)
                )
                emit(
                    c.PlaceOrder(
                        account=account,
                        market="BTC-USD",
                        side=side,
                        price=price,
                        quantity=rng.randint(1, 50) * MARKET.lot,
                        stp=STP,
                        time_in_force=TimeInForce.IOC if ioc else TimeInForce.GTC,
                    )
                )
                continue
            order = live[next(iter(live))] if rng.random() < 0.02 else sampler.pick()
            if roll < 0.18:
                emit(c.CancelOrder(account=order.account, order_id=order.order_id))
            elif roll < 0.24 and order.remaining > MARKET.lot:
                emit(
                    c.AmendOrder(
                        account=order.account,
                        order_id=order.order_id,
                        quantity=order.quantity - MARKET.lot,
                    )
                )
            else:
                cross = rng.random() < 0.06
                if cross:
                    price = (
                        mid + rng.randint(0, 2) if order.is_buy else mid - rng.randint(0, 2)
                    ) * TICK
                else:
                    price = passive_price(order.is_buy)
                if price == order.price:
                    price += TICK if not order.is_buy else -TICK
                emit(c.AmendOrder(account=order.account, order_id=order.order_id, price=price))
    return cmds, warmup


class LiveSampler:
    """Picks a random live order of a scratch engine; the key list is refreshed now and then
    (rebuilding it on every pick would dominate generation time)."""

    def __init__(self, rng: random.Random, live: dict[int, Order]) -> None:
        self.rng, self.live, self.keys = rng, live, list(live)

    def pick(self) -> Order:
        for _ in range(8):
            if not self.keys or self.rng.random() < 0.01:
                self.keys = list(self.live)
            oid = self.rng.choice(self.keys)
            if oid in self.live:
                return self.live[oid]
        self.keys = list(self.live)
        return self.live[self.rng.choice(self.keys)]


def workload_b(orders: int, cancels: int, seed: int = 2) -> tuple[list[c.Command], int]:
    """Limit orders, 30% priced through the opposite best, interleaved with cancels of live orders."""
    rng = random.Random(seed)
    scratch, seq = fresh_engine(2_000)
    sampler = LiveSampler(rng, scratch.orders)
    cmds: list[c.Command] = []
    mid = MARKET.mid // TICK
    cancel_every = orders / cancels
    next_cancel = cancel_every
    ts = 10**18
    for i in range(orders):
        is_buy = rng.random() < 0.5
        book = scratch.markets["BTC-USD"].book
        if rng.random() < 0.30:
            best = (book.asks.best_price() if is_buy else book.bids.best_price()) // TICK or mid
            price = (best + rng.randint(0, 5) if is_buy else best - rng.randint(0, 5)) * TICK
        else:
            price = (mid - rng.randint(1, 50) if is_buy else mid + rng.randint(1, 50)) * TICK
        batch: list[c.Command] = [
            c.PlaceOrder(
                account=rng.randint(1, 2_000),
                market="BTC-USD",
                side=Side.BUY if is_buy else Side.SELL,
                price=price,
                quantity=rng.randint(1, 100) * MARKET.lot,
                stp=STP,
            )
        ]
        if i >= next_cancel and scratch.orders:
            next_cancel += cancel_every
            order = sampler.pick()
            batch.append(c.CancelOrder(account=order.account, order_id=order.order_id))
        for cmd in batch:
            cmd.seq, cmd.ts = seq, ts
            seq += 1
            ts += 1_000
            scratch.apply(cmd)
            cmds.append(cmd)
    return cmds, 0


def _engine_ready(cmds: list[c.Command], warmup: int) -> tuple[Engine, list[c.Command]]:
    engine, _ = fresh_engine(2_000)
    for cmd in cmds[:warmup]:
        engine.apply(cmd)
    return engine, cmds[warmup:]


def engine_throughput(cmds: list[c.Command], warmup: int) -> float:
    """Commands per second through a fresh engine in a tight loop (no per-command clock).

    Throughput and latency are separate passes, as exchange-core's own tests are: reading the
    clock twice per command (and looking at every command's events) costs more than a
    command itself once the engine is compiled, so timing each one would measure the harness.
    """
    engine, timed = _engine_ready(cmds, warmup)
    apply = engine.apply
    gc.collect()
    gc.disable()
    start = time.perf_counter_ns()
    for cmd in timed:
        apply(cmd)
    elapsed = (time.perf_counter_ns() - start) / 1e9
    gc.enable()
    engine.validate_invariants()
    return len(timed) / elapsed


def engine_latency(cmds: list[c.Command], warmup: int) -> dict[str, object]:
    """Per-command latency (one ``Engine.apply`` call each) and the mix, in a separate pass."""
    engine, timed = _engine_ready(cmds, warmup)
    samples = [0] * len(timed)
    apply = engine.apply
    clock = time.perf_counter_ns
    traded = 0
    gc.collect()
    gc.disable()
    for i, cmd in enumerate(timed):
        t0 = clock()
        events = apply(cmd)
        samples[i] = clock() - t0
        traded += any(type(e) is Trade for e in events)
    gc.enable()
    mix = Counter(type(cmd).__name__ for cmd in timed)
    out: dict[str, object] = {
        "commands": len(timed),
        "trading_fraction": round(traded / len(timed), 4),
        "mix": {k: round(v / len(timed), 3) for k, v in sorted(mix.items())},
    }
    out.update(percentiles(samples))
    return out


def run_engine(cmds: list[c.Command], warmup: int, label: str, passes: int) -> dict[str, object]:
    """Best of ``passes`` throughput passes, then one latency pass."""
    rates = [engine_throughput(cmds, warmup) for _ in range(passes)]
    out: dict[str, object] = {
        "ops_per_s": round(max(rates)),
        "passes_ops_per_s": [round(r) for r in rates],
    }
    out.update(engine_latency(cmds, warmup))
    console.print(f"[bold]{label}[/]: {out}")
    return out


def _liquibook_book() -> tuple[object, object]:
    import liquibook

    class Listener(liquibook.OrderListener):  # type: ignore[misc]
        def __init__(self) -> None:
            liquibook.OrderListener.__init__(self)
            self.fills = 0

        def on_accept(self, order: object) -> None:
            pass

        def on_cancel(self, order: object) -> None:
            pass

        def on_reject(self, order: object, reason: str) -> None:
            pass

        def on_fill(self, passive: object, aggressive: object, qty: int, cost: int) -> None:
            passive.fill(qty, cost, 0)  # type: ignore[attr-defined]
            aggressive.fill(qty, cost, 0)  # type: ignore[attr-defined]
            self.fills += 1

    book = liquibook.DepthOrderBook()
    listener = Listener()
    book.set_order_listener(listener)
    book.set_symbol("BTC-USD")
    return book, listener


def _liquibook_orders(cmds: list[c.Command]) -> list[tuple[bool, object]]:
    """Fresh liquibook orders for one pass (an order object carries its fill state)."""
    import liquibook

    prepared: list[tuple[bool, object]] = []
    by_id: dict[int, object] = {}
    for cmd in cmds:
        if isinstance(cmd, c.PlaceOrder):
            order = liquibook.SimpleOrder(
                cmd.side is Side.BUY, cmd.price // TICK, cmd.quantity // MARKET.lot
            )
            by_id[cmd.seq] = order
            prepared.append((True, order))
        else:
            assert isinstance(cmd, c.CancelOrder)
            prepared.append((False, by_id[cmd.order_id]))
    return prepared


def liquibook_throughput(cmds: list[c.Command]) -> tuple[float, int]:
    """Workload B on liquibook in a tight loop: (commands per second, fills)."""
    book, listener = _liquibook_book()
    prepared = _liquibook_orders(cmds)
    add, cancel = book.add, book.cancel  # type: ignore[attr-defined]
    gc.collect()
    gc.disable()
    start = time.perf_counter_ns()
    for is_add, order in prepared:
        if is_add:
            add(order)
        else:
            cancel(order)
    elapsed = (time.perf_counter_ns() - start) / 1e9
    gc.enable()
    return len(prepared) / elapsed, listener.fills  # type: ignore[attr-defined]


def liquibook_latency(cmds: list[c.Command]) -> dict[str, float]:
    book, _ = _liquibook_book()
    prepared = _liquibook_orders(cmds)
    samples = [0] * len(prepared)
    clock = time.perf_counter_ns
    add, cancel = book.add, book.cancel  # type: ignore[attr-defined]
    gc.collect()
    gc.disable()
    for i, (is_add, order) in enumerate(prepared):
        t0 = clock()
        if is_add:
            add(order)
        else:
            cancel(order)
        samples[i] = clock() - t0
    gc.enable()
    return percentiles(samples)


def run_b_against_liquibook(
    cmds: list[c.Command], passes: int
) -> tuple[dict[str, object], dict[str, object]]:
    """Workload B, cambist and liquibook passes alternating so both see the same machine load."""
    ours: list[float] = []
    theirs: list[float] = []
    fills = 0
    for _ in range(passes):
        ours.append(engine_throughput(cmds, 0))
        rate, fills = liquibook_throughput(cmds)
        theirs.append(rate)
    result_b: dict[str, object] = {
        "ops_per_s": round(max(ours)),
        "passes_ops_per_s": [round(r) for r in ours],
    }
    result_b.update(engine_latency(cmds, 0))
    lb: dict[str, object] = {
        "ops_per_s": round(max(theirs)),
        "passes_ops_per_s": [round(r) for r in theirs],
        "commands": len(cmds),
        "fills": fills,
    }
    lb.update(liquibook_latency(cmds))
    console.print(f"[bold]cambist B[/]: {result_b}")
    console.print(f"[bold]liquibook B[/]: {lb}")
    return result_b, lb


def measure(quick: bool) -> dict[str, object]:
    a_total = 300_000 if quick else 3_000_000
    b_orders, b_cancels = (40_000, 10_000) if quick else (200_000, 50_000)
    passes = 3
    cmds_a, warm_a = workload_a(a_total)
    cmds_b, _ = workload_b(b_orders, b_cancels)
    result_a = run_engine(cmds_a, warm_a, "cambist A", passes)
    del cmds_a
    result_b, lb = run_b_against_liquibook(cmds_b, passes)
    b_rate, lb_rate = result_b["ops_per_s"], lb["ops_per_s"]
    assert isinstance(b_rate, int) and isinstance(lb_rate, int)
    return {
        "workload_a_ops_per_s": result_a["ops_per_s"],
        "workload_b_ops_per_s": b_rate,
        "liquibook_b_ops_per_s": lb_rate,
        "ratio_vs_liquibook": round(b_rate / lb_rate, 3),
        "workload_a": result_a,
        "workload_b": result_b,
        "liquibook_b": lb,
    }


def build_mypyc(into: Path) -> None:
    """Compile a copy of cambist with its domain built by mypyc in ``into`` (``make native``'s
    builder; nothing is written into the work tree)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
    from build_native import build_native

    console.print("compiling the domain modules with mypyc ...")
    build_native(into)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smaller run, under 30 s")
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object on the last line"
    )
    parser.add_argument("--mypyc", action="store_true", help="also measure a mypyc-compiled domain")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        print(json.dumps(measure(args.quick)))
        return
    machine = describe()
    console.print(f"machine: {machine}")
    result: dict[str, object] = {"machine": machine, **measure(args.quick)}
    if args.mypyc:
        with tempfile.TemporaryDirectory() as tmp:
            build_mypyc(Path(tmp))
            env = dict(os.environ, PYTHONPATH=tmp)
            cmd = [sys.executable, __file__, "--inner"] + (["--quick"] if args.quick else [])
            out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
            compiled = json.loads(out.strip().splitlines()[-1])
            result["mypyc"] = compiled
            result["mypyc_workload_a_ops_per_s"] = compiled["workload_a_ops_per_s"]
            result["mypyc_workload_b_ops_per_s"] = compiled["workload_b_ops_per_s"]
            result["mypyc_ratio_vs_liquibook"] = compiled["ratio_vs_liquibook"]
            console.print(
                f"[bold]mypyc[/]: A {compiled['workload_a_ops_per_s']}/s, B {compiled['workload_b_ops_per_s']}/s, "
                f"ratio vs liquibook {compiled['ratio_vs_liquibook']}"
            )
    summary = {k: v for k, v in result.items() if not isinstance(v, dict) or k == "machine"}
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in summary.items():
            print(f"{key}: {value}")


if __name__ == "__main__":
    main()
