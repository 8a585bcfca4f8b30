"""The node: durable before applied, group commit, ordered fan-out, snapshots, recovery."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from cambist.domain import commands as c
from cambist.domain.engine import Engine
from cambist.domain.events import AssetCreated, CommandRejected
from cambist.log.journal import read_commands
from cambist.log.segments import SNAPSHOTS_DIR
from cambist.log.snapshots import SnapshotStore
from cambist.node import Applied, Node
from tests.log.workload import random_orders, setup_commands


def test_node_submit_returns_applied_with_events_and_stamps(tmp_path: Path) -> None:
    async def run() -> None:
        node = await Node.open(tmp_path, clock=lambda: 1_000)
        applied = await node.submit(c.CreateAsset(asset="BTC", scale=8))
        assert isinstance(applied, Applied) and applied.seq == 1 and applied.ts == 1_000
        assert applied.events == [AssetCreated(asset="BTC", scale=8)]
        again = await node.submit(c.CreateAsset(asset="BTC", scale=8))
        assert isinstance(again.events[0], CommandRejected)
        assert node.engine.last_seq == 2
        await node.close()

    asyncio.run(run())


def test_node_concurrent_submits_share_one_fsync_per_batch(tmp_path: Path) -> None:
    async def run() -> None:
        node = await Node.open(tmp_path)
        await node.submit_many(setup_commands())
        syncs: list[int] = []
        real = node.journal._sync_write
        assert real is not None  # Linux: one pwritev2(RWF_DSYNC) per group commit

        def counting(fd: int, data: bytes) -> int:
            # Durable-before-applied: when the disk is asked, nothing beyond the last
            # durable batch may be applied yet.
            syncs.append(node.engine.last_seq)
            return real(fd, data)

        node.journal._sync_write = counting
        orders = random_orders(random.Random(3), 300)
        results = await asyncio.gather(*(node.submit(o) for o in orders))
        assert [r.seq for r in results] == sorted(r.seq for r in results)
        assert len(syncs) < len(orders) / 5, f"{len(syncs)} fsyncs for {len(orders)} submits"
        assert all(seen < results[-1].seq for seen in syncs)
        await node.close()

    asyncio.run(run())


def test_node_subscribers_receive_every_applied_in_seq_order(tmp_path: Path) -> None:
    async def run() -> None:
        node = await Node.open(tmp_path)
        early, late = node.subscribe(), None
        await node.submit_many(setup_commands())
        late = node.subscribe()
        await asyncio.gather(
            *(node.submit_many(random_orders(random.Random(i), 4)) for i in range(10))
        )
        seen_early = [early.get_nowait().seq for _ in range(early.qsize())]
        seen_late = [late.get_nowait().seq for _ in range(late.qsize())]
        assert seen_early == list(range(1, node.engine.last_seq + 1))
        assert seen_late == list(range(len(setup_commands()) + 1, node.engine.last_seq + 1))
        await node.close()

    asyncio.run(run())


def test_node_listeners_see_each_batch_before_its_submitter(tmp_path: Path) -> None:
    async def run() -> None:
        node = await Node.open(tmp_path)
        heard: list[list[int]] = []
        engine_at_listen: list[int] = []

        def listener(batch: list[Applied]) -> None:
            heard.append([a.seq for a in batch])
            engine_at_listen.append(node.engine.last_seq)

        node.listen(listener)
        await node.submit_many(setup_commands())
        answered_at: list[int] = []

        def on_done(applied: list[Applied] | None, exc: BaseException | None) -> None:
            assert exc is None and applied is not None
            answered_at.append(len(heard))  # the listener already has this batch

        node.submit_batch(random_orders(random.Random(1), 5), on_done)
        await node.submit_many(random_orders(random.Random(2), 3))
        node.unlisten(listener)
        await node.submit_many(random_orders(random.Random(3), 2))
        flat = [s for batch in heard for s in batch]
        assert flat == list(range(1, len(setup_commands()) + 9))  # every seq once, in order
        assert answered_at == [2] and engine_at_listen[-1] == flat[-1]
        await node.close()

    asyncio.run(run())


def test_node_listener_error_is_logged_and_others_still_hear(tmp_path: Path) -> None:
    async def run() -> None:
        node = await Node.open(tmp_path)
        heard: list[int] = []

        def broken(batch: list[Applied]) -> None:
            raise RuntimeError("a listener bug")

        node.listen(broken)
        node.listen(lambda batch: heard.extend(a.seq for a in batch))
        applied = await node.submit_many(setup_commands())
        assert heard == [a.seq for a in applied] and node.engine.last_seq == applied[-1].seq
        await node.close()

    asyncio.run(run())


def test_node_submit_batch_reports_journal_failure_to_callback(tmp_path: Path) -> None:
    async def run() -> None:
        import errno

        node = await Node.open(tmp_path)
        await node.submit_many(setup_commands())

        def eio(fd: int, data: bytes) -> int:
            raise OSError(errno.EIO, "Input/output error")

        node.journal._sync_write = eio
        got: asyncio.Future[tuple[object, BaseException | None]] = (
            asyncio.get_running_loop().create_future()
        )
        node.submit_batch(random_orders(random.Random(1), 2), lambda a, e: got.set_result((a, e)))
        applied, exc = await got
        assert applied is None and "I/O error" in str(exc)
        await node.close()

    asyncio.run(run())


def test_node_reopen_recovers_same_state_as_replay_from_zero(tmp_path: Path) -> None:
    async def run() -> None:
        node = await Node.open(tmp_path, snapshot_every=50)
        await node.submit_many(setup_commands())
        for i in range(12):
            await node.submit_many(random_orders(random.Random(i), 10))
        expected = node.engine.state_hash()
        await node.close()
        snaps = SnapshotStore(tmp_path / SNAPSHOTS_DIR).paths()
        assert snaps and snaps[0][0] == node.engine.last_seq  # close wrote a final snapshot
        fresh = Engine()
        for cmd in read_commands(tmp_path):
            fresh.apply(cmd)
        assert fresh.state_hash() == expected
        reopened = await Node.open(tmp_path)
        assert reopened.engine.state_hash() == expected
        applied = await reopened.submit(random_orders(random.Random(99), 1)[0])
        assert applied.seq == fresh.last_seq + 1
        await reopened.close()

    asyncio.run(run())


def test_node_snapshot_every_n_commands_writes_snapshots(tmp_path: Path) -> None:
    async def run() -> None:
        node = await Node.open(tmp_path, snapshot_every=25, snapshot_interval_s=3600)
        await node.submit_many(setup_commands())
        for i in range(10):
            await node.submit_many(random_orders(random.Random(i), 10))
            # one snapshot at a time: one due while the last is still being written waits for
            # the next due check, so let each finish (a forked child's pace is the machine's)
            if node._snapshot_task is not None:
                await node._snapshot_task
        await node.snapshot_now()
        store = SnapshotStore(tmp_path / SNAPSHOTS_DIR)
        assert len(store.paths()) == store.keep
        for _seq, path in store.paths():
            info, _ = store.read(path)
            assert info.seq == _seq
        await node.close()

    asyncio.run(run())


def test_node_rejects_unknown_fsync_policy(tmp_path: Path) -> None:
    async def run() -> None:
        with pytest.raises(ValueError, match="fsync policy"):
            await Node.open(tmp_path, fsync="sometimes")

    asyncio.run(run())


def test_node_interval_fsync_policy_acknowledges_and_recovers(tmp_path: Path) -> None:
    async def run() -> None:
        node = await Node.open(tmp_path, fsync="5ms")
        await node.submit_many(setup_commands())
        await node.close()
        reopened = await Node.open(tmp_path)
        assert reopened.engine.last_seq == len(setup_commands())
        await reopened.close()

    asyncio.run(run())


def test_node_snapshot_bytes_equal_engine_snapshot_and_restore() -> None:
    """The node encodes snapshots with msgspec; they must be the domain's canonical JSON."""
    from cambist.node.node import snapshot_bytes
    from cambist.workloads import STANDARD_MARKETS, RandomTrader, sequence
    from cambist.workloads import setup_commands as standard_setup

    setup = standard_setup(STANDARD_MARKETS, accounts=20, funds=10**9)
    trader = RandomTrader(3, STANDARD_MARKETS, 20, first_seq=len(setup) + 1)
    engine = Engine()
    for cmd in sequence([*setup, *trader.commands(5_000)]):
        engine.apply(cmd)
    assert engine.orders  # a book to write
    assert snapshot_bytes(engine) == engine.snapshot()
    # text outside ASCII is UTF-8 rather than \u escapes: still the same state once restored
    nxt = engine.last_seq + 1
    deposit = c.Deposit(account=1, asset="BTC", amount=5, reference="dépôt-€-1")
    deposit.seq, deposit.ts = nxt, engine.last_ts + 1
    engine.apply(deposit)
    data = snapshot_bytes(engine)
    assert "dépôt-€-1".encode() in data
    assert Engine.restore(data).state_hash() == engine.state_hash()
