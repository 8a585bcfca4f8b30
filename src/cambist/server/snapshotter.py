"""Periodic engine snapshots written by a separate process that follows the journal.

Why not the serving process: a snapshot must see one consistent state. Serialising it on the
event loop stalls every request for its length; forking a child (``node.forked``) stalls the
parent for the fork (4-6 ms at ~140 MB) and then for the copy-on-write faults of every page it
writes while the child runs, and CPython writes a page whenever it touches an object's reference
count. At 10,000 orders/s that fork was the largest single source of slow answers: the 50 ms
windows after it held 300-600 answers over 10 ms, enough alone to set the p99 (docs/benchmarks.md,
Server, stop 18). This process has its own engine, started from the newest snapshot and fed the
committed journal (as ``cambist projector run`` is); the engine is deterministic, so the state it
writes at a sequence is the state the server had there. The server forks nothing and pays nothing
but the reading of the journal's pages by another process.

It writes a snapshot once ``every`` commands followed the last one, or ``interval_s`` after it
if any did; the newest snapshot is what recovery starts from, whoever wrote it. It exits when
its parent (the server) is gone, on SIGTERM/SIGINT after finishing a write in progress, and
never holds the journal's lock. A failed write is logged and tried again at the next one due:
the journal holds every command, so a missed snapshot only lengthens a replay.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import threading
import time
from pathlib import Path

import structlog

from cambist.log.journal import commands_after
from cambist.log.recovery import gc_paused, recover
from cambist.log.segments import SNAPSHOTS_DIR, WATERMARK_FILE, Cursor, Watermark
from cambist.log.snapshots import SnapshotStore
from cambist.node.node import snapshot_bytes
from cambist.server.logsetup import configure_logging

log = structlog.get_logger("cambist.snapshotter")


def follow(
    data_dir: Path,
    stop: threading.Event,
    *,
    every: int,
    interval_s: float,
    parent_pid: int | None = None,
    poll_s: float = 0.005,
) -> int:
    """Follow the committed journal and write snapshots until ``stop`` (or the parent is gone);
    return how many were written."""
    if every < 1 or interval_s <= 0:
        raise ValueError(f"every must be >= 1 and interval_s > 0, not {every} and {interval_s}")

    def orphaned() -> bool:
        if parent_pid is not None and os.getppid() != parent_pid:
            log.info("snapshotter.parent_gone", parent=parent_pid)
            return True
        return False

    wm_path = data_dir / WATERMARK_FILE
    while not wm_path.exists():
        if stop.is_set() or orphaned():
            return 0
        stop.wait(poll_s)
    wm = Watermark(wm_path, writable=False)
    recovered = recover(data_dir, to_seq=wm.read())
    engine = recovered.engine
    store = SnapshotStore(data_dir / SNAPSHOTS_DIR)
    cursor = Cursor(data_dir, engine.last_seq + 1, wm.read)
    # what a recovery would replay now counts: a journal far past its newest snapshot gets one
    since, since_at, written = engine.last_seq - recovered.snapshot_seq, time.monotonic(), 0
    checked_parent = time.monotonic()

    def write() -> None:
        nonlocal since, since_at, written
        seq = engine.last_seq
        since, since_at = 0, time.monotonic()
        try:
            with gc_paused():
                payload = snapshot_bytes(engine)
            info = store.write(seq, payload)
        except OSError as exc:
            log.error("snapshotter.write_failed", seq=seq, error=str(exc))
            return
        written += 1
        log.info("node.snapshot_written", seq=seq, bytes=info.size, by="snapshotter")

    try:
        while not stop.is_set():
            now = time.monotonic()
            if now - checked_parent > 0.1:
                checked_parent = now
                if orphaned():
                    break
            record = cursor.next_record()
            if record is None:
                if since >= every or (since and now - since_at >= interval_s):
                    write()
                stop.wait(poll_s)
                continue
            for cmd in commands_after(cursor, record, engine.last_seq):
                engine.apply(cmd)
                since += 1
            if since >= every:
                write()
    finally:
        cursor.close()
        wm.close()
    return written


class SnapshotterProcess:
    """The snapshotter next to ``cambist serve``: started with the server, started again a
    second after it exits unexpectedly (the server goes on meanwhile; only replays lengthen),
    stopped before the server writes its own shutdown snapshot (two writers would prune each
    other's temporary files)."""

    RESTART_DELAY_S = 1.0

    def __init__(self, data_dir: Path, *, every: int, interval_s: float) -> None:
        self.data_dir = Path(data_dir)
        self.every = every
        self.interval_s = interval_s
        self.proc: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def argv(self) -> list[str]:
        return [
            sys.executable, "-m", "cambist.server.snapshotter", "--data-dir", str(self.data_dir),
            "--every", str(self.every), "--interval", str(self.interval_s),
            "--parent", str(os.getpid()),
        ]  # fmt: skip

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(*self.argv())
        self._task = asyncio.ensure_future(self._supervise())

    async def _supervise(self) -> None:
        while True:
            assert self.proc is not None
            code = await self.proc.wait()
            if self._stopping.is_set():
                return
            log.error("snapshotter.exited", code=code, restart_in_s=self.RESTART_DELAY_S)
            await asyncio.sleep(self.RESTART_DELAY_S)
            if self._stopping.is_set():
                return
            self.proc = await asyncio.create_subprocess_exec(*self.argv())
            self.restarts += 1

    async def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM (it finishes a write in progress), then SIGKILL after ``timeout_s``."""
        self._stopping.set()
        proc = self.proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), timeout_s)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def main(argv: list[str] | None = None) -> None:
    """``python -m cambist.node.snapshotter --data-dir D --every N --interval S [--parent P]``
    (started by ``cambist serve``; see :class:`SnapshotterProcess`)."""
    parser = argparse.ArgumentParser(prog="cambist-snapshotter", description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--every", type=int, required=True)
    parser.add_argument("--interval", type=float, required=True)
    parser.add_argument("--parent", type=int, default=None)
    parser.add_argument("--nice", type=int, default=10)
    args = parser.parse_args(argv)
    if args.every < 1 or args.interval <= 0:
        parser.error(
            f"--every must be >= 1 and --interval > 0, not {args.every} and {args.interval}"
        )
    configure_logging("info")
    if args.nice:
        os.nice(args.nice)  # the server's threads and its clients come first
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    follow(args.data_dir, stop, every=args.every, interval_s=args.interval, parent_pid=args.parent)


if __name__ == "__main__":
    main()
