"""The matching stage: books and stop orders, keyed by market.

It decides *what* trades (price-time priority, limits, price bands, self-trade prevention,
budgets of market buys) and hands each fill to a settlement callback owned by the risk stage, so
in the scale-out mode this stage can run as its own shard and ship fills over the log instead.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from typing import Final

from cambist.domain.book import OrderBook
from cambist.domain.events import Event, OrderAmended, OrderCancelled, Trade
from cambist.domain.markets import Market
from cambist.domain.money import mul_div
from cambist.domain.orders import Order
from cambist.domain.status import check_transition
from cambist.domain.types import CancelReason, OrderStatus, SelfTradePrevention

# Enum members as module constants: attribute access on an Enum class costs ~7x a global.
_CR_SELF_TRADE_PREVENTED: Final = CancelReason.SELF_TRADE_PREVENTED
_ST_CANCELLED: Final = OrderStatus.CANCELLED
_ST_FILLED: Final = OrderStatus.FILLED
_ST_OPEN: Final = OrderStatus.OPEN
_ST_PARTIALLY_FILLED: Final = OrderStatus.PARTIALLY_FILLED
_STP_CANCEL_BOTH: Final = SelfTradePrevention.CANCEL_BOTH
_STP_CANCEL_OLDEST: Final = SelfTradePrevention.CANCEL_OLDEST
_STP_DECREMENT: Final = SelfTradePrevention.DECREMENT

NO_LIMIT = 1 << 62
"""The limit of a market buy when no price band applies."""

_OPEN: Final = _ST_OPEN
_PARTIAL: Final = _ST_PARTIALLY_FILLED
_FILLED: Final = _ST_FILLED
_MAX_ID: Final = 1 << 62


class MarketState:
    """One market: its rules, its book, its pending stops and its last trade price.

    ``round_high``/``round_low`` are the extreme trade prices since stops were last checked, so a
    sweep through several levels triggers every stop it crossed, not only those at its last price.
    """

    __slots__ = (
        "book",
        "buy_stops",
        "last_price",
        "round_high",
        "round_low",
        "sell_stops",
        "spec",
    )

    def __init__(self, spec: Market) -> None:
        self.spec = spec
        self.book = OrderBook(spec.name)
        self.last_price = 0
        self.round_high = 0
        self.round_low = 0
        self.buy_stops: list[tuple[int, int]] = []
        """(stop price, order id) ascending: a buy stop triggers when a trade reaches its stop."""
        self.sell_stops: list[tuple[int, int]] = []
        """(-stop price, order id) ascending: a sell stop triggers when a trade falls to it."""

    def band(self) -> tuple[int, int]:
        """The (low, high) prices allowed now, or (0, NO_LIMIT) without a band or a last trade."""
        last, bps = self.last_price, self.spec.band_bps
        if not bps or not last:
            return 0, NO_LIMIT
        width = mul_div(last, bps, 10_000)
        return last - width, last + width

    def take_triggered_stops(self) -> list[int]:
        """Order ids of stops crossed since the last check, in the order they were crossed."""
        high, low = self.round_high, self.round_low
        self.round_high = self.round_low = 0
        triggered: list[int] = []
        if high and self.buy_stops:
            i = bisect_right(self.buy_stops, (high, _MAX_ID))
            triggered.extend(oid for _, oid in self.buy_stops[:i])
            del self.buy_stops[:i]
        if low and self.sell_stops:
            i = bisect_right(self.sell_stops, (-low, _MAX_ID))
            triggered.extend(oid for _, oid in self.sell_stops[:i])
            del self.sell_stops[:i]
        return triggered

    def remove_stop(self, order: Order) -> None:
        stops, key = (
            (self.buy_stops, (order.stop_price, order.order_id))
            if order.is_buy
            else (self.sell_stops, (-order.stop_price, order.order_id))
        )
        stops.remove(key)

    def add_stop(self, order: Order) -> None:
        if order.is_buy:
            self.buy_stops.append((order.stop_price, order.order_id))
            self.buy_stops.sort()
        else:
            self.sell_stops.append((-order.stop_price, order.order_id))
            self.sell_stops.sort()


SettleFn = Callable[[MarketState, Order, Order, int, int, int, int, list[Event]], None]
"""settle(market, taker, maker, price, quantity, cost, taker_reserve_used, events): move the
funds of one fill and record it. Quantities and statuses are already updated."""
ReleaseFn = Callable[[Order, int], None]
CloseFn = Callable[[Order], None]


class MatchingStage:
    """Runs a taker order against the opposite side of its market's book."""

    __slots__ = ("close", "release", "settle")

    def __init__(self, settle: SettleFn, release: ReleaseFn, close: CloseFn) -> None:
        self.settle = settle
        self.release = release
        self.close = close
        """Called when an order leaves the live set (filled or cancelled by STP)."""

    def match(self, ms: MarketState, taker: Order, limit: int, events: list[Event]) -> bool:
        """Trade ``taker`` against the book up to ``limit``. Return False if STP cancelled it.

        For a buy, levels priced above ``limit`` are not taken; for a sell, levels below it.
        A market buy with a ``budget`` is also capped by what its budget can still pay.
        """
        opp = ms.book.opposite_of(taker)
        levels, keys, bids = opp.levels, opp.keys, opp.is_bids
        is_buy = taker.is_buy
        spec = ms.spec
        base_unit, lot = spec.base_unit, spec.lot
        settle = self.settle
        budgeted = taker.budgeted
        while taker.remaining > 0 and keys:
            price = keys[-1] if bids else -keys[-1]
            if (price > limit) if is_buy else (price < limit):
                break
            level = levels[price]
            maker = level.head
            assert maker is not None
            if maker.account == taker.account:
                if not self._prevent_self_trade(ms, taker, maker, events):
                    return False
                continue
            quantity = taker.remaining if taker.remaining < maker.remaining else maker.remaining
            if budgeted:
                affordable = taker.budget * base_unit // price // lot * lot
                if affordable == 0:
                    break
                if affordable < quantity:
                    quantity = affordable
            cost = mul_div(price, quantity, base_unit)
            if not is_buy:
                used = quantity
            elif budgeted:
                used = cost
                taker.budget -= cost
            else:
                used = mul_div(taker.price, quantity, base_unit)
            taker.remaining -= quantity
            taker.filled += quantity
            taker.filled_quote += cost
            maker.remaining -= quantity
            maker.filled += quantity
            maker.filled_quote += cost
            level.total -= quantity
            settle(ms, taker, maker, price, quantity, cost, used, events)
            if taker.remaining == 0:
                taker.status = check_transition(taker.status, _FILLED)
            elif taker.status is not _PARTIAL:
                taker.status = check_transition(taker.status, _PARTIAL)
            if maker.remaining == 0:
                maker.status = check_transition(maker.status, _FILLED)
                opp.remove(maker)
                self.close(maker)
            elif maker.status is not _PARTIAL:
                maker.status = check_transition(maker.status, _PARTIAL)
        return True

    def _prevent_self_trade(
        self, ms: MarketState, taker: Order, maker: Order, events: list[Event]
    ) -> bool:
        """Apply the taker's STP mode to one resting order of its own account.

        Return True to keep matching, False when the taker itself was cancelled.
        """
        mode = taker.stp
        if mode is _STP_CANCEL_OLDEST:
            self.cancel_resting(ms, maker, _CR_SELF_TRADE_PREVENTED, events)
            return True
        if mode is _STP_CANCEL_BOTH:
            self.cancel_resting(ms, maker, _CR_SELF_TRADE_PREVENTED, events)
            return False
        if mode is _STP_DECREMENT:
            cut = min(taker.remaining, maker.remaining)
            if cut == maker.remaining:
                self.cancel_resting(ms, maker, _CR_SELF_TRADE_PREVENTED, events)
            else:
                self.decrement_resting(ms, maker, cut, events)
            if cut == taker.remaining:
                return False
            taker.remaining -= cut
            if taker.budgeted:
                released = 0  # a market buy's reservation is its budget, not per unit
            else:
                released = ms.spec.notional(taker.price, cut) if taker.is_buy else cut
            if released:
                self.release(taker, released)
            events.append(
                OrderAmended(
                    order_id=taker.order_id,
                    account=taker.account,
                    market=ms.spec.name,
                    price=taker.price,
                    quantity=taker.quantity - cut,
                    remaining=taker.remaining,
                    reserved_delta=-released,
                    priority_kept=True,
                    reason="stp_decrement",
                )
            )
            taker.quantity -= cut
            return True
        return False  # CANCEL_NEWEST: the taker goes, the resting order stays

    def decrement_resting(
        self, ms: MarketState, order: Order, cut: int, events: list[Event]
    ) -> None:
        """Reduce a resting order in place (keeping its time priority) and release its funds."""
        order.remaining -= cut
        order.quantity -= cut
        assert order.level is not None
        order.level.total -= cut
        released = ms.spec.notional(order.price, cut) if order.is_buy else cut
        self.release(order, released)
        events.append(
            OrderAmended(
                order_id=order.order_id,
                account=order.account,
                market=ms.spec.name,
                price=order.price,
                quantity=order.quantity,
                remaining=order.remaining,
                reserved_delta=-released,
                priority_kept=True,
                reason="stp_decrement",
            )
        )

    def cancel_resting(
        self, ms: MarketState, order: Order, reason: CancelReason, events: list[Event]
    ) -> None:
        """Take a resting order off the book, release all it holds and say so."""
        ms.book.side_of(order).remove(order)
        self.finish_cancelled(ms, order, reason, events)

    def finish_cancelled(
        self, ms: MarketState, order: Order, reason: CancelReason, events: list[Event]
    ) -> None:
        """Cancel an order that is not (or no longer) in the book."""
        released = order.reserved
        if released:
            self.release(order, released)
        order.status = check_transition(order.status, _ST_CANCELLED)
        self.close(order)
        events.append(  # positional, in field order (see events.py: keywords cost 3-4x)
            OrderCancelled(
                order.order_id, order.account, ms.spec.name, reason, order.remaining, released
            )
        )

    @staticmethod
    def fillable(ms: MarketState, taker: Order, limit: int) -> bool:
        """Could ``taker`` fill completely right now? (The fill-or-kill pre-check.)

        Mirrors :meth:`match` without changing anything. A resting order of the taker's own
        account counts as a stop to filling unless its STP mode is cancel-oldest (which removes
        the resting order and goes on).
        """
        opp = ms.book.opposite_of(taker)
        need = taker.remaining
        skip_own = taker.stp is _STP_CANCEL_OLDEST
        for level in opp.levels_best_first():
            if (level.price > limit) if taker.is_buy else (level.price < limit):
                return False
            for maker in level.orders():
                if maker.account == taker.account:
                    if skip_own:
                        continue
                    return False
                need -= maker.remaining
                if need <= 0:
                    return True
        return False

    @staticmethod
    def walk_cost(ms: MarketState, quantity: int, limit: int) -> int:
        """Quote cost of buying ``quantity`` from the asks up to ``limit`` (as far as it goes)."""
        cost = 0
        spec = ms.spec
        for level in ms.book.asks.levels_best_first():
            if level.price > limit or quantity <= 0:
                break
            take = min(quantity, level.total)
            cost += spec.notional(level.price, take)
            quantity -= take
        return cost

    @staticmethod
    def would_take(ms: MarketState, order: Order) -> bool:
        """Would a limit order at its price cross the opposite best? (The post-only test.)"""
        if order.is_buy:
            ask = ms.book.asks.best_price()
            return bool(ask) and ask <= order.price
        bid = ms.book.bids.best_price()
        return bool(bid) and bid >= order.price


def fill_status(order: Order) -> OrderStatus:
    """The status an order has after a fill."""
    return _FILLED if order.remaining == 0 else _PARTIAL


__all__ = ["NO_LIMIT", "MarketState", "MatchingStage", "Trade", "fill_status"]
