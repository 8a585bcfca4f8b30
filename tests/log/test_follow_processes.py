"""Readers in other processes tail a live journal: in order, complete, only committed records."""

from __future__ import annotations

import multiprocessing
import random
from pathlib import Path

from cambist.domain import commands as c
from cambist.log.journal import Journal
from tests.log import follower_child
from tests.log.workload import random_orders, setup_commands


def test_follow_from_two_other_processes_sees_every_command_in_order(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["tests.log.follower_child"])
    directory = tmp_path / "j"
    journal = Journal.open(directory, segment_bytes=8192)  # several segment rolls while tailing
    journal.append_sync(setup_commands())
    start = journal.last_seq + 1
    total = 400
    outs = [tmp_path / f"reader{i}.txt" for i in range(2)]
    readers = [
        ctx.Process(target=follower_child.run, args=(directory, out, start, total)) for out in outs
    ]
    for reader in readers:
        reader.start()
    written: list[c.Command] = []
    rng = random.Random(4)
    while len(written) < total:
        batch = random_orders(rng, min(rng.randint(1, 9), total - len(written)), tag="f")
        journal.append_sync(batch)
        written += batch
    for reader in readers:
        reader.join(30)
        assert reader.exitcode == 0
    journal.close()
    expected = [
        f"{cmd.seq} {cmd.client_order_id if isinstance(cmd, c.PlaceOrder) else '-'}"
        for cmd in written
    ]
    for out in outs:
        assert out.read_text().splitlines() == expected
