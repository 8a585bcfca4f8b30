"""Opening a SQLite read-model database while others open or hold it: the WAL conversion waits.

SQLite does not run the busy handler for ``PRAGMA journal_mode=WAL``; before this was handled,
a projector process and a reader of its marks opening a new database together failed at once
with "database is locked" (stop 17's CI failure in test_projector_process).
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from cambist.readmodels.store import SqliteStore, enable_wal


def _hold_exclusive(path: Path, seconds: float, held: threading.Event) -> None:
    conn = sqlite3.connect(path, isolation_level=None, timeout=0)
    conn.execute("BEGIN EXCLUSIVE")
    held.set()
    time.sleep(seconds)
    conn.execute("COMMIT")
    conn.close()


def test_enable_wal_held_past_the_budget_raises_locked(tmp_path: Path) -> None:
    path = tmp_path / "rm.sqlite"
    held = threading.Event()
    holder = threading.Thread(target=_hold_exclusive, args=(path, 1.0, held))
    holder.start()
    held.wait(5)
    conn = sqlite3.connect(path, isolation_level=None, timeout=0.05)
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            enable_wal(conn, budget_s=0.2)
    finally:
        conn.close()
        holder.join()


def _open_at(
    path: str, barrier: multiprocessing.synchronize.Barrier, out: multiprocessing.Queue[str]
) -> None:
    barrier.wait()
    try:
        store = SqliteStore(path)
        store.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
        out.put(str(store.query("PRAGMA journal_mode")[0][0]))
        store.close()
    except Exception as exc:  # reported to the test, which names it
        out.put(f"{type(exc).__name__}: {exc}")


def test_sqlite_store_many_processes_open_a_new_file_together_all_succeed(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    results: list[str] = []
    for round_ in range(30):
        path = str(tmp_path / f"rm{round_}.sqlite")
        barrier, out = ctx.Barrier(6), ctx.Queue()
        procs = [ctx.Process(target=_open_at, args=(path, barrier, out)) for _ in range(6)]
        for p in procs:
            p.start()
        results += [out.get(timeout=60) for _ in procs]
        for p in procs:
            p.join(30)
    assert results == ["wal"] * len(results)
