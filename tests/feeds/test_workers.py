"""Gates in worker processes: the log and the consolidated view reach the parent, and a
worker that dies is restarted and the stream resumes."""

from __future__ import annotations

import asyncio
import os
import re
import signal

import pytest

from cambist.feeds.consolidated import ConsolidatedBook
from cambist.feeds.emulator.server import Emulator, FaultConfig
from cambist.feeds.gate import GateConfig
from cambist.feeds.sink import MemorySink, batch_len, encode_batch
from cambist.feeds.types import Instrument, Trade
from cambist.feeds.venues import VENUES
from cambist.feeds.workers import WorkerPool, WorkerSpec, groups, parse_shares, share_text

BOOKS = {"a": ["X", "Y"], "b": ["X", "Y"], "c": ["X"]}


def test_groups_cut_books_into_equal_runs_splitting_a_venue() -> None:
    assert groups(BOOKS, 2) == [{"a": ["X", "Y"]}, {"b": ["X", "Y"], "c": ["X"]}]
    assert groups({"a": ["X", "Y", "Z"], "b": ["X"]}, 2) == [
        {"a": ["X", "Y"]},
        {"a": ["Z"], "b": ["X"]},
    ]
    assert groups(BOOKS, 1) == [BOOKS]
    assert groups({"a": ["X"]}, 4) == [{"a": ["X"]}]  # no more workers than books
    shares = groups(BOOKS, 4)
    assert len(shares) == 4
    assert sorted((v, s) for sh in shares for v, ss in sh.items() for s in ss) == sorted(
        (v, s) for v, ss in BOOKS.items() for s in ss
    )


def test_parse_shares_takes_venues_and_single_books() -> None:
    shares = parse_shares(["a,b:X", "b:Y,c"], BOOKS)
    assert shares == [{"a": ["X", "Y"], "b": ["X"]}, {"b": ["Y"], "c": ["X"]}]
    assert [share_text(s, BOOKS) for s in shares] == ["a,b:X", "b:Y,c"]


@pytest.mark.parametrize(
    ("texts", "error"),
    [
        (["a,b", "b:Y,c"], "b:Y is in group 1 and 2"),
        (["a,b"], "not in any group: c:X"),
        (["a,b,c,z"], "'z' is not a venue of this run"),
        (["a,b:Q,c"], "'Q' is not a symbol of this run"),
        (["a,,b,c"], "'' is not a venue of this run"),
    ],
)
def test_parse_shares_bad_group_is_refused_with_reason(texts: list[str], error: str) -> None:
    with pytest.raises(ValueError, match=re.escape(error)):
        parse_shares(texts, BOOKS)


def test_pool_totals_sum_a_venue_split_between_workers() -> None:
    pool = WorkerPool([WorkerSpec({"a": ["X"]}), WorkerSpec({"a": ["Y"]})], MemorySink())
    pool._stats = {0: {"a": {"messages": 3, "resyncs": 1}}, 1: {"a": {"messages": 4, "resyncs": 0}}}
    assert pool.totals()["a"] == {"messages": 7, "resyncs": 1}


def test_batch_len_reads_the_array_header() -> None:
    for n in (0, 1, 15, 16, 70_000):
        assert batch_len(encode_batch([Instrument("v", "s", 1, 2)] * n)) == n


async def _until(cond: object, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not cond():  # type: ignore[operator]
            await asyncio.sleep(0.05)


async def _run() -> None:
    emu = Emulator(VENUES["okx"], ["BTC-USDT"], rate=300, seed=3, faults=FaultConfig(rate=0.0))
    port = await emu.start()
    sink = MemorySink()
    cfg = GateConfig(ws_url=f"http://127.0.0.1:{port}/ws", silence_s=1.0, backoff_cap_s=0.2)
    pool = WorkerPool([WorkerSpec({"okx": ["BTC-USDT"]}, {"okx": cfg})], sink)
    book = ConsolidatedBook(rows=pool.tops)
    task = asyncio.create_task(pool.run())

    def trades() -> int:
        return sum(isinstance(r, Trade) for r in sink.records())

    try:
        # generous timeouts: spawning a worker imports the package on a shared machine
        await _until(lambda: trades() > 5 and book.get("BTC-USDT").mid is not None, 60)
        assert any(isinstance(r, Instrument) for r in sink.records())
        before = trades()
        os.kill(pool.workers[0].proc.pid, signal.SIGKILL)
        await _until(lambda: pool.restarts == 1, 30)
        await _until(lambda: trades() > before + 5, 60)
        assert pool.totals()["workers"] == {"count": 1, "restarts": 1}
        # the new worker's book tops reach the parent every ``tops_s``, on their own clock:
        # trades can resume before the first of them (seen once in a loaded CI run)
        await _until(lambda: book.get("BTC-USDT").best_bid_venue == "okx", 30)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await emu.stop()
    assert all(not w.proc.is_alive() for w in pool.workers)


def test_worker_killed_is_restarted_and_stream_resumes() -> None:
    asyncio.run(_run())


async def _run_split() -> None:
    syms = ["BTC-USDT", "ETH-USDT"]
    emu = Emulator(VENUES["okx"], syms, rate=300, seed=5, faults=FaultConfig(rate=0.0))
    port = await emu.start()
    sink = MemorySink()
    cfg = GateConfig(ws_url=f"http://127.0.0.1:{port}/ws", silence_s=1.0, backoff_cap_s=0.2)
    shares = groups({"okx": syms}, 2)
    assert shares == [{"okx": ["BTC-USDT"]}, {"okx": ["ETH-USDT"]}]
    pool = WorkerPool([WorkerSpec(s, {"okx": cfg}) for s in shares], sink)
    book = ConsolidatedBook(rows=pool.tops)
    task = asyncio.create_task(pool.run())

    def trades(symbol: str) -> list[Trade]:
        return [r for r in sink.records() if isinstance(r, Trade) and r.symbol == symbol]

    try:
        await _until(lambda: all(len(trades(s)) > 5 for s in syms), 60)
        await _until(lambda: all(book.get(s).mid is not None for s in syms), 30)
        # both workers' counters arrive summed under the one venue
        await _until(lambda: pool.totals().get("okx", {}).get("messages", 0) > 0, 30)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await emu.stop()
    instruments = sorted(r.symbol for r in sink.records() if isinstance(r, Instrument))
    assert instruments == syms  # each worker logs the scales of its own books only
    for s in syms:  # each symbol from one worker's connections: merged, no duplicate trade
        ids = [t.trade_id for t in trades(s)]
        assert len(ids) == len(set(ids))
    assert pool.totals()["workers"] == {"count": 2, "restarts": 0}


def test_venue_split_between_workers_serves_and_logs_both_books() -> None:
    asyncio.run(_run_split())


def test_feeds_run_refuses_a_group_that_drops_a_book() -> None:
    from typer.testing import CliRunner

    from cambist.cli import app

    args = ["feeds", "run", "--venue", "okx", "--symbols", "BTC-USDT,ETH-USDT"]
    result = CliRunner().invoke(app, [*args, "--group", "okx:BTC-USDT"])
    assert result.exit_code == 2
    assert "not in any group: okx:ETH-USDT" in result.output
