"""Engine state as plain data: snapshot to bytes, restore, state hash, invariant checks.

The snapshot is canonical (sorted keys, live orders by id, each book level in queue order), so
the state hash is simply a digest of it: two engines hash equal exactly when a restore of one
would equal the other. JSON keeps it readable in ``cambist replay``; the log layer may wrap it.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from typing import TYPE_CHECKING, Any

from cambist.domain.errors import InvariantViolation
from cambist.domain.markets import Asset, Market
from cambist.domain.matching import MarketState
from cambist.domain.orders import Order
from cambist.domain.types import (
    MarketStatus,
    OrderStatus,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from cambist.domain.wallets import Balance

if TYPE_CHECKING:
    from cambist.domain.engine import Engine

SNAPSHOT_VERSION = 1

_ORDER_FIELDS = (
    "order_id", "account", "market", "side", "order_type", "time_in_force", "price", "quantity",
    "remaining", "quote_quantity", "stop_price", "expire_ts", "post_only", "client_order_id",
    "stp", "created_ts", "filled", "filled_quote", "reserved", "budget", "status",
)  # fmt: skip
_MARKET_FIELDS = (
    "name", "base", "quote", "base_unit", "tick", "lot", "min_quantity", "max_quantity",
    "min_notional", "band_bps", "maker_fee_bps", "taker_fee_bps",
)  # fmt: skip


def export_state(engine: Engine) -> dict[str, Any]:
    """Everything that determines the engine's future behaviour, as canonical plain data."""
    markets = []
    for name in sorted(engine.markets):
        ms = engine.markets[name]
        spec = ms.spec
        entry: dict[str, Any] = {f: getattr(spec, f) for f in _MARKET_FIELDS}
        entry.update(
            status=str(spec.status),
            last_price=ms.last_price,
            buy_stops=[oid for _, oid in ms.buy_stops],
            sell_stops=[oid for _, oid in ms.sell_stops],
            bids=[o.order_id for lvl in ms.book.bids.levels_best_first() for o in lvl.orders()],
            asks=[o.order_id for lvl in ms.book.asks.levels_best_first() for o in lvl.orders()],
        )
        markets.append(entry)
    accounts = [
        [account, [[a, b.available, b.reserved] for a, b in sorted(balances.items())]]
        for account, balances in sorted(engine.wallets.accounts.items())
    ]
    live = engine.orders
    orders = [_order_row(live[oid]) for oid in sorted(live)]
    expiries = sorted(
        (ts, oid)
        for ts, oid in engine.expiries
        if oid in engine.orders and engine.orders[oid].expire_ts == ts
    )
    return {
        "version": SNAPSHOT_VERSION,
        "last_seq": engine.last_seq,
        "last_ts": engine.last_ts,
        "next_trade_id": engine.next_trade_id,
        "assets": [[a.symbol, a.scale] for _, a in sorted(engine.assets.items())],
        "markets": markets,
        "accounts": accounts,
        "net_flow": dict(sorted(engine.wallets.net_flow.items())),
        "references": {k: list(v) for k, v in sorted(engine.wallets.references.items())},
        "orders": orders,
        "expiries": [list(e) for e in expiries],
    }


def _order_row(o: Order) -> list[object]:
    """One order as a row in :data:`_ORDER_FIELDS` order (StrEnums serialise as their text).

    Written out field by field: this runs once per open order, a million times for a large book.
    """
    return [
        o.order_id, o.account, o.market, o.side, o.order_type, o.time_in_force, o.price,
        o.quantity, o.remaining, o.quote_quantity, o.stop_price, o.expire_ts, o.post_only,
        o.client_order_id, o.stp, o.created_ts, o.filled, o.filled_quote, o.reserved, o.budget,
        o.status,
    ]  # fmt: skip


_SIDES = {m.value: m for m in Side}
_TYPES = {m.value: m for m in OrderType}
_TIFS = {m.value: m for m in TimeInForce}
_STPS = {m.value: m for m in SelfTradePrevention}
_STATUSES = {m.value: m for m in OrderStatus}
_BUDGETED_TYPES = (OrderType.MARKET, OrderType.STOP_MARKET)


def snapshot(engine: Engine) -> bytes:
    return json.dumps(export_state(engine), sort_keys=True, separators=(",", ":")).encode()


def state_hash(engine: Engine) -> str:
    return hashlib.blake2b(snapshot(engine), digest_size=16).hexdigest()


