"""Journal throughput: group commit at several batch sizes and with concurrent producers, replay
speed from a large journal, full recovery time, snapshot write/load with many open orders.

    python bench/journal.py [--quick] [--json] [--dir PATH]

Baselines in the same run: the raw disk (write + fdatasync of the same bytes, no encoding) and
the journal with fsync replaced by nothing, so each group-commit figure reads as a ratio. Command
objects are built before the clock starts; encoding, stamping, CRC, write and fdatasync are timed.
The journal lives under ``--dir`` (default: a temporary directory on the project's disk).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import describe
from cambist.domain import commands as c
from cambist.domain.engine import Engine
from cambist.domain.types import Side
from cambist.log.journal import Journal, read_commands
from cambist.log.recovery import gc_paused, recover, replay
from cambist.log.segments import SNAPSHOTS_DIR
from cambist.log.snapshots import SnapshotStore

console = Console(stderr=True)
MARKET = "BTC-USD"
ACCOUNTS = 100


def setup() -> list[c.Command]:
    cmds: list[c.Command] = [
        c.CreateAsset(asset="BTC", scale=8),
        c.CreateAsset(asset="USD", scale=2),
        c.CreateMarket(market=MARKET, base="BTC", quote="USD", tick=100, lot=1_000_000,
                       min_quantity=1_000_000, max_quantity=10**12, maker_fee_bps=5,
                       taker_fee_bps=10),
    ]  # fmt: skip
    for a in range(1, ACCOUNTS + 1):
        cmds += [c.CreateAccount(account=a),
                 c.Deposit(account=a, asset="BTC", amount=10**15, reference=""),
                 c.Deposit(account=a, asset="USD", amount=10**15, reference="")]  # fmt: skip
    return cmds


def trading(n: int, seed: int = 7) -> list[c.Command]:
    """Limit orders around 50,000.00 that cross about half the time, and some cancels."""
    rng = random.Random(seed)
    out: list[c.Command] = []
    for _ in range(n):
        account = rng.randint(1, ACCOUNTS)
        if rng.random() < 0.05:
            out.append(c.CancelAll(account=account, market=MARKET))
        else:
            out.append(c.PlaceOrder(
                account=account, market=MARKET, side=Side.BUY if rng.random() < 0.5 else Side.SELL,
                price=rng.randint(49_900, 50_100) * 100, quantity=rng.randint(1, 10) * 1_000_000,
            ))  # fmt: skip
    return out


def resting(n: int) -> list[c.Command]:
    """n orders that never cross: bids below 49,000.00, asks above 51,000.00, many levels."""
    rng = random.Random(3)
    out: list[c.Command] = []
    for i in range(n):
        buy = i % 2 == 0
        price = (rng.randint(40_000, 48_999) if buy else rng.randint(51_001, 60_000)) * 100
        out.append(c.PlaceOrder(account=1 + i % ACCOUNTS, market=MARKET,
                                side=Side.BUY if buy else Side.SELL, price=price,
                                quantity=1_000_000, client_order_id=f"r{i}"))  # fmt: skip
    return out


def raw_disk(directory: Path, record_bytes: int, seconds: float) -> dict[str, float]:
    """write + fdatasync of ``record_bytes`` per call: the disk's own group-commit ceiling."""
    path = directory / "raw.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    buf = b"x" * record_bytes
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        os.write(fd, buf)
        os.fdatasync(fd)
        n += 1
    elapsed = time.perf_counter() - start
    os.close(fd)
    path.unlink()
    return {"syncs_per_s": n / elapsed, "ms_per_sync": elapsed / n * 1000}


def batch_rate(directory: Path, cmds: list[c.Command], batch: int, seconds: float,
               fsync: bool = True) -> float:  # fmt: skip
    """Commands/s of one producer appending ``batch`` commands per durable append."""
    shutil.rmtree(directory, ignore_errors=True)
    journal = Journal.open(directory)
    if not fsync:  # plain writes, no sync: the journal's own CPU cost
        journal._sync_write = None
        journal._fsync = lambda fd: None
    done, i, start = 0, 0, time.perf_counter()
    with gc_paused():
        while time.perf_counter() - start < seconds:
            if i + batch > len(cmds):
                i = 0
            journal.append_sync(cmds[i : i + batch])
            i += batch
            done += batch
    elapsed = time.perf_counter() - start
    journal.close()
    return done / elapsed


