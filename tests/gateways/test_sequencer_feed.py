"""The sequencer answers a batch from the node's callback and folds the view from the node's
listener: every request of a batch gets its own applied command, the view has folded it first,
and a fold that raises turns the gateway to 503 instead of serving a view behind the engine."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from cambist.domain.commands import Command, CreateAccount
from cambist.gateways.rest.errors import ApiError
from cambist.gateways.rest.keystore import KeyStore
from cambist.gateways.rest.metrics import Metrics
from cambist.gateways.rest.sequencer import Sequencer
from cambist.gateways.rest.view import View


class _Node:
    """Stamps and "applies" each batch on a later loop turn: listeners first, then the caller."""

    def __init__(self) -> None:
        self.engine = SimpleNamespace(last_seq=0)
        self.listeners: list[Callable[[list[Any]], None]] = []
        self.batches: list[list[int]] = []
        self.seq = 0

    def submit_batch(self, cmds: list[Command], on_done: Callable[..., None]) -> None:
        applied = []
        for cmd in cmds:
            self.seq += 1
            applied.append(
                SimpleNamespace(seq=self.seq, ts=self.seq * 1000, command=cmd, events=[])
            )
        self.batches.append([a.seq for a in applied])

        def durable() -> None:
            for listener in self.listeners:
                listener(applied)
            on_done(applied, None)

        asyncio.get_running_loop().call_soon(durable)

    def listen(self, listener: Callable[[list[Any]], None]) -> None:
        self.listeners.append(listener)


def test_sequencer_batch_answers_each_request_after_the_view_folded_it(tmp_path: Any) -> None:
    async def scenario() -> tuple[list[int], list[int], list[list[int]]]:
        node, view = _Node(), View()
        seq = Sequencer(node, view, KeyStore(tmp_path / "k.sqlite"), Metrics(), max_inflight=1)
        seq.start()
        seen_by_view_at_answer: list[int] = []

        async def request(account: int) -> int:
            applied = await seq.submit(CreateAccount(account=account))
            seen_by_view_at_answer.append(view.last_seq)
            return int(applied.seq)

        answered = await asyncio.gather(*(request(100 + i) for i in range(10)))
        more = await asyncio.gather(*(request(200 + i) for i in range(3)))
        await seq.stop()
        assert seq.inflight == 0 and seq.depth == 0
        return [*answered, *more], seen_by_view_at_answer, node.batches

    answered, view_at_answer, batches = asyncio.run(scenario())
    assert answered == list(range(1, 14))  # each request its own command, in order
    assert all(pos >= 10 for pos in view_at_answer[:10])  # folded before any was answered
    assert batches == [list(range(1, 11)), [11, 12, 13]]  # one batch per loop turn


def test_sequencer_waits_for_inflight_batch_then_sends_what_queued(tmp_path: Any) -> None:
    async def scenario() -> list[list[int]]:
        node, view = _Node(), View()
        seq = Sequencer(node, view, KeyStore(tmp_path / "k.sqlite"), Metrics(), max_inflight=1)
        seq.start()
        first = seq.submit(CreateAccount(account=1))
        await asyncio.sleep(0)  # the first batch goes; the node answers it a turn later
        rest = [seq.submit(CreateAccount(account=2 + i)) for i in range(4)]
        await asyncio.gather(first, *rest)
        return node.batches

    assert asyncio.run(scenario()) == [[1], [2, 3, 4, 5]]


def test_sequencer_view_fold_error_answers_503_from_then_on(tmp_path: Any) -> None:
    async def scenario() -> tuple[list[str], str | None]:
        node, view = _Node(), View()

        def broken(applied: Any) -> None:
            raise KeyError("a fold bug")

        view.apply = broken  # type: ignore[method-assign]
        seq = Sequencer(node, view, KeyStore(tmp_path / "k.sqlite"), Metrics())
        seq.start()
        codes = []
        for account in (1, 2):
            with pytest.raises(ApiError) as info:
                await seq.submit(CreateAccount(account=account))
            codes.append(info.value.code)
        return codes, type(seq.failed).__name__ if seq.failed else None

    codes, failed = asyncio.run(scenario())
    assert codes == ["unavailable", "unavailable"] and failed == "KeyError"


def test_sequencer_wait_view_wakes_on_fold_and_times_out_beyond_it(tmp_path: Any) -> None:
    async def scenario() -> tuple[bool, bool, bool]:
        node, view = _Node(), View()
        seq = Sequencer(node, view, KeyStore(tmp_path / "k.sqlite"), Metrics())
        seq.start()
        waiter = asyncio.ensure_future(seq.wait_view(2, timeout=5.0))
        await asyncio.gather(*(seq.submit(CreateAccount(account=a)) for a in (1, 2)))
        reached = await waiter
        beyond = await seq.wait_view(3, timeout=0.05)
        return reached, beyond, await seq.wait_view(1, timeout=0.0)

    assert asyncio.run(scenario()) == (True, False, True)