def restore(data: bytes) -> Engine:
    """Rebuild an engine from :func:`snapshot` bytes (the inverse of it, exactly)."""
    from cambist.domain.engine import Engine

    state = json.loads(data)
    if state.get("version") != SNAPSHOT_VERSION:
        raise ValueError(f"unsupported snapshot version {state.get('version')!r}")
    engine = Engine()
    engine.last_seq, engine.last_ts = state["last_seq"], state["last_ts"]
    engine.next_trade_id = state["next_trade_id"]
    for symbol, scale in state["assets"]:
        engine.assets[symbol] = Asset(symbol, scale)
    wallets = engine.wallets
    for account, balances in state["accounts"]:
        wallets.accounts[account] = {a: Balance(a, avail, res) for a, avail, res in balances}
        if account:
            engine.account_orders[account] = {}
            engine.client_ids[account] = {}
    for symbol in engine.assets:
        engine.fee_balances[symbol] = wallets.balance(0, symbol)
    wallets.net_flow = dict(state["net_flow"])
    wallets.references = {k: (v[0], v[1], v[2], v[3]) for k, v in state["references"].items()}
    specs: dict[str, Market] = {}
    for entry in state["markets"]:
        spec = specs[entry["name"]] = Market(**{f: entry[f] for f in _MARKET_FIELDS})
        spec.status = MarketStatus(entry["status"])
    for row in state["orders"]:
        if len(row) != len(_ORDER_FIELDS):
            raise ValueError(f"snapshot order row has {len(row)} fields, not {len(_ORDER_FIELDS)}")
        order = _restore_order(engine, specs, row)
        engine.orders[order.order_id] = order
        engine.account_orders[order.account][order.order_id] = order
        if order.client_order_id:
            engine.client_ids[order.account][order.client_order_id] = order.order_id
    for entry in state["markets"]:
        ms = MarketState(specs[entry["name"]])
        ms.last_price = entry["last_price"]
        for oid in entry["bids"]:
            ms.book.bids.append(engine.orders[oid])
        for oid in entry["asks"]:
            ms.book.asks.append(engine.orders[oid])
        ms.buy_stops = [(engine.orders[oid].stop_price, oid) for oid in entry["buy_stops"]]
        ms.sell_stops = [(-engine.orders[oid].stop_price, oid) for oid in entry["sell_stops"]]
        engine.markets[ms.spec.name] = ms
    engine.expiries = [(ts, oid) for ts, oid in state["expiries"]]
    heapq.heapify(engine.expiries)
    return engine


def _restore_order(engine: Engine, specs: dict[str, Market], row: list[Any]) -> Order:
    """Rebuild one order from its :func:`_order_row` (dict look-ups, not Enum calls: a restore of
    a million orders spends its time here)."""
    (order_id, account, market, side, order_type, tif, price, quantity, remaining,
     quote_quantity, stop_price, expire_ts, post_only, client_order_id, stp, created_ts, filled,
     filled_quote, reserved, budget, status) = row  # fmt: skip
    spec = specs[market]
    is_buy = side == "buy"
    balances = engine.wallets.accounts[account]
    base_bal, quote_bal = balances[spec.base], balances[spec.quote]
    order = Order(
        order_id, account, market, _SIDES[side], _TYPES[order_type], _TIFS[tif], price,
        quantity, quote_quantity, stop_price, expire_ts, post_only, client_order_id,
        _STPS[stp], created_ts, quote_bal if is_buy else base_bal,
        base_bal if is_buy else quote_bal,
    )  # fmt: skip
    order.remaining, order.filled, order.filled_quote = remaining, filled, filled_quote
    order.reserved, order.budget = reserved, budget
    order.budgeted = is_buy and order.order_type in _BUDGETED_TYPES
    order.status = _STATUSES[status]
    return order


def validate_invariants(engine: Engine) -> None:
    """Check every invariant; raise :class:`InvariantViolation` naming the first one broken."""
    problems = engine.wallets.conservation_problems()
    if problems:
        raise InvariantViolation("conservation: " + "; ".join(problems))
    held: dict[tuple[int, str], int] = {}
    for oid, order in engine.orders.items():
        ms = engine.markets[order.market]
        spec = ms.spec
        if order.order_id != oid or engine.account_orders[order.account].get(oid) is not order:
            raise InvariantViolation(f"order {oid}: registries disagree")
        if order.status is OrderStatus.PENDING_TRIGGER:
            stops = ms.buy_stops if order.is_buy else ms.sell_stops
            key = (order.stop_price if order.is_buy else -order.stop_price, oid)
            if key not in stops or order.level is not None:
                raise InvariantViolation(f"order {oid}: pending stop not in the stop list")
        elif order.level is None or order.status not in (
            OrderStatus.OPEN,
            OrderStatus.PARTIALLY_FILLED,
        ):
            raise InvariantViolation(f"order {oid}: live but not resting ({order.status})")
        if order.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
            expected = (
                spec.notional(order.price, order.remaining) if order.is_buy else order.remaining
            )
        elif order.is_buy:
            expected = order.budget
        else:
            expected = order.remaining
        if order.reserved != expected:
            raise InvariantViolation(f"order {oid}: reserves {order.reserved}, needs {expected}")
        asset = order.spend.asset
        held[(order.account, asset)] = held.get((order.account, asset), 0) + order.reserved
    for account, balances in engine.wallets.accounts.items():
        for asset, bal in balances.items():
            if bal.reserved != held.get((account, asset), 0):
                raise InvariantViolation(
                    f"account {account} {asset}: reserved {bal.reserved} but open orders "
                    f"hold {held.get((account, asset), 0)}"
                )
    resting = 0
    for ms in engine.markets.values():
        ms.book.validate_invariants()
        for side in (ms.book.bids, ms.book.asks):
            for level in side.levels.values():
                for order in level.orders():
                    resting += 1
                    if engine.orders.get(order.order_id) is not order:
                        raise InvariantViolation(f"order {order.order_id} rests but is not live")
    pending = sum(len(ms.buy_stops) + len(ms.sell_stops) for ms in engine.markets.values())
    if resting + pending != len(engine.orders):
        raise InvariantViolation("live orders != resting orders + pending stops")
