"""The whole gate on all cores, for bench/feeds.py: recordings of the emulator's messages,
worker processes that push them through ``Core``, the merger and the log encoding, and the
placement of the (venue, symbol) books onto the workers.

A worker takes a share of the books as ``cambist feeds run`` gives one (``WorkerSpec.books``:
venue -> symbols), so a venue's symbols may be split between workers, and the placement the
benchmark finds is printed as the ``--group`` arguments that reproduce it.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing as mp
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cambist.feeds.book import Verdict
from cambist.feeds.core import Core, Counters
from cambist.feeds.emulator.market import BookChange, Market
from cambist.feeds.merge import Merger
from cambist.feeds.sink import FileSink
from cambist.feeds.types import Record
from cambist.feeds.venues import VENUES
from cambist.feeds.workers import PipeSink, share_text, tune_gc

SYMBOLS = {"kraken": ["BTC-USD", "ETH-USD"], "coinbase": ["BTC-USD", "ETH-USD"]}
BOOKS = {v: SYMBOLS.get(v, ["BTC-USDT", "ETH-USDT"]) for v in VENUES}
"""The benchmark's books: two symbols of every venue."""


def record(venue: str, n: int, only: Sequence[str] | None = None) -> dict[str, Any]:
    """Wire messages per type, as the emulator speaks them (snapshots first for books), of
    ``only`` these symbols of the venue (default all).

    The market always runs all of the venue's symbols and each symbol's messages stop once it
    has sent its share (``n`` over the number of symbols) of trade and book messages, so the
    recordings of a venue's symbols taken apart are, together, the recording of the whole
    venue: the same messages except for per-connection counters (Coinbase's sequence
    numbers count each connection's own messages)."""
    mod = VENUES[venue]
    syms = BOOKS[venue]
    keep = list(only or syms)
    market = Market(venue, syms, seed=3, depth=mod.Wire.book_depth, keep_history=False)
    wire = mod.Wire(keep)
    everyone = wire if keep == syms else mod.Wire(syms)  # counts the others' trade messages
    out: dict[str, Any] = {
        "trades": [],
        "book": [],
        "quotes": [],
        "setup": [],
        "all": [],  # every message in the order the venue sends them (the whole-gate run)
        "per_symbol": dict.fromkeys(keep, 0),  # messages of each symbol in "all"
    }
    for s in keep:
        bids, asks, seq = market.snapshot(s)
        st = market.symbols[s]
        if mod.Wire.rest_path:
            out["setup"].append(wire.rest_snapshot(s, bids, asks, seq))
        else:
            out["setup"].append(
                wire.book(s, True, bids, asks, -1, seq, st.book_ts, market.view_of(st)).encode()
            )
    quota = -(-n // len(syms))
    sent = {s: [0, 0] for s in syms}  # trade and book messages each symbol has sent

    def done(s: str) -> bool:
        return min(sent[s]) >= quota

    while not all(done(s) for s in syms):
        ev = market.step()
        s = ev[0].symbol if isinstance(ev, list) else ev.symbol
        if done(s):
            continue
        if isinstance(ev, list):
            # one message per trade or per batch, as the venue sends them
            if s not in keep:
                sent[s][0] += len(everyone.trades(ev))
                continue
            msgs = [t.encode() for t in wire.trades(ev)]
            out["trades"] += msgs
            out["all"] += msgs
            out["per_symbol"][s] += len(msgs)
            sent[s][0] += len(msgs)
            continue
        assert isinstance(ev, BookChange)
        sent[s][1] += 1
        if s not in keep:
            continue
        st = market.symbols[s]
        view = market.view_of(st)
        msg = wire.book(s, False, ev.bids, ev.asks, ev.prev_seq, ev.seq, ev.ts, view).encode()
        out["book"].append(msg)
        out["all"].append(msg)
        out["per_symbol"][s] += 1
        q = market.quote(s, ev.ts)
        if q is not None:
            msg = wire.quote(q).encode()
            out["all"].append(msg)
            out["per_symbol"][s] += 1
            if len(out["quotes"]) < n:
                out["quotes"].append(msg)
    return out


def cores_for(
    venue: str,
    merger: Merger,
    setup: list[bytes],
    syms: Sequence[str] | None = None,
    conns: int = 2,
) -> list[Core]:
    """The connections' pipelines of ``syms`` (default all the venue's) sharing one merger,
    books made live from the setup."""
    mod = VENUES[venue]
    syms = list(syms or BOOKS[venue])
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


def arrivals(msgs: list[bytes], conns: int, fresh: bool = False) -> list[tuple[bytes, ...]]:
    """Each message as the ``conns`` connections receive it: equal bytes, but a distinct
    object per connection, as two sockets deliver them. (One shared object would let the
    second copy's ``ParseMemo`` lookup match by identity, which a real second socket never
    allows.) ``fresh``: the first connection's objects are new too, for a repetition of the
    same messages: a ``bytes`` object keeps its hash once computed, so feeding the same
    objects again would skip work every real message costs."""
    first = [bytes(bytearray(m)) for m in msgs] if fresh else msgs
    copies = [first] + [[bytes(bytearray(m)) for m in msgs] for _ in range(conns - 1)]
    return list(zip(*copies, strict=True))


def drive(
    cores: Sequence[Core],
    stream: list[tuple[bytes, ...]],
    ts: int,
    pending: list[Record],
    flush: Callable[[list[Record]], object],
) -> None:
    """Every message of ``stream`` (``arrivals``) into its connections' cores, the merged
    records flushed in batches of 512 and at the end, as a worker's sink receives them. One
    and two connections are unrolled: a ``zip(..., strict=True)`` per message cost about
    1,000 instructions, the loop's own overhead, which neither the gate's receive loop nor
    cryptofeed's (one call per message) has."""
    if len(cores) == 1:
        h = cores[0].handle
        for (a,) in stream:
            h(a, ts)
            if len(pending) >= 512:
                flush(pending)
                pending.clear()
    elif len(cores) == 2:
        h0, h1 = cores[0].handle, cores[1].handle
        for a, b in stream:
            h0(a, ts)
            h1(b, ts)
            if len(pending) >= 512:
                flush(pending)
                pending.clear()
    else:
        for raws in stream:
            for core, raw in zip(cores, raws, strict=True):
                core.handle(raw, ts)
            if len(pending) >= 512:
                flush(pending)
                pending.clear()
    if pending:
        flush(pending)
        pending.clear()


def _gate_worker(share: dict[str, list[str]], n: int, reps: int, conn: Any, go: Any) -> None:
    """One worker process of the whole-gate run: its share's messages, both copies, through
    ``Core`` and the merger, batches to the parent through the pipe (``PipeSink``)."""
    recs = {v: record(v, n, syms) for v, syms in share.items()}
    for r in recs.values():  # new objects for every repetition (see ``arrivals``)
        r["arrivals"] = [arrivals(r["all"], 2, fresh=k > 0) for k in range(reps)]
    tune_gc()  # after recording: the recordings frozen out of the collector (see measure)
    sink = PipeSink(conn)
    conn.send_bytes(b"R")
    go.wait()
    c0 = time.process_time()
    t0 = time.perf_counter()
    msgs = 0
    venue_cpu = dict.fromkeys(recs, 0.0)
    for k in range(reps):
        for v, r in recs.items():
            v0 = time.process_time()
            pending: list[Record] = []
            merger = Merger(pending.append)
            cores = cores_for(v, merger, r["setup"], share[v])
            drive(cores, r["arrivals"][k], time.time_ns(), pending, sink.append)
            msgs += 2 * len(r["all"])
            venue_cpu[v] += time.process_time() - v0
            if any(c.stats.malformed or c.stats.resyncs for c in cores):
                raise RuntimeError(f"{v}: malformed or resynced messages in the recording")
    per_symbol = {v: r["per_symbol"] for v, r in recs.items()}
    busy = [msgs, time.process_time() - c0, time.perf_counter() - t0, venue_cpu, per_symbol]
    conn.send_bytes(b"D" + json.dumps(busy).encode())


def book_costs(
    venue_cpu: dict[str, float], per_symbol: dict[str, dict[str, int]]
) -> dict[str, float]:
    """CPU seconds of each book (``venue:symbol``): its venue's, in proportion to its messages
    (a venue's symbols cost the same per message)."""
    out: dict[str, float] = {}
    for v, counts in per_symbol.items():
        total = sum(counts.values())
        for s, k in counts.items():
            out[f"{v}:{s}"] = venue_cpu[v] * k / total
    return out


def balance(
    cost: dict[str, float], workers: int, slack: float = 0.01
) -> list[dict[str, list[str]]]:
    """Shares of the books (``venue:symbol`` -> CPU cost) for ``workers`` processes, as an
    operator would place them with ``--group``: every assignment is tried and, of those whose
    most loaded worker is within ``slack`` of the least possible, the one that splits the
    fewest venues between workers (each split opens more connections to the venue)."""
    books = list(cost)
    k = min(workers, len(books))
    if k ** len(books) > 200_000:
        raise ValueError(f"{len(books)} books onto {k} workers: too many assignments to try")
    scored: list[tuple[float, tuple[int, ...]]] = []
    for assign in itertools.product(range(k), repeat=len(books)):
        if len(set(assign)) < k or assign[0] != 0:
            continue  # every worker gets a book; worker order does not matter
        load = [0.0] * k
        for b, w in zip(books, assign, strict=True):
            load[w] += cost[b]
        scored.append((max(load), assign))
    best = min(m for m, _ in scored)

    def splits(assign: tuple[int, ...]) -> int:
        owners: dict[str, set[int]] = {}
        for b, w in zip(books, assign, strict=True):
            owners.setdefault(b.split(":", 1)[0], set()).add(w)
        return sum(len(o) > 1 for o in owners.values())

    pick = min((splits(a), m, a) for m, a in scored if m <= best * (1 + slack))[2]
    shares: list[dict[str, list[str]]] = [{} for _ in range(k)]
    for b, w in zip(books, pick, strict=True):
        v, s = b.split(":", 1)
        shares[w].setdefault(v, []).append(s)
    return shares


def group_args(shares: Sequence[dict[str, list[str]]]) -> str:
    """The ``cambist feeds run`` arguments that place the books as ``shares`` do."""
    return " ".join(f"--group {share_text(s, BOOKS)}" for s in shares)


def gate_total(shares: Sequence[dict[str, list[str]]], n: int, reps: int) -> dict[str, Any]:
    """The whole gate on all cores: one process per share, the parent appending every batch
    to a real log file. Wire messages (both copies) per wall second from the start signal
    until the last batch is written, and CPU time per message of all processes."""
    ctx = mp.get_context("spawn")
    go = ctx.Event()
    with tempfile.TemporaryDirectory() as tmp:
        sink = FileSink(Path(tmp) / "md.log")
        pipes, procs = [], []
        for share in shares:
            parent_end, child_end = ctx.Pipe(duplex=False)
            p = ctx.Process(target=_gate_worker, args=(share, n, reps, child_end, go), daemon=True)
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
        busy: list[list[float]] = []  # per worker: CPU and wall seconds until its last batch
        venue_cpu: dict[str, float] = {}  # CPU seconds of each venue's messages
        per_symbol: dict[str, dict[str, int]] = {}  # messages of each book
        while live:
            for c in mp.connection.wait(live):
                data = c.recv_bytes()  # type: ignore[union-attr]
                if data[:1] == b"L":
                    sink.append_encoded(memoryview(data)[1:])
                else:
                    m, s, w, by_venue, by_symbol = json.loads(data[1:])
                    msgs, cpu = msgs + m, cpu + s
                    busy.append([round(s, 3), round(w, 3)])
                    for v, t in by_venue.items():
                        venue_cpu[v] = venue_cpu.get(v, 0.0) + t
                    for v, counts in by_symbol.items():
                        per_symbol.setdefault(v, {}).update(counts)
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
        "workers_cpu_wall_s": busy,
        "venue_cpu_s": venue_cpu,
        "book_cpu_s": book_costs(venue_cpu, per_symbol),
        "parent_cpu_s": round(parent_cpu, 3),
    }
