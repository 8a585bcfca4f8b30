"""The command log interface: what the node, projectors and tools need from any backend.

The embedded journal (:mod:`cambist.log.journal`) implements it; a NATS JetStream backend will
too, and passes the same conformance suite (``tests/log/conformance.py``) by subclassing it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence

from cambist.domain.commands import Command


class CommandLog(ABC):
    """A totally ordered, durable log of commands; the sequencer stamps ``seq`` and ``ts``."""

    @abstractmethod
    async def append(self, cmds: Sequence[Command]) -> tuple[int, int]:
        """Append a batch; return once it is durable. Returns (first seq, ts): the commands get
        consecutive sequence numbers from the first, and are stamped in place."""

    @abstractmethod
    def read(self, from_seq: int = 1, to_seq: int | None = None) -> AsyncIterator[Command]:
        """Committed commands from ``from_seq`` to ``to_seq`` (or the current end), then stop."""

    @abstractmethod
    def follow(self, from_seq: int = 1) -> AsyncIterator[Command]:
        """Committed commands from ``from_seq`` on, waiting for new ones, forever."""

    @property
    @abstractmethod
    def last_seq(self) -> int:
        """The highest committed sequence number (0 when empty)."""

    @abstractmethod
    async def aclose(self) -> None:
        """Flush what is waiting and release the log."""
