"""Seeded command streams for tests, benchmarks and demos (not part of the engine).

Every generator is deterministic for a given seed, so a failing property or a benchmark figure can
be reproduced exactly. Commands come back unsequenced; :func:`sequence` stamps ``seq``/``ts`` the
way the journal's sequencer would.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from cambist.domain import commands as c
from cambist.domain.types import OrderType, SelfTradePrevention, Side, TimeInForce

UNIT = 10**8
"""Every asset of the standard set has 8 decimals."""


@dataclass(frozen=True, slots=True)
class MarketDef:
    name: str
    base: str
    quote: str
    tick: int
    lot: int
    mid: int
    band_bps: int = 0
    maker_fee_bps: int = 10
    taker_fee_bps: int = 20


STANDARD_MARKETS = (
    MarketDef("BTC-USD", "BTC", "USD", tick=10**6, lot=10**3, mid=65_000 * UNIT, band_bps=2_000),
    MarketDef("ETH-USD", "ETH", "USD", tick=10**6, lot=10**4, mid=3_000 * UNIT, band_bps=2_000),
    MarketDef("ETH-BTC", "ETH", "BTC", tick=10**3, lot=10**5, mid=5 * 10**6, maker_fee_bps=0),
)


def setup_commands(
    markets: Iterable[MarketDef] = STANDARD_MARKETS,
    accounts: int = 20,
    funds: int = 10**6,
) -> list[c.Command]:
    """Assets, markets, accounts 1..N and a deposit of ``funds`` whole units of every asset."""
    markets = list(markets)
    assets = sorted({m.base for m in markets} | {m.quote for m in markets})
    cmds: list[c.Command] = [c.CreateAsset(asset=a, scale=8) for a in assets]
    for m in markets:
        cmds.append(
            c.CreateMarket(
                market=m.name, base=m.base, quote=m.quote, tick=m.tick, lot=m.lot,
                min_quantity=m.lot, max_quantity=m.lot * 10**7, band_bps=m.band_bps,
                maker_fee_bps=m.maker_fee_bps, taker_fee_bps=m.taker_fee_bps,
            )
        )  # fmt: skip
    for account in range(1, accounts + 1):
        cmds.append(c.CreateAccount(account=account))
        for asset in assets:
            cmds.append(
                c.Deposit(
                    account=account,
                    asset=asset,
                    amount=funds * UNIT,
                    reference=f"d{account}{asset}",
                )
            )
    return cmds


def sequence(
    cmds: Iterable[c.Command], start: int = 1, ts0: int = 10**18, step: int = 1_000
) -> Iterator[c.Command]:
    """Stamp ``seq`` and ``ts`` in order, as the sequencer does."""
    for i, cmd in enumerate(cmds):
        cmd.seq = start + i
        cmd.ts = ts0 + (start + i) * step
        yield cmd


class RandomTrader:
    """A mixed random workload over several markets: every order type, TIF, STP mode, amend,
    cancel and cancel-all, plus deposits, withdrawals and halts, with prices around a drifting mid.

    It predicts order ids (an order's id is its command's seq), so cancels and amends mostly
    name live orders. ``first_seq`` must be the seq the first generated command will get.
    """

    def __init__(
        self, seed: int, markets: tuple[MarketDef, ...], accounts: int, first_seq: int
    ) -> None:
        self.rng = random.Random(seed)
        self.markets = markets
        self.accounts = accounts
        self.next_seq = first_seq
        self.mids = {m.name: m.mid for m in markets}
        self.recent: list[tuple[int, int, MarketDef]] = []
        """(order id, account, market) of recently placed orders."""

    def commands(self, count: int) -> list[c.Command]:
        return [self.one() for _ in range(count)]

    def one(self) -> c.Command:
        rng = self.rng
        seq = self.next_seq
        self.next_seq += 1
        roll = rng.random()
        account = rng.randint(1, self.accounts)
        if roll < 0.55 or not self.recent:
            return self._place(seq, account)
        if roll < 0.72:
            oid, acct, _ = rng.choice(self.recent)
            return c.CancelOrder(account=acct, order_id=oid)
        if roll < 0.88:
            oid, acct, m = rng.choice(self.recent[-60:])
            price = self._price(m) if rng.random() < 0.6 else 0
            quantity = m.lot * rng.randint(1, 50) if price == 0 or rng.random() < 0.5 else 0
            return c.AmendOrder(account=acct, order_id=oid, price=price, quantity=quantity)
        if roll < 0.90:
            market = rng.choice(self.markets).name if rng.random() < 0.5 else ""
            return c.CancelAll(account=account, market=market)
        if roll < 0.94:
            asset = rng.choice([m.base for m in self.markets] + [m.quote for m in self.markets])
            return c.Deposit(
                account=account,
                asset=asset,
                amount=rng.randint(1, 10**6) * 1000,
                reference=f"r{seq}",
            )
        if roll < 0.99:
            asset = rng.choice([m.base for m in self.markets])
            return c.Withdraw(
                account=account, asset=asset, amount=rng.randint(1, 10**9), reference=f"w{seq}"
            )
        return c.SetMarketStatus(market=rng.choice(self.markets).name, halted=rng.random() < 0.15)

    def _price(self, m: MarketDef) -> int:
        mid = self.mids[m.name]
        ticks = mid // m.tick
        drift = self.rng.randint(-2, 2)
        self.mids[m.name] = max(m.tick * 10, (ticks + drift) * m.tick)
        return max(m.tick, (ticks + self.rng.randint(-30, 30)) * m.tick)

    def _place(self, seq: int, account: int) -> c.PlaceOrder:
        rng = self.rng
        m = rng.choice(self.markets)
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        quantity = m.lot * rng.randint(1, 40)
        stp = rng.choice(list(SelfTradePrevention))
        kind = rng.random()
        self.recent.append((seq, account, m))
        if len(self.recent) > 400:
            del self.recent[:200]
        if kind < 0.70:
            tif = rng.choices(list(TimeInForce), weights=[70, 12, 8, 10])[0]
            expire = (10**18 + (seq + rng.randint(1, 200)) * 1_000) if tif is TimeInForce.GTD else 0
            return c.PlaceOrder(
                account=account, market=m.name, side=side, price=self._price(m), quantity=quantity,
                time_in_force=tif, expire_ts=expire, stp=stp,
                post_only=tif is TimeInForce.GTC and rng.random() < 0.1,
                client_order_id=f"c{seq}" if rng.random() < 0.2 else "",
            )  # fmt: skip
        if kind < 0.82:
            if side is Side.BUY and rng.random() < 0.4:
                budget = self.mids[m.name] * quantity // UNIT
                return c.PlaceOrder(
                    account=account,
                    market=m.name,
                    side=side,
                    order_type=OrderType.MARKET,
                    quote_quantity=max(budget, 1),
                    stp=stp,
                )
            return c.PlaceOrder(
                account=account,
                market=m.name,
                side=side,
                order_type=OrderType.MARKET,
                quantity=quantity,
                stp=stp,
            )
        offset = m.tick * rng.randint(1, 40)
        mid = self.mids[m.name]
        stop = mid + offset if side is Side.BUY else max(m.tick, mid - offset)
        if kind < 0.91:
            return c.PlaceOrder(
                account=account,
                market=m.name,
                side=side,
                order_type=OrderType.STOP_MARKET,
                stop_price=stop,
                quantity=quantity,
                stp=stp,
            )
        return c.PlaceOrder(
            account=account, market=m.name, side=side, order_type=OrderType.STOP_LIMIT,
            stop_price=stop, price=self._price(m), quantity=quantity, stp=stp,
        )  # fmt: skip
