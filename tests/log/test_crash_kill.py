"""SIGKILL at random moments while a node appends under load, 50 times over one journal.

After each kill: every command that had been acknowledged (durable) is in the journal with the
same content, the journal opens (cutting a torn tail if the kill made one), and the recovered
state (newest snapshot + replay) hashes equal to a replay from zero.
"""

from __future__ import annotations

import multiprocessing
import random
import time
from pathlib import Path

from cambist.domain import commands as c
from cambist.domain.engine import Engine
from cambist.log.journal import Journal
from cambist.log.recovery import recover
from tests.log import crash_child

CYCLES = 50


def _wait_for_acks(acks: Path, more_than: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        if acks.exists() and acks.stat().st_size > more_than:
            return
        time.sleep(0.002)


def _check(directory: Path, acks: Path) -> tuple[int, int]:
    journal = Journal.open(directory)
    try:
        by_seq = {cmd.seq: cmd for cmd in journal.read_sync()}
        last = journal.last_seq
    finally:
        journal.close()
    assert sorted(by_seq) == list(range(1, last + 1))
    acked = 0
    for line in acks.read_text().splitlines() if acks.exists() else []:
        seq_text, coid = line.split(" ")
        cmd = by_seq.get(int(seq_text))
        assert cmd is not None, f"acknowledged seq {seq_text} lost (journal ends at {last})"
        if coid == "-":
            assert isinstance(cmd, c.CancelAll)
        else:
            assert isinstance(cmd, c.PlaceOrder) and cmd.client_order_id == coid
        acked += 1
    fresh = Engine()
    for seq in range(1, last + 1):
        fresh.apply(by_seq[seq])
    fresh.validate_invariants()
    recovered = recover(directory)
    assert recovered.engine.last_seq == last
    assert recovered.engine.state_hash() == fresh.state_hash()
    return last, acked


def test_node_sigkill_at_random_moments_loses_no_acknowledged_command(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["tests.log.crash_child"])
    rng = random.Random(20240501)
    directory, acks = tmp_path / "node", tmp_path / "acks.txt"
    last = 0
    for cycle in range(CYCLES):
        size_before = acks.stat().st_size if acks.exists() else 0
        child = ctx.Process(target=crash_child.run, args=(directory, acks, cycle, 40))
        child.start()
        if rng.random() < 0.15:
            time.sleep(rng.uniform(0, 0.03))  # sometimes during start-up / recovery
        else:
            _wait_for_acks(acks, size_before, time.monotonic() + 10)
            time.sleep(rng.uniform(0, 0.04))
        child.kill()
        child.join()
        assert child.exitcode == -9, f"cycle {cycle}: child exited with {child.exitcode}"
        last, acked = _check(directory, acks)
    assert last > 500 and acked > 300
