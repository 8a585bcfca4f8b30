"""The gateway's view folds events into the same balances, books and orders as the engine."""

from __future__ import annotations

import random
from dataclasses import dataclass

from cambist.domain import commands as c
from cambist.domain.engine import Engine
from cambist.domain.events import Event
from cambist.domain.types import OrderType, SelfTradePrevention, Side, TimeInForce
from cambist.gateways.rest.view import View, iso


@dataclass
class _Applied:
    seq: int
    ts: int
    command: c.Command
    events: list[Event]


class _Driver:
    def __init__(self) -> None:
        self.engine = Engine()
        self.view = View()
        self.seq = 0

    def run(self, cmd: c.Command) -> list[Event]:
        self.seq += 1
        cmd.seq, cmd.ts = self.seq, 1_000_000_000 * self.seq
        events = self.engine.apply(cmd)
        self.view.apply(_Applied(cmd.seq, cmd.ts, cmd, events))
        return events


def _setup(d: _Driver, accounts: int) -> None:
    d.run(c.CreateAsset(asset="BTC", scale=8))
    d.run(c.CreateAsset(asset="USD", scale=8))
    d.run(
        c.CreateMarket(
            market="BTC-USD",
            base="BTC",
            quote="USD",
            tick=1_000_000,
            lot=1_000,
            min_quantity=1_000,
            max_quantity=10**12,
            band_bps=2_000,
            maker_fee_bps=10,
            taker_fee_bps=20,
        )
    )
    for a in range(1, accounts + 1):
        d.run(c.CreateAccount(account=a))
        d.run(c.Deposit(account=a, asset="BTC", amount=10**10, reference=f"b{a}"))
        d.run(c.Deposit(account=a, asset="USD", amount=10**15, reference=f"u{a}"))


def _random_command(rng: random.Random, d: _Driver, accounts: int) -> c.Command:
    account = rng.randint(1, accounts)
    live = list(d.engine.account_orders.get(account, {}))
    roll = rng.random()
    if live and roll < 0.15:
        return c.CancelOrder(account=account, order_id=rng.choice(live))
    if live and roll < 0.25:
        return c.AmendOrder(
            account=account,
            order_id=rng.choice(live),
            price=rng.choice([0, rng.randint(95, 105) * 100_000_000]),
            quantity=rng.choice([0, rng.randint(1, 50) * 1_000]),
        )
    if roll < 0.27:
        return c.CancelAll(account=account, market="BTC-USD")
    side = rng.choice([Side.BUY, Side.SELL])
    kind = rng.choices(
        [OrderType.LIMIT, OrderType.MARKET, OrderType.STOP_LIMIT, OrderType.STOP_MARKET],
        [80, 10, 5, 5],
    )[0]
    price = rng.randint(95, 105) * 100_000_000
    qty = rng.randint(1, 50) * 1_000
    stp = rng.choice(list(SelfTradePrevention))
    if kind is OrderType.MARKET:
        if side is Side.BUY and rng.random() < 0.5:
            return c.PlaceOrder(
                account=account,
                market="BTC-USD",
                side=side,
                order_type=kind,
                time_in_force=TimeInForce.IOC,
                quote_quantity=rng.randint(1, 10**6) * 100,
                stp=stp,
            )
        return c.PlaceOrder(
            account=account,
            market="BTC-USD",
            side=side,
            order_type=kind,
            time_in_force=TimeInForce.IOC,
            quantity=qty,
            stp=stp,
        )
    if kind in (OrderType.STOP_LIMIT, OrderType.STOP_MARKET):
        stop = rng.randint(95, 105) * 100_000_000
        return c.PlaceOrder(
            account=account,
            market="BTC-USD",
            side=side,
            order_type=kind,
            price=price if kind is OrderType.STOP_LIMIT else 0,
            stop_price=stop,
            quantity=qty,
            time_in_force=TimeInForce.GTC,
            stp=stp,
        )
    tif = rng.choices(list(TimeInForce), [70, 10, 10, 10])[0]
    return c.PlaceOrder(
        account=account,
        market="BTC-USD",
        side=side,
        price=price,
        quantity=qty,
        time_in_force=tif,
        expire_ts=(d.seq + 5) * 1_000_000_000 if tif is TimeInForce.GTD else 0,
        post_only=rng.random() < 0.1 and tif is TimeInForce.GTC,
        stp=stp,
    )


def _assert_same(d: _Driver) -> None:
    engine, view = d.engine, d.view
    for account, balances in engine.wallets.accounts.items():
        for asset, bal in balances.items():
            assert view.balances[account].get(asset, [0, 0]) == [bal.available, bal.reserved], (
                account,
                asset,
            )
    ms = engine.markets["BTC-USD"]
    vm = view.markets["BTC-USD"]
    assert vm.depth(Side.BUY, 0) == ms.book.bids.depth(0)
    assert vm.depth(Side.SELL, 0) == ms.book.asks.depth(0)
    live = {oid for per in view.live.values() for oid in per}
    assert live == set(engine.orders)
    for oid, o in engine.orders.items():
        vo = view.orders[oid]
        assert (vo.status, vo.remaining, vo.filled, vo.reserved, vo.price) == (
            o.status,
            o.remaining,
            o.filled,
            o.reserved,
            o.price,
        )
    assert view.last_seq == engine.last_seq


def test_view_random_scenarios_match_engine_state() -> None:
    for seed in range(6):
        rng = random.Random(seed)
        d = _Driver()
        _setup(d, 4)
        for _ in range(1_500):
            d.run(_random_command(rng, d, 4))
            _assert_same(d)


def test_view_seeded_from_engine_then_folded_matches_engine() -> None:
    rng = random.Random(42)
    d = _Driver()
    _setup(d, 3)
    for _ in range(500):
        d.run(_random_command(rng, d, 3))
    d.view = View()
    d.view.seed(d.engine)
    _assert_same(d)
    for _ in range(500):
        d.run(_random_command(rng, d, 3))
        _assert_same(d)


def test_view_closed_orders_beyond_limit_are_forgotten() -> None:
    d = _Driver()
    d.view = View(keep_closed=5)
    _setup(d, 1)
    ids = []
    for _ in range(10):
        d.run(
            c.PlaceOrder(
                account=1, market="BTC-USD", side=Side.BUY, price=100 * 10**8, quantity=1_000
            )
        )
        ids.append(d.seq)
        d.run(c.CancelOrder(account=1, order_id=d.seq))
    assert [i for i in ids if i in d.view.orders] == ids[-5:]


def test_iso_nanoseconds_formats_microseconds_utc() -> None:
    assert iso(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456Z"
