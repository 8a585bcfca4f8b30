"""A reader in another process: tail a journal directory and write each seq and coid to a file."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from cambist.domain import commands as c
from cambist.log.journal import follow_commands


async def _follow(directory: Path, out: Path, from_seq: int, count: int) -> None:
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    seen = 0
    async for cmd in follow_commands(directory, from_seq):
        coid = cmd.client_order_id if isinstance(cmd, c.PlaceOrder) else "-"
        os.write(fd, f"{cmd.seq} {coid}\n".encode())
        seen += 1
        if seen == count:
            break
    os.close(fd)


def run(directory: Path, out: Path, from_seq: int, count: int) -> None:
    asyncio.run(_follow(directory, out, from_seq, count))
