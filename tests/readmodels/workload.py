"""A seeded random workload folded through the engine, and independent answers from its events."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from typing import Any

from cambist.domain import events as ev
from cambist.domain.commands import Command
from cambist.domain.engine import Engine
from cambist.readmodels.store import Store
from cambist.workloads import STANDARD_MARKETS, RandomTrader, sequence, setup_commands

STEP_NS = 3 * 10**9
"""Three seconds between commands: a few thousand commands span hours, so every candle size
gets several buckets."""


@dataclass(slots=True)
class Applied:
    seq: int
    ts: int
    command: Command
    events: list[ev.Event]


def commands(n: int, seed: int = 7, accounts: int = 12) -> list[Command]:
    setup = setup_commands(accounts=accounts)
    trader = RandomTrader(seed, STANDARD_MARKETS, accounts, first_seq=len(setup) + 1)
    return list(sequence([*setup, *trader.commands(n)], step=STEP_NS))


@cache
def workload(n: int = 3000, seed: int = 7) -> tuple[tuple[Applied, ...], Engine]:
    """Applied commands and the engine after them (cached: tests must not mutate them)."""
    engine = Engine()
    out = [Applied(c.seq, c.ts, c, engine.apply(c)) for c in commands(n, seed)]
    return tuple(out), engine


def dump(store: Store, table: str) -> list[tuple[Any, ...]]:
    """Every row, sorted, with values normalised (PostgreSQL and SQLite return equal rows)."""
    rows = store.query(f"SELECT * FROM {table}")
    return sorted(tuple(int(v) if isinstance(v, bool) else v for v in r) for r in rows)


def engine_balances(engine: Engine) -> dict[tuple[int, str], tuple[int, int]]:
    out = {}
    for account, balances in engine.wallets.accounts.items():
        for asset, bal in balances.items():
            if bal.available or bal.reserved:
                out[(account, asset)] = (bal.available, bal.reserved)
    return out


def expected_trades(applied: tuple[Applied, ...]) -> list[tuple[Any, ...]]:
    return [
        (e.trade_id, e.market, e.price, e.quantity, e.quote_amount, e.taker_side.value, a.ts, a.seq)
        for a in applied
        for e in a.events
        if isinstance(e, ev.Trade)
    ]


def expected_candles(applied: tuple[Applied, ...], span_s: int) -> dict[tuple[str, int], list[int]]:
    """OHLCV per (market, bucket start) by grouping the trades (a different path from the
    projector's merge-and-upsert)."""
    groups: dict[tuple[str, int], list[tuple[int, int, int]]] = defaultdict(list)
    for a in applied:
        for e in a.events:
            if isinstance(e, ev.Trade):
                start = a.ts - a.ts % (span_s * 10**9)
                groups[(e.market, start)].append((e.price, e.quantity, e.quote_amount))
    return {
        k: [
            v[0][0],
            max(p for p, _, _ in v),
            min(p for p, _, _ in v),
            v[-1][0],
            sum(q for _, q, _ in v),
            sum(c for _, _, c in v),
            len(v),
        ]
        for k, v in groups.items()
    }


def final_order_states(applied: tuple[Applied, ...]) -> dict[int, str]:
    """Order id -> the status its last event implies (filled orders: by their fills)."""
    status: dict[int, str] = {}
    for a in applied:
        for e in a.events:
            if isinstance(e, ev.OrderAccepted):
                status[e.order_id] = e.status.value
            elif isinstance(e, ev.CommandRejected) and e.command == "place":
                status[e.order_id] = "rejected"
            elif isinstance(e, ev.Trade):
                for oid, rem in (
                    (e.taker_order_id, e.taker_remaining),
                    (e.maker_order_id, e.maker_remaining),
                ):
                    status[oid] = "filled" if rem == 0 else "partially_filled"
            elif isinstance(e, ev.OrderCancelled):
                status[e.order_id] = "cancelled"
            elif isinstance(e, ev.OrderExpired):
                status[e.order_id] = "expired"
            elif isinstance(e, ev.OrderTriggered):
                status[e.order_id] = "open"
            elif isinstance(e, ev.ReservationReleased):
                status[e.order_id] = "filled"
    return status
