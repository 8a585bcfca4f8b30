"""How late the event loop runs a timer: the stalls every request on the loop waits out.

A request's latency as the client sees it includes time spent in the socket buffer while the
loop is busy with something else (a garbage collection, a snapshot, a long batch). The
sequencer's own histogram starts only when a request reaches it, so it cannot see those
stalls; this probe can. The load generator runs one too, so a stall of the *client's* loop,
which an open-loop latency also counts, is told apart from the server's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

PERIOD_S = 0.005
"""How often the probe asks to run; a late wake-up is a stall of at least that lateness."""


class LoopLag:
    """Runs a timer every ``PERIOD_S`` and hands each lateness (seconds) to ``observe``."""

    def __init__(self, observe: Callable[[float], None]) -> None:
        self.observe = observe
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        clock = time.perf_counter
        while True:
            due = clock() + PERIOD_S
            await asyncio.sleep(PERIOD_S)
            late = max(0.0, clock() - due)
            self.worst = max(self.worst, late)
            self.observe(late)
