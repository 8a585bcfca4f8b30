"""The gateway's live view: what it serves without a database, folded from the engine's events.

Book depth, balances, live orders and an order's current state change with every command, so a
read model in SQL would always lag; instead the gateway folds the same events the engine emits
into plain dictionaries and answers from them. The fold mirrors the engine's settlement rules
(see :class:`~cambist.domain.events.Trade`), and a test checks that balances and books folded
here equal the engine's own after random scenarios.

On start the view is seeded from the engine's recovered state (:meth:`View.seed`), then every
applied command is folded in log order. Closed orders are kept for a bounded while (the SQL
history of the read-models layer answers beyond that); live orders are always here.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from cambist.domain import events as ev
from cambist.domain.commands import Command, PlaceOrder
from cambist.domain.types import MarketStatus, OrderStatus, OrderType, Side

_LIMIT_TYPES = (OrderType.LIMIT, OrderType.STOP_LIMIT)
_BOOKABLE = (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)
_TERMINAL = (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED)
FEE_ACCOUNT = 0
MINUTE_NS = 60_000_000_000


class AppliedLike(Protocol):
    """What the node publishes per command (``cambist.node.Applied``)."""

    seq: int
    ts: int
    command: Command
    events: list[ev.Event]


_iso_cache: dict[int, str] = {}
_iso_last: list[tuple[int, str]] = [(-1, "")]


def iso(ts_ns: int) -> str:
    """RFC 3339 UTC with microseconds, from integer nanoseconds (no float on the way).

    The last answer is remembered: every command of one group commit has the same ``ts``, so the
    answers of a batch ask for the same text in a row.
    """
    last = _iso_last[0]
    if ts_ns == last[0]:
        return last[1]
    sec, frac = divmod(ts_ns, 1_000_000_000)
    head = _iso_cache.get(sec)
    if head is None:
        if len(_iso_cache) > 4096:
            _iso_cache.clear()
        head = _iso_cache[sec] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    text = head + "." + str(1_000_000 + frac // 1000)[1:] + "Z"  # not a format spec: 5x dearer
    _iso_last[0] = (ts_ns, text)
    return text


class FillRec:
    """One side of a trade, as its order's owner sees it."""

    __slots__ = (
        "fee", "fee_asset", "liquidity", "market", "order_id", "price", "quantity", "seq",
        "side", "trade_id", "ts",
    )  # fmt: skip

    def __init__(
        self, trade_id: int, order_id: int, market: str, side: Side, price: int,
        quantity: int, fee: int, fee_asset: str, liquidity: str, ts: int, seq: int,
    ) -> None:  # fmt: skip
        self.trade_id, self.order_id, self.market, self.side = trade_id, order_id, market, side
        self.price, self.quantity, self.fee, self.fee_asset = price, quantity, fee, fee_asset
        self.liquidity, self.ts, self.seq = liquidity, ts, seq


class OrderState:
    """An order as the gateway shows it; ``booked`` is what it contributes to the depth now."""

    __slots__ = (
        "account",
        "booked",
        "booked_price",
        "client_order_id",
        "created_ts",
        "expire_ts",
        "filled",
        "filled_quote",
        "fills",
        "market",
        "order_id",
        "order_type",
        "post_only",
        "price",
        "quantity",
        "quote_quantity",
        "reason",
        "remaining",
        "reserved",
        "seq",
        "side",
        "spend",
        "status",
        "stop_price",
        "time_in_force",
        "updated_ts",
    )  # fmt: skip

    def __init__(self, cmd: PlaceOrder, ts: int, status: OrderStatus) -> None:
        self.order_id = cmd.seq
        self.account = cmd.account
        self.market = cmd.market
        self.side = cmd.side
        self.order_type = cmd.order_type
        self.time_in_force = cmd.time_in_force
        self.price = cmd.price
        self.stop_price = cmd.stop_price
        self.quantity = cmd.quantity
        self.quote_quantity = cmd.quote_quantity
        self.expire_ts = cmd.expire_ts
        self.post_only = cmd.post_only
        self.client_order_id = cmd.client_order_id
        self.remaining = cmd.quantity
        self.filled = 0
        self.filled_quote = 0
        self.reserved = 0
        self.status = status
        self.reason = ""
        self.created_ts = self.updated_ts = ts
        self.seq = cmd.seq
        self.booked = 0
        self.booked_price = 0
        self.spend = ""
        """The asset this order holds (quote for a buy, base for a sell), once looked up."""
        self.fills: list[FillRec] | None = None
        """Its fills, once it has one: most orders rest unfilled, and an empty list per order
        was a third of what every young garbage collection walked (measured under order load:
        OrderState, its list and the engine's Order survive each collection)."""

    @property
    def live(self) -> bool:
        return self.status not in _TERMINAL


