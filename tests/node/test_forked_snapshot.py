"""Periodic snapshots written by a forked child (``cambist.node.forked``).

The child must write exactly the state at the fork, however far the parent has gone on since;
a child that fails or is killed mid-write must lose nothing and leave no partial snapshot."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from pathlib import Path

import pytest

from cambist.domain.engine import Engine
from cambist.log.recovery import replay
from cambist.log.segments import SNAPSHOTS_DIR
from cambist.log.snapshots import SnapshotStore
from cambist.node import Node
from cambist.node.forked import can_fork, exit_code, run_in_child
from cambist.node.node import snapshot_bytes
from tests.log.workload import random_orders, setup_commands

pytestmark = pytest.mark.skipif(not can_fork(), reason="no fork on this platform")


def _replayed_to(directory: Path, seq: int) -> bytes:
    """The snapshot the state at ``seq`` must give: the journal replayed into a new engine."""
    engine = Engine()
    replay(engine, directory, to_seq=seq)
    assert engine.last_seq == seq
    return snapshot_bytes(engine)


def test_forked_snapshot_parent_goes_on_child_writes_state_at_fork(tmp_path: Path) -> None:
    async def run() -> None:
        setup = setup_commands()
        every = len(setup) + 40
        node = await Node.open(tmp_path, snapshot_every=every, snapshot_interval_s=3600)
        assert node.fork_snapshots
        await node.submit_many(setup)
        await node.submit_many(random_orders(random.Random(1), 40))  # the fork happens here
        forked_at = node.engine.last_seq
        task = node._snapshot_task
        assert task is not None
        # the parent applies more while the child serialises: none of it may show up
        for i in range(5):
            await node.submit_many(random_orders(random.Random(10 + i), 7))
        assert node.engine.last_seq > forked_at
        await task
        store = SnapshotStore(tmp_path / SNAPSHOTS_DIR)
        (seq, path), *_ = store.paths()
        assert seq == forked_at
        info, payload = store.read(path)
        assert info.seq == forked_at
        assert payload == _replayed_to(tmp_path, forked_at)
        await node.close()
        reopened = await Node.open(tmp_path)
        assert reopened.engine.last_seq == forked_at + 35
        await reopened.close()

    asyncio.run(run())


def test_forked_snapshot_child_fails_nothing_lost_node_keeps_serving(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    async def run() -> None:
        setup = setup_commands()
        node = await Node.open(tmp_path, snapshot_every=len(setup), snapshot_interval_s=3600)

        def broken(seq: int, payload: bytes) -> None:
            raise OSError(28, "No space left on device")  # what a full disk does

        node.snapshots.write = broken  # type: ignore[method-assign]  # the fork copies it
        await node.submit_many(setup)
        task = node._snapshot_task
        assert task is not None
        await task
        assert SnapshotStore(tmp_path / SNAPSHOTS_DIR).paths() == []
        applied = await node.submit_many(random_orders(random.Random(2), 10))
        assert applied[-1].seq == len(setup) + 10
        node.fork_snapshots = False  # the closing snapshot on the loop, to a working store
        del node.snapshots.write
        await node.close()
        reopened = await Node.open(tmp_path)
        assert reopened.engine.last_seq == len(setup) + 10
        await reopened.close()

    asyncio.run(run())
    assert "No space left on device" in capfd.readouterr().err


def test_forked_snapshot_child_killed_mid_write_leaves_no_snapshot(tmp_path: Path) -> None:
    """SIGKILL of a child inside ``SnapshotStore.write``, after its temporary file is written and
    before the fsync and rename: no snapshot appears (the store only renames a complete, fsynced
    file into place) and a recovery finds none to load."""
    store = SnapshotStore(tmp_path / SNAPSHOTS_DIR)
    ready = tmp_path / "ready"

    def write_then_stall() -> None:
        def stall(fd: int) -> None:  # the child's own copy of os: the parent keeps the real one
            ready.write_bytes(b"")
            time.sleep(60)

        os.fsync = stall
        store.write(9, b"a snapshot payload that never becomes durable")

    pid = run_in_child(write_then_stall)
    deadline = time.monotonic() + 10
    while not ready.exists():
        assert time.monotonic() < deadline, "child never reached the fsync"
        time.sleep(0.01)
    assert [p.name for p in store.directory.iterdir()] == [".00000000000000000009.snap.tmp"]
    os.kill(pid, signal.SIGKILL)
    assert exit_code(pid) == -signal.SIGKILL
    assert store.paths() == []
    info, payload, _warnings = store.newest()
    assert info is None and payload == b""


def test_forked_child_exit_codes_report_success_and_failure() -> None:
    assert exit_code(run_in_child(lambda: None)) == 0
    assert exit_code(run_in_child(lambda: 1 / 0)) == 1


def test_forked_child_reaped_elsewhere_exit_code_is_none() -> None:
    """Another part of the process (a reaper of every child) took the status first: no
    exception reaches the node's snapshot task, which would otherwise fail its close."""
    pid = run_in_child(lambda: None)
    os.waitpid(pid, 0)
    assert exit_code(pid) is None


def test_forked_child_runs_at_lowest_priority(tmp_path: Path) -> None:
    """The child yields the CPU to the server's threads and its clients (its snapshot took a
    core's worth of CPU while a busy server needed both)."""
    out = tmp_path / "nice"
    parent = os.nice(0)
    code = exit_code(run_in_child(lambda: out.write_text(str(os.nice(0)))))
    assert code == 0 and int(out.read_text()) == 19 and os.nice(0) == parent
