"""Child process for the SIGKILL test: run a node under load and record each durable ack.

Each line ``SEQ CLIENT_ORDER_ID`` is appended to the ack file (one ``write``, so it survives the
kill) only after ``Node.submit_many`` returned, i.e. after the command was durable and applied.
Run through a forkserver that has this module imported, so a child starts in milliseconds.
"""

from __future__ import annotations

import asyncio
import os
import random
from pathlib import Path

import structlog

from cambist.domain import commands as c
from cambist.node import Node
from tests.log.workload import random_orders, setup_commands


async def produce(node: Node, rng: random.Random, tag: str, ack_fd: int) -> None:
    i = 0
    while True:
        batch = random_orders(rng, rng.randint(1, 5), tag=f"{tag}-{i}-")
        i += 1
        applied = await node.submit_many(batch)
        lines = []
        for a in applied:
            coid = a.command.client_order_id if isinstance(a.command, c.PlaceOrder) else "-"
            lines.append(f"{a.seq} {coid}\n")
        os.write(ack_fd, "".join(lines).encode())


async def _main(directory: Path, acks: Path, seed: int, snapshot_every: int) -> None:
    node = await Node.open(directory, snapshot_every=snapshot_every)
    if node.engine.last_seq == 0:
        await node.submit_many(setup_commands())
    ack_fd = os.open(acks, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    rng = random.Random(seed)
    producers = [
        produce(node, random.Random(rng.random()), f"{seed}.{p}", ack_fd) for p in range(4)
    ]
    await asyncio.gather(*producers)


def run(directory: Path, acks: Path, seed: int, snapshot_every: int) -> None:
    """Forkserver entry point: work until killed."""
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(open(os.devnull, "w")))  # noqa: SIM115
    asyncio.run(_main(directory, acks, seed, snapshot_every))
