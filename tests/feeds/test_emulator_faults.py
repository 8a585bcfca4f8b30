"""Each venue's gate against its emulator with every fault turned on.

After each resync the connector's book must equal the emulator's true book at the same
sequence; at the end every connection's book and the merged book equal the truth, and the
merged trade stream holds every emulated trade exactly once.
"""

from __future__ import annotations

import asyncio

import pytest

from cambist.feeds import gate as gate_module
from cambist.feeds.book import SyncedBook, Verdict
from cambist.feeds.emulator.server import FAULTS, Emulator, FaultConfig
from cambist.feeds.gate import Core, Gate, GateConfig
from cambist.feeds.merge import Merger
from cambist.feeds.sink import MemorySink
from cambist.feeds.types import BookUpdate, Trade
from cambist.feeds.venues import VENUES

SYMBOLS = {"kraken": ["BTC-USD", "ETH-USD"], "coinbase": ["BTC-USD", "ETH-USD"]}


def _recording_merger(emu: Emulator, checks: list[tuple[str, bool]]) -> type[Merger]:
    """A ``Merger`` comparing every book that (re)becomes live with the emulator's truth at
    its sequence. A subclass, not a patched method: in the native build the compiled ``Core``
    calls ``Merger.book`` directly, past any attribute patched on the class."""
    market = emu.market

    class RecordingMerger(Merger):
        def book(self, conn: int, u: BookUpdate, synced: SyncedBook, verdict: Verdict) -> None:
            if verdict is Verdict.SNAPSHOT:
                checks.append((synced.symbol, _matches(market, synced)))
            super().book(conn, u, synced, verdict)

    return RecordingMerger


def _matches(market: object, synced: SyncedBook) -> bool:
    st = market.symbols[synced.symbol]  # type: ignore[attr-defined]
    seq = synced.last_seq if synced.last_seq >= 0 else st.ts_seq.get(synced.last_ts)
    if seq is None:
        return False
    return st.history.get(seq) == synced.book.state_hash()


def _converged(emu: Emulator, gate: Gate) -> bool:
    """Every connection's book and the merged book equal the truth at a recent sequence."""
    market = emu.market
    if len(emu.peers) < 2 or len(gate.connections) < 2:
        return False
    for c in gate.connections:
        for symbol, synced in c.core.books.items():
            st = market.symbols[symbol]
            seq = synced.last_seq if synced.last_seq >= 0 else st.ts_seq.get(synced.last_ts, -1)
            if not synced.live or seq < st.seq - 20 or not _matches(market, synced):
                return False
    for (_, symbol), stream in gate.merger.books.items():
        if not stream.live:
            return False
        if stream.shared:
            want = market.symbols[symbol].history.get(stream.last_seq)
        else:
            leader = stream.members.get(stream.leader) if stream.leader is not None else None
            want = leader.book.state_hash() if leader is not None else None
        if stream.book.state_hash() != want:
            return False
    return True


async def _run(venue_name: str) -> None:
    venue = VENUES[venue_name]
    symbols = SYMBOLS.get(venue_name, ["BTC-USDT", "ETH-USDT"])
    emu = Emulator(
        venue, symbols, rate=600, seed=7, faults=FaultConfig(rate=0.02, rotate_every=400)
    )
    emu.paused = True
    port = await emu.start()
    sink = MemorySink()
    config = GateConfig(
        connections=2,
        ws_url=f"http://127.0.0.1:{port}/ws",
        rest_url=f"http://127.0.0.1:{port}",
        silence_s=0.6,
        backoff_base_s=0.02,
        backoff_cap_s=0.2,
        snapshot_rate=100,
    )
    gate = Gate(venue, symbols, sink, config)
    task = asyncio.create_task(gate.run())
    try:
        async with asyncio.timeout(30):  # generous: CI machines are shared; passing runs take ~1 s
            while sum(len(p.subs) for p in emu.peers) < 2 * 3 * len(symbols):
                await asyncio.sleep(0.01)
        emu.paused = False
        await asyncio.sleep(4.0)
        emu.faults.rate = 0.0  # heal: every connection resyncs and catches up
        async with asyncio.timeout(45):  # generous, as above; convergence normally takes a few s
            while not _converged(emu, gate):
                await asyncio.sleep(0.02)
        emu.paused = True
        await asyncio.sleep(0.2)  # messages in flight reach the gate (well under silence_s)
        gate.flush()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await emu.stop()
    trades = [(r.symbol, r.trade_id) for r in sink.records() if isinstance(r, Trade)]
    truth = [(t.symbol, t.trade_id) for t in emu.market.trades]
    assert len(trades) == len(set(trades))
    assert sorted(trades) == sorted(truth)
    totals = gate.totals()
    assert totals["reconnects"] > 0 and totals["duplicates"] > 0 and totals["malformed"] > 0
    assert sum(emu.fault_counts.values()) > 0


@pytest.mark.parametrize("venue_name", sorted(VENUES))
def test_gate_all_faults_books_match_truth_and_trades_exactly_once(
    venue_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks: list[tuple[str, bool]] = []
    emu_holder: dict[str, Emulator] = {}
    original_start = Emulator.start

    async def start(self: Emulator, host: str = "127.0.0.1", port: int = 0) -> int:
        emu_holder["emu"] = self
        monkeypatch.setattr(gate_module, "Merger", _recording_merger(self, checks))
        return await original_start(self, host, port)

    monkeypatch.setattr(Emulator, "start", start)
    asyncio.run(_run(venue_name))
    assert checks, "no book ever synced"
    bad = [c for c in checks if not c[1]]
    assert not bad, f"{len(bad)} of {len(checks)} resyncs did not match the true book"
    assert set(FAULTS) >= {k for k, n in emu_holder["emu"].fault_counts.items() if n}


def test_core_malformed_message_counted_book_untouched() -> None:
    from cambist.feeds.gate import Counters

    out: list[object] = []
    stats = Counters()
    core = Core(VENUES["okx"], ["BTC-USDT"], 0, Merger(out.append), stats)
    snap = b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[["2","1","0","1"]],"bids":[["1","1","0","1"]],"ts":"1","checksum":0,"prevSeqId":-1,"seqId":10}]}'
    core.handle(snap, 1)
    before = core.books["BTC-USDT"].book.state_hash()
    for junk in (
        b"",
        b"{",
        b'{"arg":{"channel":"books","instId":"BTC-USDT"},"data":[{"asks":[["x","1"]]}]}',
        b"\xff\xfe",
        b"[1,2]",
    ):
        assert core.handle(junk, 2) == []
    assert stats.malformed == 5 and len(stats.errors) == 5
    assert core.books["BTC-USDT"].book.state_hash() == before
