"""Invariants over random command streams (hypothesis): 3 markets, 20 accounts.

After every command: per-asset conservation, no crossed book, each account's reserved balance
equals what its open orders hold (all inside ``validate_invariants``). Over a whole stream: replay
gives the same state hash, and snapshot -> restore -> continue equals never stopping.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cambist.domain import commands as c
from cambist.domain.engine import Engine
from cambist.domain.events import Event
from cambist.domain.types import OrderType, SelfTradePrevention, Side, TimeInForce
from cambist.workloads import STANDARD_MARKETS, RandomTrader, sequence, setup_commands

ACCOUNTS = 20
SETUP = setup_commands(STANDARD_MARKETS, accounts=ACCOUNTS, funds=1_000)
TS0 = 10**18

step = st.tuples(
    st.integers(0, 9),  # operation
    st.integers(1, ACCOUNTS),  # account
    st.integers(0, len(STANDARD_MARKETS) - 1),  # market
    st.booleans(),  # buy?
    st.integers(-12, 12),  # price offset in ticks from the market's mid
    st.integers(1, 30),  # quantity in lots
    st.integers(0, 3),  # time in force / order-type variant
    st.integers(0, 3),  # STP mode
    st.integers(0, 10**6),  # which earlier order a cancel/amend names
)


def build(steps: list[tuple[int, ...]]) -> list[c.Command]:
    """Turn drawn tuples into commands; cancels and amends name orders placed earlier."""
    cmds: list[c.Command] = setup_commands(STANDARD_MARKETS, accounts=ACCOUNTS, funds=1_000)
    placed: list[tuple[int, int]] = []
    for op, account, mi, buy, offset, lots, variant, stp_i, target in steps:
        m = STANDARD_MARKETS[mi]
        seq = len(cmds) + 1
        side = Side.BUY if buy else Side.SELL
        price = m.mid + offset * m.tick
        qty = lots * m.lot
        stp = list(SelfTradePrevention)[stp_i]
        if op <= 4 or not placed:
            tif = list(TimeInForce)[variant]
            expire = TS0 + (seq + 5) * 1_000 if tif is TimeInForce.GTD else 0
            cmd: c.Command = c.PlaceOrder(
                account=account, market=m.name, side=side, price=price, quantity=qty,
                time_in_force=tif, expire_ts=expire, stp=stp, post_only=(op == 4 and variant == 0),
            )  # fmt: skip
            placed.append((seq, account))
        elif op == 5:
            order_type = OrderType.STOP_LIMIT if variant < 2 else OrderType.STOP_MARKET
            stop = m.mid + (abs(offset) + 1) * m.tick * (1 if buy else -1)
            cmd = c.PlaceOrder(
                account=account, market=m.name, side=side, order_type=order_type, stop_price=stop,
                price=price if order_type is OrderType.STOP_LIMIT else 0, quantity=qty, stp=stp,
            )  # fmt: skip
            placed.append((seq, account))
        elif op == 6:
            quote = qty * m.mid // 10**8 if buy and variant == 0 else 0
            cmd = c.PlaceOrder(
                account=account, market=m.name, side=side, order_type=OrderType.MARKET,
                quantity=0 if quote else qty, quote_quantity=quote, stp=stp,
            )  # fmt: skip
        elif op == 7:
            oid, acct = placed[target % len(placed)]
            cmd = c.CancelOrder(account=acct, order_id=oid)
        elif op == 8:
            oid, acct = placed[target % len(placed)]
            cmd = c.AmendOrder(
                account=acct, order_id=oid, price=price if variant < 2 else 0,
                quantity=qty if variant != 1 else 0,
            )  # fmt: skip
        else:
            cmd = c.CancelAll(account=account, market=m.name if variant < 2 else "")
        cmds.append(cmd)
    return list(sequence(cmds, ts0=TS0))


def run(cmds: list[c.Command], check_every: int = 1) -> tuple[Engine, list[list[Event]]]:
    engine = Engine()
    out = []
    for i, cmd in enumerate(cmds):
        out.append(engine.apply(cmd))
        if check_every and i % check_every == 0:
            engine.validate_invariants()
    engine.validate_invariants()
    return engine, out


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.lists(step, min_size=1, max_size=120))
def test_engine_random_stream_invariants_hold_after_every_command(
    steps: list[tuple[int, ...]],
) -> None:
    run(build(steps))


@SETTINGS
@given(st.lists(step, min_size=1, max_size=120))
def test_engine_replay_same_commands_same_state_hash_and_events(
    steps: list[tuple[int, ...]],
) -> None:
    first, events_a = run(build(steps), check_every=0)
    second, events_b = run(build(steps), check_every=0)
    assert first.state_hash() == second.state_hash()
    assert events_a == events_b


@SETTINGS
@given(st.lists(step, min_size=2, max_size=120), st.floats(0.0, 1.0))
def test_engine_snapshot_restore_continue_equals_never_stopping(
    steps: list[tuple[int, ...]], cut_fraction: float
) -> None:
    cmds = build(steps)
    cut = len(SETUP) + int(cut_fraction * (len(cmds) - len(SETUP)))
    straight, straight_events = run(cmds, check_every=0)
    head = Engine()
    for cmd in cmds[:cut]:
        head.apply(cmd)
    resumed = Engine.restore(head.snapshot())
    assert resumed.state_hash() == head.state_hash()
    resumed_events = [resumed.apply(cmd) for cmd in cmds[cut:]]
    resumed.validate_invariants()
    assert resumed.state_hash() == straight.state_hash()
    assert resumed_events == straight_events[cut:]


def test_engine_long_seeded_workload_keeps_invariants_and_replays() -> None:
    setup = setup_commands(STANDARD_MARKETS, accounts=ACCOUNTS)
    trader = RandomTrader(20261122, STANDARD_MARKETS, ACCOUNTS, first_seq=len(setup) + 1)
    cmds = list(sequence(setup + trader.commands(30_000)))
    engine, _ = run(cmds, check_every=500)
    replayed, _ = run(cmds, check_every=0)
    assert engine.state_hash() == replayed.state_hash()
    middle = Engine()
    for cmd in cmds[:15_000]:
        middle.apply(cmd)
    resumed = Engine.restore(middle.snapshot())
    for cmd in cmds[15_000:]:
        resumed.apply(cmd)
    assert resumed.state_hash() == engine.state_hash()


def test_engine_duplicate_delivery_is_ignored() -> None:
    cmds = build([(0, 1, 0, True, 0, 3, 0, 0, 0), (0, 2, 0, False, 0, 3, 0, 0, 0)])
    engine, _ = run(cmds)
    before = engine.state_hash()
    assert engine.apply(cmds[-1]) == []
    assert engine.state_hash() == before


def test_engine_amounts_beyond_64_bits_rejected_not_accepted() -> None:
    huge = 2**64
    cmds = build([(0, 1, 0, True, 0, 3, 0, 0, 0)])
    engine, _ = run(cmds)
    seq = cmds[-1].seq
    probes: list[c.Command] = [
        c.Deposit(account=1, asset="USD", amount=huge, reference="big"),
        c.PlaceOrder(account=1, market="BTC-USD", side=Side.BUY, price=huge, quantity=10**3),
        c.PlaceOrder(
            account=1, market="BTC-USD", side=Side.BUY, order_type=OrderType.MARKET,
            quote_quantity=huge,
        ),
        c.AmendOrder(account=1, order_id=seq, price=huge),
    ]  # fmt: skip
    for i, cmd in enumerate(probes, start=1):
        cmd.seq, cmd.ts = seq + i, TS0 + (seq + i) * 1_000
        (event,) = engine.apply(cmd)
        assert type(event).__name__ == "CommandRejected", event
    engine.validate_invariants()
