"""The one table of legal order-status changes. Every status change in the engine goes through
:func:`check_transition`; an illegal one is a bug, so it raises and halts the engine."""

from __future__ import annotations

from cambist.domain.errors import IllegalTransition
from cambist.domain.types import OrderStatus

S = OrderStatus

TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PENDING_TRIGGER: frozenset({S.OPEN, S.CANCELLED, S.EXPIRED}),
    S.OPEN: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}),
    S.PARTIALLY_FILLED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}),
    S.FILLED: frozenset(),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
    S.REJECTED: frozenset(),
}

INITIAL: frozenset[OrderStatus] = frozenset({S.OPEN, S.PENDING_TRIGGER, S.REJECTED})
TERMINAL: frozenset[OrderStatus] = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)


def check_transition(current: OrderStatus, new: OrderStatus) -> OrderStatus:
    """Return ``new`` if ``current -> new`` is legal, else raise :class:`IllegalTransition`."""
    if new not in TRANSITIONS[current]:
        raise IllegalTransition(f"order status {current} -> {new} is not allowed")
    return new
