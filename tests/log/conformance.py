"""The command-log conformance suite. A backend's test module subclasses
:class:`CommandLogConformance` and provides ``open_log``; every test then runs against it."""

from __future__ import annotations

import asyncio
import random
from abc import ABC, abstractmethod
from pathlib import Path

import pytest

from cambist.domain import commands as c
from cambist.log.interface import CommandLog
from tests.log.workload import random_orders, setup_commands


async def _collect(
    log: CommandLog, from_seq: int = 1, to_seq: int | None = None
) -> list[c.Command]:
    return [cmd async for cmd in log.read(from_seq, to_seq)]


class CommandLogConformance(ABC):
    """Behaviour every command log must have (see cambist.log.interface)."""

    @abstractmethod
    async def open_log(self, path: Path) -> CommandLog:
        """Open (or reopen) the log whose state lives at ``path``."""

    def test_append_batch_assigns_consecutive_seqs_and_stamps(self, tmp_path: Path) -> None:
        async def run() -> None:
            log = await self.open_log(tmp_path)
            cmds = setup_commands()
            first, ts = await log.append(cmds)
            assert first == 1
            assert [cmd.seq for cmd in cmds] == list(range(1, len(cmds) + 1))
            assert all(cmd.ts == ts for cmd in cmds) and ts > 0
            first2, ts2 = await log.append(random_orders(random.Random(1), 5))
            assert first2 == len(cmds) + 1 and ts2 >= ts
            assert log.last_seq == len(cmds) + 5
            await log.aclose()

        asyncio.run(run())

    def test_read_from_any_position_returns_equal_commands(self, tmp_path: Path) -> None:
        async def run() -> None:
            log = await self.open_log(tmp_path)
            written: list[c.Command] = []
            for i in range(20):
                batch = random_orders(random.Random(i), 7)
                await log.append(batch)
                written += batch
            assert await _collect(log) == written
            assert await _collect(log, 50) == written[49:]
            assert await _collect(log, 33, 41) == written[32:41]
            assert await _collect(log, 141) == []
            await log.aclose()

        asyncio.run(run())

    def test_reopen_keeps_every_appended_command(self, tmp_path: Path) -> None:
        async def run() -> None:
            log = await self.open_log(tmp_path)
            cmds = setup_commands()
            await log.append(cmds)
            await log.aclose()
            log = await self.open_log(tmp_path)
            assert log.last_seq == len(cmds)
            assert await _collect(log) == cmds
            first, _ = await log.append(random_orders(random.Random(2), 3))
            assert first == len(cmds) + 1
            await log.aclose()

        asyncio.run(run())

    def test_concurrent_appends_get_disjoint_contiguous_seqs(self, tmp_path: Path) -> None:
        async def run() -> None:
            log = await self.open_log(tmp_path)
            batches = [random_orders(random.Random(i), 1 + i % 5, tag=f"p{i}-") for i in range(60)]
            results = await asyncio.gather(*(log.append(b) for b in batches))
            spans = sorted(
                (first, first + len(b) - 1) for (first, _), b in zip(results, batches, strict=True)
            )
            expected = 1
            for lo, hi in spans:
                assert lo == expected
                expected = hi + 1
            by_seq = {cmd.seq: cmd for cmd in await _collect(log)}
            for batch in batches:
                for cmd in batch:
                    assert by_seq[cmd.seq] == cmd
            await log.aclose()

        asyncio.run(run())

    def test_follow_several_readers_see_new_commands_in_order(self, tmp_path: Path) -> None:
        async def run() -> None:
            log = await self.open_log(tmp_path)
            await log.append(setup_commands())
            start = log.last_seq + 1

            async def take(n: int) -> list[int]:
                out: list[int] = []
                async for cmd in log.follow(start):
                    out.append(cmd.seq)
                    if len(out) == n:
                        return out
                return out

            readers = [asyncio.create_task(take(40)) for _ in range(3)]
            await asyncio.sleep(0.01)
            for i in range(8):
                await log.append(random_orders(random.Random(i), 5))
            got = await asyncio.wait_for(asyncio.gather(*readers), 10)
            assert got == [list(range(start, start + 40))] * 3
            await log.aclose()

        asyncio.run(run())

    def test_append_after_close_raises(self, tmp_path: Path) -> None:
        async def run() -> None:
            log = await self.open_log(tmp_path)
            await log.aclose()
            with pytest.raises(Exception, match="closed"):
                await log.append(setup_commands())

        asyncio.run(run())
