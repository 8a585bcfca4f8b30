"""The snapshotter process: snapshots every N commands or T seconds that equal a replay's state,
restarted when it dies, gone when the server is, stopped before the server's own snapshot."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cambist.domain.engine import Engine
from cambist.log.journal import read_commands
from cambist.log.segments import SNAPSHOTS_DIR
from cambist.log.snapshots import SnapshotStore
from cambist.node import Node
from cambist.node.node import snapshot_bytes
from cambist.server.config import ConfigError, load_config
from cambist.server.snapshotter import SnapshotterProcess, follow, main
from tests.log.workload import random_orders, setup_commands
from tests.server.test_crash import _start


def _journal(data_dir: Path, orders: int) -> int:
    """Journal the standard set-up (one group commit) and ``orders`` random orders (one each)
    through a node whose own snapshots are off; returns the last sequence. The node's journal
    is closed without the node's shutdown snapshot."""

    async def run() -> int:
        node = await Node.open(data_dir, snapshot_every=2**62, snapshot_interval_s=1e9)
        await node.submit_many(setup_commands())
        for order in random_orders(random.Random(4), orders):
            await node.submit(order)
        await node.journal.aclose()
        return node.engine.last_seq

    return asyncio.run(run())


def _replayed_to(data_dir: Path, seq: int) -> bytes:
    engine = Engine()
    for cmd in read_commands(data_dir, 1, seq):
        engine.apply(cmd)
    return snapshot_bytes(engine)


def _following(
    data_dir: Path, **kwargs: float
) -> tuple[threading.Event, list[int], threading.Thread]:
    """``follow`` in a thread: set the event to stop it; the list gets its result."""
    stop, result = threading.Event(), []
    thread = threading.Thread(
        target=lambda: result.append(follow(data_dir, stop, poll_s=0.002, **kwargs))  # type: ignore[arg-type]
    )
    thread.start()
    return stop, result, thread


def _until(predicate: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.01)


def test_snapshotter_every_n_commands_writes_the_replayed_state(tmp_path: Path) -> None:
    stop, result, thread = _following(tmp_path, every=50, interval_s=1e9)
    try:
        last = _journal(tmp_path, 150)  # 33 set-up commands, then one order per group commit
        store = SnapshotStore(tmp_path / SNAPSHOTS_DIR)
        _until(lambda: len(store.paths()) == 3)
    finally:
        stop.set()
        thread.join(30)
    assert result == [3]
    seqs = [seq for seq, _ in store.paths()]
    assert seqs == [150, 100, 50] and last == 183
    for seq, path in store.paths():
        _info, payload = SnapshotStore.read(path)
        assert payload == _replayed_to(tmp_path, seq), f"snapshot {seq} differs from a replay"


def test_snapshotter_journal_past_its_newest_snapshot_gets_one_at_start(tmp_path: Path) -> None:
    last = _journal(tmp_path, 60)
    store = SnapshotStore(tmp_path / SNAPSHOTS_DIR)
    stop, result, thread = _following(tmp_path, every=50, interval_s=1e9)
    try:
        _until(lambda: bool(store.paths()))
    finally:
        stop.set()
        thread.join(30)
    assert result == [1] and [seq for seq, _ in store.paths()] == [last]


def test_snapshotter_interval_writes_once_commands_followed(tmp_path: Path) -> None:
    stop, result, thread = _following(tmp_path, every=10**9, interval_s=0.3)
    try:
        time.sleep(0.6)
        store = SnapshotStore(tmp_path / SNAPSHOTS_DIR)
        assert store.paths() == [], "nothing followed: nothing to snapshot"
        last = _journal(tmp_path, 3)
        _until(lambda: bool(store.paths()))
        time.sleep(0.6)
    finally:
        stop.set()
        thread.join(30)
    assert result == [1] and [seq for seq, _ in store.paths()] == [last]


def test_snapshotter_parent_gone_exits(tmp_path: Path) -> None:
    _journal(tmp_path, 5)
    stop = threading.Event()
    thread = threading.Thread(
        target=follow,
        args=(tmp_path, stop),
        kwargs={"every": 10**9, "interval_s": 1e9, "parent_pid": os.getppid() + 1_000_000},
    )
    thread.start()
    thread.join(10)
    gone = not thread.is_alive()
    stop.set()
    thread.join(10)
    assert gone, "still following with its parent gone"


@pytest.mark.parametrize("argv", [["--every", "0"], ["--interval", "0"], ["--every", "x"]])
def test_snapshotter_main_bad_arguments_exit_2_with_a_message(
    tmp_path: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    base = {"--data-dir": str(tmp_path), "--every": "10", "--interval": "1"}
    base.update(dict(zip(argv[::2], argv[1::2], strict=True)))
    with pytest.raises(SystemExit) as exit_:
        main([x for kv in base.items() for x in kv])
    assert exit_.value.code == 2
    assert argv[0] in capsys.readouterr().err


def test_snapshotter_process_killed_is_restarted_and_stops_cleanly(tmp_path: Path) -> None:
    _journal(tmp_path, 5)

    async def run() -> None:
        snapshotter = SnapshotterProcess(tmp_path, every=10**9, interval_s=1e9)
        snapshotter.RESTART_DELAY_S = 0.05
        await snapshotter.start()
        first = snapshotter.proc
        assert first is not None
        first.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 30
        while snapshotter.restarts == 0:
            assert time.monotonic() < deadline, "not restarted"
            await asyncio.sleep(0.02)
        second = snapshotter.proc
        assert second is not None and second.pid != first.pid
        await snapshotter.stop()
        assert second.returncode in (0, -signal.SIGTERM)  # -15: stopped while still importing

    asyncio.run(run())


def test_snapshotter_main_sigterm_after_start_exits_zero(tmp_path: Path) -> None:
    last = _journal(tmp_path, 60)
    snapshotter = SnapshotterProcess(tmp_path, every=50, interval_s=1e9)
    proc = subprocess.Popen(snapshotter.argv(), stderr=subprocess.DEVNULL)
    try:
        store = SnapshotStore(tmp_path / SNAPSHOTS_DIR)
        _until(lambda: bool(store.paths()))  # written at start: 93 commands past no snapshot
        assert [seq for seq, _ in store.paths()] == [last]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


def test_serve_sigkill_leaves_no_snapshotter_behind(tmp_path: Path) -> None:
    proc, _url = _start(tmp_path)
    try:
        children = _children(proc.pid)
        assert len(children) == 1, children
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 15
    while _alive(children[0]):
        assert time.monotonic() < deadline, "the snapshotter outlived the server"
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("name", "value"),
    [("SNAPSHOTS", "sometimes"), ("SNAPSHOT_EVERY", "0"), ("SNAPSHOT_INTERVAL_S", "-1")],
)
def test_serve_config_bad_snapshot_setting_is_refused(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name.lower()):
        load_config(env={f"CAMBIST_{name}": value})


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[1] == str(pid):
                out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