def concurrent_rate(directory: Path, cmds: list[c.Command], producers: int, batch: int,
                    seconds: float) -> tuple[float, float]:  # fmt: skip
    """Commands/s with ``producers`` threads appending at once (each waits for its own batch to
    be durable); returns the rate and the mean commands per fsync the group commit formed."""
    shutil.rmtree(directory, ignore_errors=True)
    journal = Journal.open(directory)
    syncs = [0]

    def counting(seconds: float) -> None:
        syncs[0] += 1

    journal.on_sync = counting
    stop = time.perf_counter() + seconds
    counts = [0] * producers

    def produce(p: int) -> None:
        i = p * batch
        while time.perf_counter() < stop:
            if i + batch > len(cmds):
                i = 0
            journal.append_sync(cmds[i : i + batch])
            i += batch * producers
            counts[p] += batch

    threads = [threading.Thread(target=produce, args=(p,)) for p in range(producers)]
    start = time.perf_counter()
    with gc_paused():
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    elapsed = time.perf_counter() - start
    journal.close()
    total = sum(counts)
    return total / elapsed, total / max(syncs[0], 1)


def build_journal(directory: Path, total: int, snapshot_every: int) -> str:
    """A journal of ``total`` commands of trading, with snapshots every ``snapshot_every``
    (as a node with that setting writes them); returns the final state hash."""
    shutil.rmtree(directory, ignore_errors=True)
    journal = Journal.open(directory)
    store = SnapshotStore(directory / SNAPSHOTS_DIR)
    engine = Engine()
    pool = trading(200_000)
    head = setup()
    journal.append_sync(head)
    for cmd in head:
        engine.apply(cmd)
    written = len(head)
    with Progress(console=console, transient=True) as bar, gc_paused():
        task = bar.add_task(f"writing {total:,} commands", total=total)
        i = 0
        while written < total:
            n = min(10_000, total - written, snapshot_every - written % snapshot_every)
            if i + n > len(pool):
                i = 0
            chunk = pool[i : i + n]
            i += n
            journal.append_sync(chunk)
            for cmd in chunk:
                engine.apply(cmd)
            written += n
            if written % snapshot_every == 0:
                store.write(engine.last_seq, engine.snapshot())
            bar.advance(task, n)
    journal.close()
    return engine.state_hash()


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes, under 30 s")
    ap.add_argument("--json", action="store_true", help="one JSON object on the last line")
    ap.add_argument("--dir", type=Path, default=None, help="where to put the journals")
    args = ap.parse_args()
    quick = args.quick
    base = Path(tempfile.mkdtemp(prefix="cambist-bench-", dir=args.dir or Path.cwd()))
    machine = describe()
    console.print(f"machine: {machine}")
    res: dict[str, Any] = {"machine": machine, "quick": quick}
    try:
        seconds = 0.6 if quick else 2.0
        pool = trading(100_000 if quick else 300_000)
        rec_bytes = 1000 * 55 + 36  # what a batch of 1,000 PlaceOrders encodes to
        res["raw_disk_batch1000_bytes"] = raw_disk(base, rec_bytes, seconds)
        rates: dict[str, float] = {}
        for batch in (1, 10, 100, 1000):
            rates[f"batch_{batch}"] = batch_rate(base / "j", pool, batch, seconds)
            console.print(f"batch {batch:>5}: {rates[f'batch_{batch}']:>12,.0f} cmds/s durable")
        no_sync = batch_rate(base / "j", pool, 1000, seconds, fsync=False)
        res["batch_1000_without_fsync_cmds_per_s"] = no_sync
        res["fsync_cost_ratio_batch_1000"] = rates["batch_1000"] / no_sync
        for producers, batch in ((4, 100), (8, 1000), (16, 1000)):
            rate, per_sync = concurrent_rate(base / "j", pool, producers, batch, seconds)
            rates[f"producers_{producers}x{batch}"] = rate
            res[f"producers_{producers}x{batch}_cmds_per_fsync"] = per_sync
            console.print(f"{producers} producers x batch {batch}: {rate:,.0f} cmds/s "
                          f"({per_sync:,.0f} cmds per fsync)")  # fmt: skip
        res["group_commit_cmds_per_s"] = rates
        res["journaled_cmds_per_s"] = max(rates.values())

        total = 200_000 if quick else 5_000_000
        snapshot_every = 100_000
        jdir = base / "big"
        final_hash, build_s = timed(lambda: build_journal(jdir, total, snapshot_every))
        res["journal_commands"] = total
        res["journal_bytes"] = sum(p.stat().st_size for p in (jdir / "segments").iterdir())
        res["journal_build_s"] = build_s

        def read_all() -> int:
            with gc_paused():
                return sum(1 for _ in read_commands(jdir))

        count, read_s = timed(read_all)
        assert count == total
        res["journal_read_cmds_per_s"] = total / read_s
        console.print(f"read+decode {total:,}: {read_s:.2f} s ({total / read_s:,.0f} cmds/s)")
        full_n = total

        def full_replay() -> Engine:
            engine = Engine()
            replay(engine, jdir)
            return engine

        engine, full_s = timed(full_replay)
        assert engine.state_hash() == final_hash, "replay diverged"
        res["replay_cmds_per_s"] = full_n / full_s
        res["full_replay_s"] = full_s
        console.print(f"replay through engine from zero: {full_s:.2f} s "
                      f"({full_n / full_s:,.0f} cmds/s)")  # fmt: skip
        del engine
        # Worst case for the default cadence: the newest snapshot is a whole interval behind.
        newest = SnapshotStore(jdir / SNAPSHOTS_DIR).paths()[0][1]
        newest.unlink()
        rec, rec_s = timed(lambda: recover(jdir))
        assert rec.engine.state_hash() == final_hash, "recovery diverged"
        res["recovery_s"] = rec_s
        res["recovery_total_cmds"] = total
        res["recovery_snapshot_seq"] = rec.snapshot_seq
        res["recovery_replayed"] = rec.replayed
        console.print(f"recovery (snapshot at {rec.snapshot_seq:,} + {rec.replayed:,} replayed): "
                      f"{rec_s:.2f} s")  # fmt: skip
        del rec

        orders = 50_000 if quick else 1_000_000
        engine = Engine()
        seq = 1
        with gc_paused():
            for cmd in setup() + resting(orders):
                cmd.seq, cmd.ts = seq, 1
                engine.apply(cmd)
                seq += 1
        assert len(engine.orders) == orders
        store = SnapshotStore(base / "snaps")
        payload, dump_s = timed(engine.snapshot)
        snap_seq = engine.last_seq
        del engine
        info, write_s = timed(lambda: store.write(snap_seq, payload))
        (_info, data), read_s2 = timed(lambda: SnapshotStore.read(info.path))

        def restore() -> Engine:
            with gc_paused():
                return Engine.restore(data)

        restored, restore_s = timed(restore)
        assert len(restored.orders) == orders
        res["snapshot_open_orders"] = orders
        res["snapshot_bytes"] = info.size
        res["snapshot_write_s"] = dump_s + write_s
        res["snapshot_serialise_s"] = dump_s
        res["snapshot_load_s"] = read_s2 + restore_s
        console.print(f"snapshot of {orders:,} open orders: write {dump_s + write_s:.2f} s "
                      f"(serialise {dump_s:.2f}), load {read_s2 + restore_s:.2f} s, "
                      f"{info.size / 1e6:.0f} MB")  # fmt: skip
    finally:
        shutil.rmtree(base, ignore_errors=True)
        gc.collect()
    if args.json:
        print(json.dumps(res))
    else:
        console.print_json(json.dumps(res))


if __name__ == "__main__":
    main()
