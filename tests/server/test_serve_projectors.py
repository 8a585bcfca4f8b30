"""The projectors inside ``cambist serve``: batches held back for ``max_delay_s``, projected at
once when a reader waits or a full batch waits, and nothing held lost at stop."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from cambist.node import Node
from cambist.readmodels.runner import marks
from cambist.readmodels.store import open_store
from cambist.server.projectors import ServeProjectors
from tests.log.workload import random_orders, setup_commands


def _run(
    tmp_path: Path,
    body: Callable[[Node, ServeProjectors, list[int]], Awaitable[None]],
    **kwargs: float,
) -> None:
    """Open a node with the standard markets, start its projectors with ``kwargs`` and count
    their flushes (one transaction per projector each) into the list given to ``body``."""

    async def run() -> None:
        node = await Node.open(tmp_path)
        await node.submit_many(setup_commands())
        projectors = ServeProjectors(node, tmp_path, str(tmp_path / "rm.sqlite"), **kwargs)  # type: ignore[arg-type]
        await projectors.start()
        assert await projectors.wait_for(node.engine.last_seq, 30)
        assert projectors.group is not None
        flushes: list[int] = []
        real = projectors.group.flush

        def counting() -> None:
            flushes.append(len(flushes))
            real()

        projectors.group.flush = counting  # type: ignore[method-assign]
        try:
            await body(node, projectors, flushes)
        finally:
            await projectors.stop()
            await node.close()

    asyncio.run(run())


async def _submit_one_by_one(node: Node, n: int) -> int:
    for order in random_orders(random.Random(1), n):
        await node.submit(order)
    return node.engine.last_seq


async def _until(predicate: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "not reached in time"
        await asyncio.sleep(0.01)


def test_serve_projectors_no_reader_holds_commands_for_one_batch(tmp_path: Path) -> None:
    async def body(node: Node, projectors: ServeProjectors, flushes: list[int]) -> None:
        before = projectors.position
        last = await _submit_one_by_one(node, 40)  # 40 group commits
        await asyncio.sleep(0.3)
        assert (projectors.position, flushes) == (before, [])
        assert await projectors.wait_for(last, 10)
        assert len(flushes) == 1

    _run(tmp_path, body, max_delay_s=60)


def test_serve_projectors_oldest_waited_max_delay_projected_without_a_reader(
    tmp_path: Path,
) -> None:
    async def body(node: Node, projectors: ServeProjectors, flushes: list[int]) -> None:
        last = await _submit_one_by_one(node, 5)
        await _until(lambda: projectors.position >= last)
        assert 1 <= len(flushes) <= 5

    _run(tmp_path, body, max_delay_s=0.05)


def test_serve_projectors_full_batch_projected_before_the_delay(tmp_path: Path) -> None:
    async def body(node: Node, projectors: ServeProjectors, flushes: list[int]) -> None:
        before = projectors.position
        await node.submit_many(random_orders(random.Random(2), 25))
        await _until(lambda: projectors.position >= before + 20)
        assert projectors.position == before + 20, "the 5 beyond two full batches are held"
        assert len(flushes) == 2

    _run(tmp_path, body, batch=10, max_delay_s=60)


def test_serve_projectors_stop_projects_what_was_held(tmp_path: Path) -> None:
    last = 0

    async def body(node: Node, projectors: ServeProjectors, flushes: list[int]) -> None:
        nonlocal last
        last = await _submit_one_by_one(node, 30)
        assert projectors.position < last

    _run(tmp_path, body, max_delay_s=60)
    store = open_store(str(tmp_path / "rm.sqlite"))
    try:
        assert {seq for seq, _ in marks(store).values()} == {last}
    finally:
        store.close()
