"""One writer per journal: a second open is refused, but a lock released within the wait (a
node's snapshot child closing what it inherited at the fork) is taken."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cambist.log.errors import JournalLockedError
from cambist.log.journal import Journal


def test_journal_open_twice_refused_after_wait(tmp_path: Path) -> None:
    first = Journal.open(tmp_path)
    try:
        t0 = time.monotonic()
        with pytest.raises(JournalLockedError, match="open for writing by another process"):
            Journal.open(tmp_path, lock_wait_s=0.2)
        assert time.monotonic() - t0 >= 0.2
    finally:
        first.close()
    Journal.open(tmp_path).close()  # released on close


def test_journal_open_lock_released_within_wait_is_taken(tmp_path: Path) -> None:
    """Another process holds LOCK for 0.3 s (as a snapshot child does until it closes its
    inherited descriptors); an open waiting up to 5 s gets the journal."""
    tmp_path.mkdir(exist_ok=True)
    ready = tmp_path / "held"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT);"
            " fcntl.flock(fd, fcntl.LOCK_EX); open(sys.argv[2], 'w').close(); time.sleep(0.3)",
            str(tmp_path / "LOCK"),
            str(ready),
        ]
    )
    try:
        deadline = time.monotonic() + 10
        while not ready.exists():
            assert time.monotonic() < deadline, "holder never took the lock"
            time.sleep(0.01)
        fd = os.open(tmp_path / "LOCK", os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):  # really held at this point
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
        journal = Journal.open(tmp_path, lock_wait_s=5.0)
        journal.close()
    finally:
        holder.wait(10)