@dataclass(slots=True)
class PublicTrade:
    trade_id: int
    market: str
    price: int
    quantity: int
    quote_amount: int
    taker_side: Side
    ts: int
    seq: int


@dataclass(slots=True, kw_only=True)
class MarketView:
    name: str
    base: str
    quote: str
    tick: int
    lot: int
    min_quantity: int
    max_quantity: int
    min_notional: int
    band_bps: int
    maker_fee_bps: int
    taker_fee_bps: int
    status: MarketStatus = MarketStatus.OPEN
    bids: dict[int, int] | None = None
    asks: dict[int, int] | None = None
    last_price: int = 0
    seq: int = 0
    trades: deque[PublicTrade] | None = None
    minutes: dict[int, list[int]] | None = None
    """Minute start (ns) -> [open, high, low, close, volume, quote volume] over the last day."""

    def __post_init__(self) -> None:
        self.bids, self.asks = {}, {}
        self.trades = deque(maxlen=10_000)
        self.minutes = {}

    def depth(self, side: Side, limit: int) -> list[tuple[int, int]]:
        levels = self.bids if side is Side.BUY else self.asks
        assert levels is not None
        prices = sorted(levels, reverse=side is Side.BUY)
        if limit > 0:
            prices = prices[:limit]
        return [(p, levels[p]) for p in prices]

    def best(self, side: Side) -> int:
        levels = self.bids if side is Side.BUY else self.asks
        assert levels is not None
        if not levels:
            return 0
        return max(levels) if side is Side.BUY else min(levels)


