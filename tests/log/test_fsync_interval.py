"""``fsync="<interval>"``: acknowledged after the write, synced at most that long after, also
under a steady stream of appends (the writer never idles for a whole interval)."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

from cambist.log.codec import encode_chunk
from cambist.log.journal import Journal
from tests.log.workload import random_orders, setup_commands


def _counted(tmp_path: Path) -> tuple[Journal, list[float]]:
    """A 20 ms interval journal with the set-up written, and the times of its syncs from now."""
    journal = Journal.open(tmp_path, fsync="20ms")
    journal.append_sync(setup_commands())
    syncs: list[float] = []
    real = journal._fsync

    def counting(fd: int) -> None:
        syncs.append(time.monotonic())
        real(fd)

    journal._fsync = counting
    return journal, syncs


def test_journal_interval_policy_syncs_under_steady_appends(tmp_path: Path) -> None:
    journal, syncs = _counted(tmp_path)
    rng = random.Random(1)
    stop = time.monotonic() + 0.4
    while time.monotonic() < stop:  # an append every ~2 ms: the writer is never idle 20 ms
        journal.append_sync(random_orders(rng, 2))
        time.sleep(0.002)
    during = len(syncs)
    journal.close()
    assert during >= 5, f"{during} syncs in 400 ms of appends with a 20 ms interval"


def test_journal_interval_policy_syncs_with_commits_always_waiting(tmp_path: Path) -> None:
    """The next batch is always queued when the writer finishes one (each commit queues the
    next before it returns): it must still sync once the interval is up, not only when it
    finds nothing to do."""
    journal, syncs = _counted(tmp_path)
    chunk = encode_chunk(random_orders(random.Random(2), 1))
    stop = time.monotonic() + 0.3
    finished = threading.Event()
    commit = journal._commit

    acked: list[int] = []

    def done(first: int, ts: int, exc: BaseException | None) -> None:
        acked.append(first)

    def commit_then_queue_next(items: list[object]) -> None:
        time.sleep(0.001)  # a disk that takes a while
        commit(items)  # type: ignore[arg-type]
        if time.monotonic() < stop:
            journal.submit(chunk, 1, done)
        else:
            finished.set()

    journal._commit = commit_then_queue_next  # type: ignore[method-assign,assignment]
    journal.submit(chunk, 1, done)
    assert finished.wait(5.0)
    during = len(syncs)
    journal.close()
    assert during >= 5, f"{during} syncs in 300 ms of back-to-back commits, 20 ms interval"
    assert len(acked) >= 50 and acked == sorted(acked)


def test_journal_interval_policy_syncs_once_idle(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path, fsync="20ms")
    synced = threading.Event()
    real = journal._fsync

    def counting(fd: int) -> None:
        real(fd)
        synced.set()

    journal._fsync = counting
    journal.append_sync(setup_commands())
    assert synced.wait(2.0)  # nothing more arrives: synced once the interval is up
    journal.close()
