"""A deterministic gate run whose whole output can be compared between two builds.

    python tests/feeds/native_run.py record PATH   # the messages, once (wall-clock stamps)
    python tests/feeds/native_run.py run PATH      # one JSON line: build, digest, counters

``test_native_feeds.py`` records once, then runs the same recording interpreted and under the
mypyc build (``PYTHONPATH=<native dir>``): the digests of everything the gate produced must be
equal. The emulator's own fault test cannot be compared that way (its interleaving depends on
the event loop's timing), so the faults are injected here, seeded, without sockets:

* every venue's messages through two ``Core``s sharing one ``Merger`` (as ``Gate`` wires
  them); connection 0 gets the clean stream, connection 1 the same stream with drops (gaps),
  duplicates, swapped pairs and truncated messages;
* a resync resets the book as ``Connection.resync`` does; the book comes back at the next
  checkpoint: the venue's periodic snapshot in the stream (WebSocket venues), or the REST
  snapshot the gate fetches (Binance);
* the recorded samples of tests/feeds/samples through each venue's parser.

The digest covers every record the merger emitted (encoded as the log encodes them), every
parse result of the samples, each connection's and each merged book, and the counters.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from pathlib import Path
from typing import Any

import msgspec

from cambist.feeds import core as core_module
from cambist.feeds.book import Verdict
from cambist.feeds.core import Core, Counters
from cambist.feeds.emulator.market import BookChange, Market
from cambist.feeds.merge import Merger
from cambist.feeds.sink import encode_batch
from cambist.feeds.types import Record, Trade
from cambist.feeds.venues import VENUES

SAMPLES = Path(__file__).parent / "samples"
SYMBOLS = {"kraken": ["BTC-USD", "ETH-USD"], "coinbase": ["BTC-USD", "ETH-USD"]}
SAMPLE_SYMBOLS = {
    "binance": ["BNB-BTC", "NKN-USDT"],
    "coinbase": ["BTC-USD", "ETH-USD"],
    "kraken": ["MATIC-USD"],
    "okx": ["BTC-USDT"],
    "bybit": ["BTC-USDT"],
}
STEPS = 3000
CHECKPOINT = 150


class Recording(msgspec.Struct):
    venue: str
    symbols: list[str]
    setup: list[bytes]
    steps: list[list[bytes]]
    """The wire messages of each market step (a trade, or a book change and its quote)."""
    checkpoints: dict[int, list[bytes]]
    """After step ``i``: each symbol's snapshot (REST body for Binance, else a WebSocket
    snapshot message, which is also in ``steps``)."""
    trades: int


def record(venue: str) -> Recording:
    mod = VENUES[venue]
    syms = SYMBOLS.get(venue, ["BTC-USDT", "ETH-USDT"])
    market = Market(venue, syms, seed=5, depth=mod.Wire.book_depth, keep_history=False)
    wire = mod.Wire(syms)
    rest = bool(mod.Wire.rest_path)

    def snapshots() -> list[bytes]:
        out = []
        for s in syms:
            bids, asks, seq = market.snapshot(s)
            if rest:
                out.append(wire.rest_snapshot(s, bids, asks, seq))
            else:
                st = market.symbols[s]
                view = market.view_of(st)
                out.append(wire.book(s, True, bids, asks, -1, seq, st.book_ts, view).encode())
        return out

    setup = snapshots()
    steps: list[list[bytes]] = []
    checkpoints: dict[int, list[bytes]] = {}
    for i in range(STEPS):
        ev = market.step()
        if isinstance(ev, list):
            msgs = [t.encode() for t in wire.trades(ev)]
        else:
            assert isinstance(ev, BookChange)
            st = market.symbols[ev.symbol]
            view = market.view_of(st)
            msgs = [
                wire.book(
                    ev.symbol, False, ev.bids, ev.asks, ev.prev_seq, ev.seq, ev.ts, view
                ).encode()
            ]
            q = market.quote(ev.symbol, ev.ts)
            if q is not None:
                msgs.append(wire.quote(q).encode())
        if i % CHECKPOINT == CHECKPOINT - 1:
            checkpoints[i] = snapshots()
            if not rest:
                msgs += checkpoints[i]
        steps.append(msgs)
    return Recording(venue, syms, setup, steps, checkpoints, len(market.trades))


def _faulty(msgs: list[bytes], rng: random.Random) -> list[bytes]:
    """Connection 1's copy: about 1% of the messages dropped, duplicated, swapped with the
    next one or truncated."""
    out: list[bytes] = []
    held: bytes | None = None
    for m in msgs:
        r = rng.random()
        if r < 0.0025:
            continue
        if r < 0.005:
            out += [m, m]
        elif r < 0.0075 and held is None:
            held = m
            continue
        elif r < 0.01:
            out.append(m[: len(m) // 2])
        else:
            out.append(m)
        if held is not None:
            out.append(held)
            held = None
    return out


def run_venue(rec: Recording, digest: Any) -> dict[str, int]:
    mod = VENUES[rec.venue]
    rest = bool(mod.Wire.rest_path)
    pending: list[Record] = []
    trades: list[tuple[str, str]] = []

    def emit(r: Record) -> None:
        pending.append(r)
        if type(r) is Trade:
            trades.append((r.symbol, r.trade_id))

    merger = Merger(emit)
    cores = [Core(mod, rec.symbols, i, merger, Counters()) for i in range(2)]
    waiting: list[set[str]] = [set(), set()]

    def rest_snapshot(core: Core, symbol: str, body: bytes, recv_ts: int) -> None:
        snap = core.session.parse_snapshot(symbol, body, recv_ts)
        synced = core.books[symbol]
        verdict, _ = synced.on_rest_snapshot(snap)
        if verdict is Verdict.SNAPSHOT:
            merger.book(core.conn, snap, synced, verdict)
            waiting[core.conn].discard(symbol)
        else:
            core.reset_book(symbol)

    for core in cores:
        for s, raw in zip(rec.symbols, rec.setup, strict=True):
            if rest:
                rest_snapshot(core, s, raw, 1)
            else:
                core.handle(raw, 1)
    rng = random.Random(11)
    recv_ts = 1_000
    for i, msgs in enumerate(rec.steps):
        for core, copy in zip(cores, (msgs, _faulty(msgs, rng)), strict=True):
            for raw in copy:
                recv_ts += 1
                for symbol in core.handle(raw, recv_ts):
                    synced = core.books[symbol]
                    if not rest or synced.live or not getattr(synced, "buffer", None):
                        core.reset_book(symbol)
                    waiting[core.conn].add(symbol)
        if rest and i in rec.checkpoints:
            for core in cores:
                for s, body in zip(rec.symbols, rec.checkpoints[i], strict=True):
                    if s in waiting[core.conn]:
                        rest_snapshot(core, s, body, recv_ts)
        if len(pending) >= 256:
            digest.update(encode_batch(pending))
            pending.clear()
    digest.update(encode_batch(pending))
    for core in cores:
        for s, synced in sorted(core.books.items()):
            digest.update(f"{core.conn}{s}{synced.live}{synced.last_seq}".encode())
            digest.update(synced.book.state_hash().encode())
    for (venue, s), stream in sorted(merger.books.items()):
        digest.update(f"{venue}{s}{stream.live}{stream.last_seq}".encode())
        digest.update(stream.book.state_hash().encode())
    counts = {
        "messages": sum(c.stats.messages for c in cores),
        "malformed": sum(c.stats.malformed for c in cores),
        "resyncs": sum(c.stats.resyncs for c in cores),
        "duplicates": merger.duplicates,
        "resnapshots": merger.resnapshots,
        "failovers": merger.failovers,
        "trades_merged": len(trades),
        "trades_unique": len(set(trades)),
        "trades_true": rec.trades,
    }
    digest.update(json.dumps(counts, sort_keys=True).encode())
    return counts


def samples(digest: Any) -> int:
    n = 0
    for venue, syms in SAMPLE_SYMBOLS.items():
        session = VENUES[venue].Session(syms)
        for line in (SAMPLES / f"{venue}.jsonl").read_text().splitlines():
            try:
                events: Any = session.parse(line.encode(), 7)
            except Exception as e:  # a sample a parser refuses: the refusal must match too
                events = f"{type(e).__name__}: {e}"
            digest.update(repr(events).encode())
            n += 1
    return n


def main() -> None:
    cmd, path = sys.argv[1], Path(sys.argv[2])
    if cmd == "record":
        recs = [record(v) for v in sorted(VENUES)]
        path.write_bytes(msgspec.msgpack.encode(recs))
        return
    recs = msgspec.msgpack.decode(path.read_bytes(), type=list[Recording])
    digest = hashlib.sha256()
    out: dict[str, Any] = {"build": Path(core_module.__file__ or "").suffix}
    out["samples"] = samples(digest)
    out["venues"] = {r.venue: run_venue(r, digest) for r in recs}
    out["digest"] = digest.hexdigest()
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
