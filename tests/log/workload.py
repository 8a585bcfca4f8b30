"""A deterministic trading workload for journal tests: reference data, funded accounts, orders."""

from __future__ import annotations

import random

from cambist.domain import commands as c
from cambist.domain.types import OrderType, Side, TimeInForce

MARKET = "BTC-USD"
ACCOUNTS = range(1, 11)


def setup_commands() -> list[c.Command]:
    cmds: list[c.Command] = [
        c.CreateAsset(asset="BTC", scale=8),
        c.CreateAsset(asset="USD", scale=2),
        c.CreateMarket(
            market=MARKET,
            base="BTC",
            quote="USD",
            tick=100,
            lot=1_000_000,
            min_quantity=1_000_000,
            max_quantity=10**12,
            taker_fee_bps=10,
            maker_fee_bps=5,
        ),
    ]
    for a in ACCOUNTS:
        cmds += [
            c.CreateAccount(account=a),
            c.Deposit(account=a, asset="BTC", amount=10**12, reference=f"btc-{a}"),
            c.Deposit(account=a, asset="USD", amount=10**12, reference=f"usd-{a}"),
        ]
    return cmds


def random_orders(rng: random.Random, n: int, tag: str = "") -> list[c.Command]:
    """Limit orders around 50,000.00 that cross often, some cancels and IOCs."""
    out: list[c.Command] = []
    for i in range(n):
        account = rng.choice(ACCOUNTS)
        roll = rng.random()
        if roll < 0.1:
            out.append(c.CancelAll(account=account, market=MARKET))
            continue
        out.append(
            c.PlaceOrder(
                account=account,
                market=MARKET,
                side=rng.choice([Side.BUY, Side.SELL]),
                order_type=OrderType.LIMIT,
                time_in_force=TimeInForce.IOC if roll < 0.2 else TimeInForce.GTC,
                price=rng.randint(4_990_000, 5_010_000) // 100 * 100,
                quantity=rng.randint(1, 20) * 1_000_000,
                client_order_id=f"{tag}{i}",
            )
        )
    return out