class View:
    """Reference data, balances, books and orders, folded from applied commands in log order."""

    def __init__(self, *, keep_closed: int = 200_000, keep_account_closed: int = 1_000) -> None:
        self.assets: dict[str, int] = {}
        self.markets: dict[str, MarketView] = {}
        self.balances: dict[int, dict[str, list[int]]] = {FEE_ACCOUNT: {}}
        self.orders: dict[int, OrderState] = {}
        self.live: dict[int, dict[int, OrderState]] = {}
        """Account -> its live orders by id."""
        self.closed: deque[OrderState] = deque()
        self.account_closed: dict[int, deque[OrderState]] = {}
        self.account_fills: dict[int, deque[FillRec]] = {}
        self.client_ids: dict[tuple[int, str], int] = {}
        """(account, client order id) -> the latest order that used it."""
        self.references: dict[str, int] = {}
        self.keep_closed = keep_closed
        self.keep_account_closed = keep_account_closed
        self.last_seq = 0
        self.last_ts = 0
        self.live_count = 0
        self._takers: list[OrderState] = []

    # -- seeding from recovered engine state ------------------------------------------------

    def seed(self, engine: Any) -> None:
        """Start from a recovered engine's state (its public attributes, read once).

        What happened before the engine's snapshot and is not live any more (closed orders,
        public trades) is not recoverable from engine state; the read models serve it.
        """
        for symbol, asset in engine.assets.items():
            self.assets[symbol] = asset.scale
        for name, ms in engine.markets.items():
            s = ms.spec
            self.markets[name] = MarketView(
                name=name, base=s.base, quote=s.quote, tick=s.tick, lot=s.lot,
                min_quantity=s.min_quantity, max_quantity=s.max_quantity,
                min_notional=s.min_notional, band_bps=s.band_bps, maker_fee_bps=s.maker_fee_bps,
                taker_fee_bps=s.taker_fee_bps, status=s.status, last_price=ms.last_price,
            )  # fmt: skip
        for account, balances in engine.wallets.accounts.items():
            self.balances[account] = {a: [b.available, b.reserved] for a, b in balances.items()}
            if account != FEE_ACCOUNT:
                self.live.setdefault(account, {})
        for reference in engine.wallets.references:
            self.references[reference] = 0
        for order_id in sorted(engine.orders):
            o = engine.orders[order_id]
            cmd = PlaceOrder(
                seq=o.order_id, account=o.account, market=o.market, side=o.side,
                order_type=o.order_type, time_in_force=o.time_in_force, price=o.price,
                quantity=o.quantity, quote_quantity=o.quote_quantity, stop_price=o.stop_price,
                expire_ts=o.expire_ts, post_only=o.post_only, client_order_id=o.client_order_id,
                stp=o.stp,
            )  # fmt: skip
            st = OrderState(cmd, o.created_ts, o.status)
            st.remaining, st.filled, st.filled_quote = o.remaining, o.filled, o.filled_quote
            st.reserved = o.reserved
            self._add_live(st)
            self._rebook(st)
        self.last_seq = engine.last_seq
        self.last_ts = engine.last_ts

    # -- the fold -----------------------------------------------------------------------------

    def apply(self, applied: AppliedLike) -> None:
        """Fold one applied command; duplicates (at or below the last seq) are ignored."""
        seq = applied.seq
        if seq <= self.last_seq:
            return
        ts = applied.ts
        for event in applied.events:
            # The events of order entry are folded by direct (native) calls; the table's
            # generic calls cost ~1.7k instructions each compiled (callgrind).
            if isinstance(event, ev.OrderAccepted):
                self._on_accepted(event, applied, seq, ts)
            elif isinstance(event, ev.Trade):
                self._on_trade(event, applied, seq, ts)
            elif isinstance(event, ev.OrderCancelled):
                self._on_cancelled(event, applied, seq, ts)
            else:
                handler = _HANDLERS.get(type(event))
                if handler is not None:
                    handler(self, event, applied, seq, ts)
        if self._takers:
            # A market order never rests: one still live after its command filled completely
            # (its budget ran out exactly, so the engine had nothing left to release).
            for o in self._takers:
                if o.live and o.status is not OrderStatus.PENDING_TRIGGER:
                    o.status = OrderStatus.FILLED
                    self._rebook(o)
                    self._close(o)
            self._takers.clear()
        self.last_seq = seq
        self.last_ts = ts

    def apply_all(self, applied: Iterable[AppliedLike]) -> None:
        for a in applied:
            self.apply(a)

    def _balance(self, account: int, asset: str) -> list[int]:
        balances = self.balances.get(account)
        if balances is None:
            balances = self.balances[account] = {}
        bal = balances.get(asset)
        if bal is None:
            bal = balances[asset] = [0, 0]
        return bal

    def _spend_asset(self, o: OrderState) -> str:
        spend = o.spend
        if not spend:
            m = self.markets[o.market]
            spend = o.spend = m.quote if o.side is Side.BUY else m.base
        return spend

    def _add_live(self, o: OrderState) -> None:
        self.orders[o.order_id] = o
        self.live.setdefault(o.account, {})[o.order_id] = o
        self.live_count += 1
        if o.client_order_id:
            self.client_ids[(o.account, o.client_order_id)] = o.order_id

    def _close(self, o: OrderState) -> None:
        live = self.live.get(o.account)
        if live is not None and live.pop(o.order_id, None) is not None:
            self.live_count -= 1
        self._remember_closed(o)

    def _remember_closed(self, o: OrderState) -> None:
        self.orders[o.order_id] = o
        self.closed.append(o)
        per_account = self.account_closed.get(o.account)
        if per_account is None:
            per_account = self.account_closed[o.account] = deque(maxlen=self.keep_account_closed)
        per_account.append(o)
        while len(self.closed) > self.keep_closed:
            old = self.closed.popleft()
            if self.orders.get(old.order_id) is old and not old.live:
                del self.orders[old.order_id]
                key = (old.account, old.client_order_id)
                if old.client_order_id and self.client_ids.get(key) == old.order_id:
                    del self.client_ids[key]

    def _rebook(self, o: OrderState) -> None:
        """Make the order's contribution to its book side match its state."""
        want = (
            o.remaining
            if o.order_type in _LIMIT_TYPES and o.status in _BOOKABLE and o.remaining > 0
            else 0
        )
        if want == o.booked and (want == 0 or o.price == o.booked_price):
            return
        m = self.markets[o.market]
        levels = m.bids if o.side is Side.BUY else m.asks
        assert levels is not None
        if o.booked:
            left = levels[o.booked_price] - o.booked
            if left:
                levels[o.booked_price] = left
            else:
                del levels[o.booked_price]
        if want:
            levels[o.price] = levels.get(o.price, 0) + want
        o.booked, o.booked_price = want, o.price

    def _release(self, o: OrderState, amount: int) -> None:
        if amount:
            bal = self._balance(o.account, self._spend_asset(o))
            bal[0] += amount
            bal[1] -= amount
            o.reserved -= amount

    def _touch(self, o: OrderState, seq: int, ts: int) -> None:
        o.seq, o.updated_ts = seq, ts
        self.markets[o.market].seq = seq

    # -- event handlers -----------------------------------------------------------------------

    def _on_asset(self, e: ev.AssetCreated, a: AppliedLike, seq: int, ts: int) -> None:
        self.assets[e.asset] = e.scale

    def _on_market(self, e: ev.MarketCreated, a: AppliedLike, seq: int, ts: int) -> None:
        self.markets[e.market] = MarketView(
            name=e.market, base=e.base, quote=e.quote, tick=e.tick, lot=e.lot,
            min_quantity=e.min_quantity, max_quantity=e.max_quantity,
            min_notional=e.min_notional, band_bps=e.band_bps, maker_fee_bps=e.maker_fee_bps,
            taker_fee_bps=e.taker_fee_bps, seq=seq,
        )  # fmt: skip

    def _on_status(self, e: ev.MarketStatusChanged, a: AppliedLike, seq: int, ts: int) -> None:
        m = self.markets[e.market]
        m.status, m.seq = e.status, seq

    def _on_account(self, e: ev.AccountCreated, a: AppliedLike, seq: int, ts: int) -> None:
        self.balances.setdefault(e.account, {})
        self.live.setdefault(e.account, {})

    def _on_deposit(self, e: ev.Deposited, a: AppliedLike, seq: int, ts: int) -> None:
        self._balance(e.account, e.asset)[0] += e.amount
        if e.reference:
            self.references[e.reference] = seq

    def _on_withdraw(self, e: ev.Withdrawn, a: AppliedLike, seq: int, ts: int) -> None:
        self._balance(e.account, e.asset)[0] -= e.amount
        if e.reference:
            self.references[e.reference] = seq

    def _on_rejected(self, e: ev.CommandRejected, a: AppliedLike, seq: int, ts: int) -> None:
        cmd = a.command
        if isinstance(cmd, PlaceOrder) and e.command == "place":
            o = OrderState(cmd, ts, OrderStatus.REJECTED)
            o.reason = e.reason.value
            o.remaining = 0
            self._remember_closed(o)

    def _on_accepted(self, e: ev.OrderAccepted, a: AppliedLike, seq: int, ts: int) -> None:
        cmd = a.command
        if not isinstance(cmd, PlaceOrder) or cmd.seq != e.order_id:  # pragma: no cover
            raise AssertionError(f"OrderAccepted {e.order_id} not from its PlaceOrder")
        o = OrderState(cmd, ts, e.status)
        if cmd.quote_quantity and not cmd.quantity:
            o.remaining = self.markets[e.market].max_quantity
        o.reserved = e.reserved
        bal = self._balance(o.account, self._spend_asset(o))
        bal[0] -= e.reserved
        bal[1] += e.reserved
        self._add_live(o)
        self._rebook(o)
        self.markets[e.market].seq = seq
        if o.order_type not in _LIMIT_TYPES:
            self._takers.append(o)

    def _on_triggered(self, e: ev.OrderTriggered, a: AppliedLike, seq: int, ts: int) -> None:
        o = self.orders[e.order_id]
        o.status = OrderStatus.OPEN
        self._touch(o, seq, ts)
        self._rebook(o)
        if o.order_type not in _LIMIT_TYPES:
            self._takers.append(o)

    def _on_trade(self, e: ev.Trade, a: AppliedLike, seq: int, ts: int) -> None:
        taker, maker = self.orders[e.taker_order_id], self.orders[e.maker_order_id]
        m = self.markets[e.market]
        qty, cost = e.quantity, e.quote_amount
        taker_buys = e.taker_side is Side.BUY
        buyer, seller = (taker, maker) if taker_buys else (maker, taker)
        buyer_used = e.taker_reserve_used if taker_buys else cost
        buyer_fee, seller_fee = (
            (e.taker_fee, e.maker_fee) if taker_buys else (e.maker_fee, e.taker_fee)
        )
        bq = self._balance(buyer.account, m.quote)
        bq[1] -= buyer_used
        bq[0] += buyer_used - cost
        self._balance(buyer.account, m.base)[0] += qty - buyer_fee
        self._balance(seller.account, m.base)[1] -= qty
        self._balance(seller.account, m.quote)[0] += cost - seller_fee
        self._balance(FEE_ACCOUNT, m.base)[0] += buyer_fee
        self._balance(FEE_ACCOUNT, m.quote)[0] += seller_fee
        buyer.reserved -= buyer_used
        seller.reserved -= qty
        for o, remaining, fee, liquidity in (
            (taker, e.taker_remaining, e.taker_fee, "taker"),
            (maker, e.maker_remaining, e.maker_fee, "maker"),
        ):
            o.filled += qty
            o.filled_quote += cost
            o.remaining = remaining
            o.status = OrderStatus.FILLED if remaining == 0 else OrderStatus.PARTIALLY_FILLED
            fee_asset = m.base if o.side is Side.BUY else m.quote
            fill = FillRec(
                e.trade_id, o.order_id, m.name, o.side, e.price, qty, fee, fee_asset, liquidity,
                ts, seq,
            )  # fmt: skip
            if o.fills is None:
                o.fills = [fill]
            else:
                o.fills.append(fill)
            fills = self.account_fills.get(o.account)
            if fills is None:
                fills = self.account_fills[o.account] = deque(maxlen=self.keep_account_closed)
            fills.append(fill)
            self._touch(o, seq, ts)
            self._rebook(o)
            if remaining == 0:
                self._close(o)
        m.last_price = e.price
        assert m.trades is not None and m.minutes is not None
        m.trades.append(PublicTrade(e.trade_id, m.name, e.price, qty, cost, e.taker_side, ts, seq))
        minute = ts - ts % MINUTE_NS
        bucket = m.minutes.get(minute)
        if bucket is None:
            m.minutes[minute] = [e.price, e.price, e.price, e.price, qty, cost]
            horizon = minute - 1440 * MINUTE_NS
            for old in [k for k in m.minutes if k <= horizon]:
                del m.minutes[old]
        else:
            bucket[1] = max(bucket[1], e.price)
            bucket[2] = min(bucket[2], e.price)
            bucket[3] = e.price
            bucket[4] += qty
            bucket[5] += cost

    def _end(self, o: OrderState, status: OrderStatus, reason: str, released: int) -> None:
        self._release(o, released)
        o.status = status
        o.reason = reason
        self._rebook(o)
        self._close(o)

    def _on_cancelled(self, e: ev.OrderCancelled, a: AppliedLike, seq: int, ts: int) -> None:
        o = self.orders[e.order_id]
        self._touch(o, seq, ts)
        self._end(o, OrderStatus.CANCELLED, e.reason.value, e.released)

    def _on_expired(self, e: ev.OrderExpired, a: AppliedLike, seq: int, ts: int) -> None:
        o = self.orders[e.order_id]
        self._touch(o, seq, ts)
        self._end(o, OrderStatus.EXPIRED, "expired", e.released)

    def _on_amended(self, e: ev.OrderAmended, a: AppliedLike, seq: int, ts: int) -> None:
        o = self.orders[e.order_id]
        delta = e.reserved_delta
        if delta:
            bal = self._balance(o.account, self._spend_asset(o))
            bal[0] -= delta
            bal[1] += delta
            o.reserved += delta
        o.price, o.quantity, o.remaining = e.price, e.quantity, e.remaining
        self._touch(o, seq, ts)
        self._rebook(o)

    def _on_released(self, e: ev.ReservationReleased, a: AppliedLike, seq: int, ts: int) -> None:
        o = self.orders[e.order_id]
        self._touch(o, seq, ts)
        self._release(o, e.released)
        if o.live:  # a market buy whose budget ran out after some fills: it is done
            o.status = OrderStatus.FILLED
            self._rebook(o)
            self._close(o)

    # -- queries --------------------------------------------------------------------------------

    def order_of(self, account: int, order_id: int) -> OrderState | None:
        o = self.orders.get(order_id)
        return o if o is not None and o.account == account else None

    def order_by_client_id(self, account: int, client_order_id: str) -> OrderState | None:
        order_id = self.client_ids.get((account, client_order_id))
        return None if order_id is None else self.order_of(account, order_id)


_HANDLERS: dict[type[ev.Event], Any] = {
    ev.AssetCreated: View._on_asset,
    ev.MarketCreated: View._on_market,
    ev.MarketStatusChanged: View._on_status,
    ev.AccountCreated: View._on_account,
    ev.Deposited: View._on_deposit,
    ev.Withdrawn: View._on_withdraw,
    ev.CommandRejected: View._on_rejected,
    ev.OrderAccepted: View._on_accepted,
    ev.OrderTriggered: View._on_triggered,
    ev.Trade: View._on_trade,
    ev.OrderCancelled: View._on_cancelled,
    ev.OrderExpired: View._on_expired,
    ev.OrderAmended: View._on_amended,
    ev.ReservationReleased: View._on_released,
}
"""Event type -> its fold. Outside the class body so the mypyc build (``make native``) can
build it: a compiled class body does not bind its methods' names."""
