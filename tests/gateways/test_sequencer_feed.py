"""The sequencer folds its subscription by reading the asyncio.Queue's deque (cheaper than
``get_nowait``); it must still fold everything, in order, and leave the queue usable."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from cambist.domain.commands import Command
from cambist.gateways.rest.keystore import KeyStore
from cambist.gateways.rest.metrics import Metrics
from cambist.gateways.rest.sequencer import Sequencer
from cambist.gateways.rest.view import View


class _Node:
    def __init__(self) -> None:
        self.engine = SimpleNamespace(last_seq=0)
        self.queue: asyncio.Queue[Any] = asyncio.Queue()

    async def submit_many(self, cmds: list[Command]) -> list[Any]:  # pragma: no cover
        raise AssertionError("not used")

    def subscribe(self) -> asyncio.Queue[Any]:
        return self.queue


def _applied(seq: int) -> Any:
    return SimpleNamespace(seq=seq, ts=seq * 1000, command=None, events=[])


def test_catch_up_and_pump_fold_everything_in_order(tmp_path: Any) -> None:
    async def scenario() -> list[int]:
        node, view = _Node(), View()
        folded: list[int] = []
        apply = view.apply

        def recording(a: Any) -> None:
            folded.append(a.seq)
            apply(a)

        view.apply = recording  # type: ignore[method-assign,assignment]
        seq = Sequencer(node, view, KeyStore(tmp_path / "k.sqlite"), Metrics())
        assert seq._buffer is not None  # CPython's Queue keeps its items in a deque
        for i in (1, 2, 3):
            node.queue.put_nowait(_applied(i))
        seq.catch_up()
        assert node.queue.empty()
        seq.start()
        for i in (4, 5):
            node.queue.put_nowait(_applied(i))
        assert await seq.wait_view(5, timeout=5.0)
        node.queue.put_nowait(_applied(6))
        assert await seq.wait_view(6, timeout=5.0)
        await seq.stop()
        return folded

    assert asyncio.run(scenario()) == [1, 2, 3, 4, 5, 6]
