"""The engine's exceptions. Each means a bug (a broken invariant), never a user mistake: those are
:class:`~cambist.domain.reasons.Reject` values. Kept in their own module so a mypyc build of the
domain can leave them as ordinary Python classes (mypyc cannot subclass builtin exceptions)."""

from __future__ import annotations


class EngineHalted(RuntimeError):
    """The engine hit a bug earlier and refuses to go on; restart it from the log."""


class InvariantViolation(AssertionError):
    """A broken engine invariant: conservation, reservations, book shape or bookkeeping."""


class BookInvariantError(InvariantViolation):
    """The book's structure is inconsistent."""


class IllegalTransition(InvariantViolation):
    """An order status change outside the transition table."""
