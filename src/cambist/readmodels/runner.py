"""Running projectors over a stream of applied commands, in batches.

The stream is anything yielding ``(seq, ts, command, events)`` in sequence order: the node's
subscription inside ``cambist serve``, or a journal tail folded through an engine in a separate
``cambist projector run`` process (:mod:`cambist.server.projectors`, which may import the
engine; this layer may not). Batching is what makes projection fast: rows of many commands go
to the database in one transaction, and each order or candle is written once per batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from cambist.domain.commands import Command
from cambist.domain.events import Event
from cambist.readmodels.projectors import PROJECTORS, Projector
from cambist.readmodels.store import Store

DEFAULT_BATCH = 5_000
"""Commands per transaction when the source has more waiting (a catch-up or a burst)."""


class AppliedLike(Protocol):
    seq: int
    ts: int
    command: Command
    events: list[Event]


def resolve_names(names: Sequence[str]) -> list[str]:
    """Projector names, ``all`` expanded; an unknown name is a ValueError naming the choices."""
    out: list[str] = []
    for name in names:
        if name == "all":
            out.extend(n for n in PROJECTORS if n not in out)
        elif name in PROJECTORS:
            if name not in out:
                out.append(name)
        else:
            raise ValueError(f"unknown projector {name!r}; choose from {', '.join(PROJECTORS)}")
    return out


class ProjectorGroup:
    """Several projectors fed from one stream, each flushing its own transaction."""

    def __init__(self, store: Store, names: Sequence[str] = ("all",)) -> None:
        self.store = store
        self.projectors: list[Projector] = [PROJECTORS[n](store) for n in resolve_names(names)]

    def open(self) -> ProjectorGroup:
        for p in self.projectors:
            p.open()
        return self

    @property
    def low_mark(self) -> int:
        """The lowest mark: the stream must start right after it."""
        return min(p.mark for p in self.projectors)

    @property
    def committed(self) -> int:
        """Every projector has committed at least this sequence."""
        return min(p.mark - p.pending for p in self.projectors)

    @property
    def pending(self) -> int:
        return max(p.pending for p in self.projectors)

    def apply(self, a: AppliedLike) -> None:
        for p in self.projectors:
            p.apply(a.seq, a.ts, a.command, a.events)

    def flush(self) -> None:
        for p in self.projectors:
            p.flush()

    def seal(self) -> Callable[[], None] | None:
        """Seal every projector's batch (see :meth:`Projector.seal`); return what commits
        them all, one transaction each, or None if none has anything new."""
        commits = [c for p in self.projectors if (c := p.seal()) is not None]
        if not commits:
            return None

        def commit() -> None:
            for c in commits:
                c()

        return commit

    def reload(self) -> None:
        """After a failed sealed commit: every projector back to its committed state."""
        for p in self.projectors:
            p.load()

    def analyze(self) -> None:
        """Refresh the statistics of the group's own tables."""
        self.store.analyze([t for p in self.projectors for t in p.tables])

    def run(self, stream: Iterable[AppliedLike], batch: int = DEFAULT_BATCH) -> int:
        """Project a finite stream; flush every ``batch`` commands and at the end."""
        n = 0
        for a in stream:
            self.apply(a)
            n += 1
            if self.pending >= batch:
                self.flush()
        self.flush()
        self.analyze()
        return n


def marks(store: Store) -> dict[str, tuple[int, int]]:
    """Every projector's committed (seq, ts), by name."""
    if not store.table_exists("projector_marks"):
        return {}
    rows = store.query("SELECT name, seq, ts FROM projector_marks ORDER BY name")
    return {str(n): (int(s), int(t)) for n, s, t in rows}
