"""The engine against :mod:`reference_book` on long random workloads: same trades, same book."""

from __future__ import annotations

import random

import pytest

from cambist.domain import commands as c
from cambist.domain.engine import Engine
from cambist.domain.events import OrderAmended, Trade
from cambist.domain.types import Side, TimeInForce
from cambist.workloads import MarketDef, sequence, setup_commands
from tests.domain.reference_book import RefBook

MARKET = MarketDef("BTC-USD", "BTC", "USD", tick=10**6, lot=10**3, mid=65_000 * 10**8)


def engine_levels(engine: Engine, is_buy: bool) -> list[tuple[int, int, int]]:
    side = engine.markets["BTC-USD"].book.bids if is_buy else engine.markets["BTC-USD"].book.asks
    return [
        (o.price, o.order_id, o.remaining) for lvl in side.levels_best_first() for o in lvl.orders()
    ]


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_engine_matches_reference_book_trades_and_final_book(seed: int) -> None:
    rng = random.Random(seed)
    setup = setup_commands([MARKET], accounts=30, funds=10**7)
    engine = Engine()
    for cmd in sequence(setup):
        engine.apply(cmd)
    ref = RefBook()
    seq = len(setup)
    engine_trades: list[tuple[int, int, int, int]] = []
    live: list[int] = []
    for _ in range(20_000):
        seq += 1
        roll = rng.random()
        if roll < 0.6 or not live:
            account = rng.randint(1, 30)
            is_buy = rng.random() < 0.5
            price = MARKET.mid + rng.randint(-25, 25) * MARKET.tick
            qty = rng.randint(1, 20) * MARKET.lot
            ioc = rng.random() < 0.15
            cmd: c.Command = c.PlaceOrder(
                account=account, market="BTC-USD", side=Side.BUY if is_buy else Side.SELL,
                price=price, quantity=qty, time_in_force=TimeInForce.IOC if ioc else TimeInForce.GTC,
            )  # fmt: skip
            ref.place(seq, account, is_buy, price, qty, ioc)
            live.append(seq)
        elif roll < 0.8:
            oid = rng.choice(live)
            order = engine.orders.get(oid)
            cmd = c.CancelOrder(account=order.account if order else 1, order_id=oid)
            ref.cancel(oid)
        else:
            oid = rng.choice(live)
            order = engine.orders.get(oid)
            if order is None:  # already gone: both sides must reject/ignore a cancel of it
                live.remove(oid)
                cmd = c.CancelOrder(account=1, order_id=oid)
            else:
                new_price = (
                    order.price + rng.randint(-3, 3) * MARKET.tick if rng.random() < 0.7 else 0
                )
                new_qty = order.filled + rng.randint(1, 20) * MARKET.lot
                cmd = c.AmendOrder(
                    account=order.account, order_id=oid, price=new_price, quantity=new_qty
                )
                target_price = new_price or order.price
                if target_price != order.price or new_qty != order.quantity:
                    ref.amend(oid, target_price, new_qty - order.filled)
        cmd.seq, cmd.ts = seq, 10**18 + seq
        for event in engine.apply(cmd):
            if isinstance(event, Trade):
                engine_trades.append(
                    (event.taker_order_id, event.maker_order_id, event.price, event.quantity)
                )
            assert not (isinstance(event, OrderAmended) and event.reason != "user")
        if len(live) > 500:
            live = [oid for oid in live if oid in engine.orders]
    engine.validate_invariants()
    assert engine_trades == ref.trades
    assert engine_levels(engine, True) == ref.levels(True)
    assert engine_levels(engine, False) == ref.levels(False)
