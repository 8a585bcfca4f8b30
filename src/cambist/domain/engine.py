"""The engine: a deterministic fold of sequenced commands into events and state.

The pipeline, wired here in one place (as exchange-core's ``ExchangeCore`` does):

1. expire   -- GTD orders whose expiry is at or before this command's sequencer time
2. validate -- the command's shape against reference data (:mod:`~cambist.domain.validation`)
3. risk     -- reserve funds in the account's wallet (:mod:`~cambist.domain.wallets`)
4. match    -- trade against the book (:mod:`~cambist.domain.matching`)
5. settle   -- each fill moves funds and fees atomically, inside the same command
6. release  -- what an order no longer needs goes back to available
7. trigger  -- stops crossed by this command's trades enter the book, cascading to quiescence

An exception anywhere is a bug: the engine marks itself halted and refuses further commands
rather than continue on state that may be corrupt.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any, Final

from cambist.domain import commands as c
from cambist.domain.errors import EngineHalted
from cambist.domain.events import (
    AccountCreated,
    AssetCreated,
    CommandRejected,
    Deposited,
    Event,
    MarketCreated,
    MarketStatusChanged,
    OrderAccepted,
    OrderAmended,
    OrderExpired,
    OrderTriggered,
    ReservationReleased,
    Trade,
    Withdrawn,
)
from cambist.domain.markets import MAX_SCALE, Asset, Market, market_spec_problem
from cambist.domain.matching import NO_LIMIT, MarketState, MatchingStage
from cambist.domain.money import MAX_UNITS, SHORT_UNITS, ceil_div, mul_div, mul_div_up
from cambist.domain.orders import Order
from cambist.domain.reasons import Reject
from cambist.domain.status import check_transition
from cambist.domain.types import (
    CancelReason,
    MarketStatus,
    OrderStatus,
    OrderType,
    TimeInForce,
)
from cambist.domain.validation import place_problem, price_problem, quantity_problem
from cambist.domain.wallets import FEE_ACCOUNT, Balance, Wallets

# Enum members as module constants: attribute access on an Enum class costs ~7x a global.
_CR_BUDGET_EXHAUSTED: Final = CancelReason.BUDGET_EXHAUSTED
_CR_FOK_NOT_FILLABLE: Final = CancelReason.FOK_NOT_FILLABLE
_CR_IOC_REMAINDER: Final = CancelReason.IOC_REMAINDER
_CR_NO_LIQUIDITY: Final = CancelReason.NO_LIQUIDITY
_CR_PRICE_OUT_OF_BAND: Final = CancelReason.PRICE_OUT_OF_BAND
_CR_SELF_TRADE_PREVENTED: Final = CancelReason.SELF_TRADE_PREVENTED
_CR_USER: Final = CancelReason.USER
_MS_HALTED: Final = MarketStatus.HALTED
_MS_OPEN: Final = MarketStatus.OPEN
_ST_EXPIRED: Final = OrderStatus.EXPIRED
_ST_FILLED: Final = OrderStatus.FILLED
_ST_OPEN: Final = OrderStatus.OPEN
_ST_PENDING_TRIGGER: Final = OrderStatus.PENDING_TRIGGER
_OT_LIMIT: Final = OrderType.LIMIT
_OT_STOP_LIMIT: Final = OrderType.STOP_LIMIT
_OT_STOP_MARKET: Final = OrderType.STOP_MARKET
_TIF_FOK: Final = TimeInForce.FOK
_TIF_GTC: Final = TimeInForce.GTC
_TIF_GTD: Final = TimeInForce.GTD

_LIMIT_TYPES: Final = (_OT_LIMIT, _OT_STOP_LIMIT)
_RESTING_TIFS: Final = (_TIF_GTC, _TIF_GTD)
_USER: Final = _CR_USER


class Engine:
    """Books and wallets of every market and account, changed only by :meth:`apply`."""

    def __init__(self) -> None:
        self.assets: dict[str, Asset] = {}
        self.markets: dict[str, MarketState] = {}
        self.wallets = Wallets()
        self.orders: dict[int, Order] = {}
        """Live orders (resting or waiting for their trigger) by id."""
        self.account_orders: dict[int, dict[int, Order]] = {}
        self.client_ids: dict[int, dict[str, int]] = {}
        self.expiries: list[tuple[int, int]] = []
        """Heap of (expire_ts, order id); entries of orders already gone are skipped."""
        self.fee_balances: dict[str, Balance] = {}
        self.last_seq = 0
        self.last_ts = 0
        self.next_trade_id = 1
        self.halted: str | None = None
        self.matching = MatchingStage(self._settle, Wallets.release, self._close)
        self._handlers: dict[type[c.Command], Callable[[Any, list[Event]], None]] = {
            c.CreateAsset: self._create_asset,
            c.CreateMarket: self._create_market,
            c.SetMarketStatus: self._set_market_status,
            c.CreateAccount: self._create_account,
            c.Deposit: self._deposit,
            c.Withdraw: self._withdraw,
            c.PlaceOrder: self._place,
            c.CancelOrder: self._cancel,
            c.CancelAll: self._cancel_all,
            c.AmendOrder: self._amend,
        }

    # -- the fold ---------------------------------------------------------------------------

    def apply(self, cmd: c.Command) -> list[Event]:
        """Apply one sequenced command; return its events. A command at or below the last
        applied ``seq`` was already applied (a duplicate delivery) and yields nothing."""
        if self.halted is not None:
            raise EngineHalted(self.halted)
        if cmd.seq <= self.last_seq:
            return []
        events: list[Event] = []
        try:
            if self.expiries and self.expiries[0][0] <= cmd.ts:
                self._expire(cmd.ts, events)
            self._handlers[type(cmd)](cmd, events)
        except Exception as exc:
            self.halted = f"command seq {cmd.seq} ({type(cmd).__name__}) raised {exc!r}"
            raise EngineHalted(self.halted) from exc
        self.last_seq = cmd.seq
        self.last_ts = cmd.ts
        return events

    # -- reference data and wallets ---------------------------------------------------------

    def _reject(
        self, events: list[Event], account: int, reason: Reject, command: str, **kw: Any
    ) -> None:
        events.append(CommandRejected(account=account, reason=reason, command=command, **kw))

    def _create_asset(self, cmd: c.CreateAsset, events: list[Event]) -> None:
        if cmd.asset in self.assets:
            return self._reject(events, 0, Reject.DUPLICATE_ASSET, "create_asset")
        if not cmd.asset or not 0 <= cmd.scale <= MAX_SCALE:
            return self._reject(events, 0, Reject.INVALID_ASSET_SPEC, "create_asset")
        self.assets[cmd.asset] = Asset(cmd.asset, cmd.scale)
        self.fee_balances[cmd.asset] = self.wallets.balance(FEE_ACCOUNT, cmd.asset)
        events.append(AssetCreated(asset=cmd.asset, scale=cmd.scale))
        return None

    def _create_market(self, cmd: c.CreateMarket, events: list[Event]) -> None:
        if cmd.market in self.markets:
            return self._reject(events, 0, Reject.DUPLICATE_MARKET, "create_market")
        base, quote = self.assets.get(cmd.base), self.assets.get(cmd.quote)
        if base is None or quote is None:
            return self._reject(events, 0, Reject.UNKNOWN_ASSET, "create_market")
        spec_fields = dict(
            tick=cmd.tick,
            lot=cmd.lot,
            min_quantity=cmd.min_quantity,
            max_quantity=cmd.max_quantity,
            min_notional=cmd.min_notional,
            band_bps=cmd.band_bps,
            maker_fee_bps=cmd.maker_fee_bps,
            taker_fee_bps=cmd.taker_fee_bps,
        )
        too_big = max(cmd.tick, cmd.lot, cmd.max_quantity, cmd.min_notional) > MAX_UNITS
        if base is quote or too_big or market_spec_problem(base_scale=base.scale, **spec_fields):
            return self._reject(events, 0, Reject.INVALID_MARKET_SPEC, "create_market")
        spec = Market(
            name=cmd.market, base=base.symbol, quote=quote.symbol, base_unit=10**base.scale,
            tick=cmd.tick, lot=cmd.lot, min_quantity=cmd.min_quantity,
            max_quantity=cmd.max_quantity, min_notional=cmd.min_notional,
            band_bps=cmd.band_bps, maker_fee_bps=cmd.maker_fee_bps,
            taker_fee_bps=cmd.taker_fee_bps,
        )  # fmt: skip
        self.markets[cmd.market] = MarketState(spec)
        events.append(
            MarketCreated(market=cmd.market, base=cmd.base, quote=cmd.quote, **spec_fields)
        )
        return None

    def _set_market_status(self, cmd: c.SetMarketStatus, events: list[Event]) -> None:
        ms = self.markets.get(cmd.market)
        if ms is None:
            return self._reject(events, 0, Reject.UNKNOWN_MARKET, "set_market_status")
        ms.spec.status = _MS_HALTED if cmd.halted else _MS_OPEN
        events.append(MarketStatusChanged(market=cmd.market, status=ms.spec.status))
        return None

    def _create_account(self, cmd: c.CreateAccount, events: list[Event]) -> None:
        if self.wallets.has_account(cmd.account) or cmd.account < 0:
            return self._reject(events, cmd.account, Reject.DUPLICATE_ACCOUNT, "create_account")
        self.wallets.open_account(cmd.account)
        self.account_orders[cmd.account] = {}
        self.client_ids[cmd.account] = {}
        events.append(AccountCreated(account=cmd.account))
        return None

    def _transfer_problem(self, cmd: c.Deposit | c.Withdraw, kind: str) -> Reject | None:
        if not self.wallets.has_account(cmd.account) or cmd.account == FEE_ACCOUNT:
            return Reject.UNKNOWN_ACCOUNT
        if cmd.asset not in self.assets:
            return Reject.UNKNOWN_ASSET
        if not 0 < cmd.amount <= MAX_UNITS:
            return Reject.INVALID_AMOUNT
        if cmd.reference:
            seen = self.wallets.references.get(cmd.reference)
            if seen is not None:
                same = seen == (kind, cmd.account, cmd.asset, cmd.amount)
                return Reject.DUPLICATE_REFERENCE if same else Reject.REFERENCE_CONFLICT
        return None

    def _deposit(self, cmd: c.Deposit, events: list[Event]) -> None:
        problem = self._transfer_problem(cmd, "deposit")
        if problem:
            return self._reject(events, cmd.account, problem, "deposit")
        self.wallets.credit_external(cmd.account, cmd.asset, cmd.amount)
        if cmd.reference:
            self.wallets.references[cmd.reference] = ("deposit", cmd.account, cmd.asset, cmd.amount)
        events.append(
            Deposited(
                account=cmd.account, asset=cmd.asset, amount=cmd.amount, reference=cmd.reference
            )
        )
        return None

    def _withdraw(self, cmd: c.Withdraw, events: list[Event]) -> None:
        problem = self._transfer_problem(cmd, "withdrawal")
        if problem is None and not self.wallets.debit_external(cmd.account, cmd.asset, cmd.amount):
            problem = Reject.INSUFFICIENT_FUNDS
        if problem:
            return self._reject(events, cmd.account, problem, "withdraw")
        if cmd.reference:
            self.wallets.references[cmd.reference] = (
                "withdrawal", cmd.account, cmd.asset, cmd.amount,
            )  # fmt: skip
        events.append(
            Withdrawn(
                account=cmd.account, asset=cmd.asset, amount=cmd.amount, reference=cmd.reference
            )
        )
        return None

    # -- orders -----------------------------------------------------------------------------

    def _place(self, cmd: c.PlaceOrder, events: list[Event]) -> None:
        ms = self.markets.get(cmd.market)
        account = cmd.account
        problem: Reject | None
        if ms is None:
            problem = Reject.UNKNOWN_MARKET
        elif account not in self.account_orders:
            problem = Reject.UNKNOWN_ACCOUNT
        elif ms.spec.status is _MS_HALTED:
            problem = Reject.MARKET_HALTED
        elif cmd.client_order_id and cmd.client_order_id in self.client_ids[account]:
            problem = Reject.DUPLICATE_CLIENT_ORDER_ID
        else:
            problem = place_problem(cmd, ms)
            if problem is None and cmd.post_only and self._crosses(ms, cmd.side, cmd.price):
                problem = Reject.POST_ONLY_WOULD_TAKE
        if problem is not None or ms is None:
            return self._reject(
                events, account, problem or Reject.UNKNOWN_MARKET, "place",
                order_id=cmd.seq, client_order_id=cmd.client_order_id,
            )  # fmt: skip
        spec = ms.spec
        balances = self.wallets.accounts[account]
        base = balances.get(spec.base) or self.wallets.balance(account, spec.base)
        quote = balances.get(spec.quote) or self.wallets.balance(account, spec.quote)
        is_buy = cmd.side == "buy"
        # positional (keywords cost 3-4x here); the order of Order.__init__'s parameters
        order = Order(
            cmd.seq, account, spec.name, cmd.side, cmd.order_type, cmd.time_in_force, cmd.price,
            cmd.quantity or (spec.max_quantity if cmd.quote_quantity else 0),
            cmd.quote_quantity, cmd.stop_price, cmd.expire_ts, cmd.post_only,
            cmd.client_order_id, cmd.stp, cmd.ts,
            quote if is_buy else base, base if is_buy else quote,
        )  # fmt: skip
        amount = self._reservation(ms, order)
        if not Wallets.reserve(order, amount):
            return self._reject(
                events, account, Reject.INSUFFICIENT_FUNDS, "place",
                order_id=cmd.seq, client_order_id=cmd.client_order_id,
            )  # fmt: skip
        if is_buy and order.order_type not in _LIMIT_TYPES:
            order.budget = amount
            order.budgeted = True
        is_stop = order.order_type is _OT_STOP_LIMIT or order.order_type is _OT_STOP_MARKET
        if is_stop:
            order.status = _ST_PENDING_TRIGGER
        self.orders[order.order_id] = order
        self.account_orders[account][order.order_id] = order
        if order.client_order_id:
            self.client_ids[account][order.client_order_id] = order.order_id
        if order.time_in_force is _TIF_GTD:
            heapq.heappush(self.expiries, (order.expire_ts, order.order_id))
        events.append(
            OrderAccepted(  # positional, in field order (see events.py: keywords cost 3-4x)
                order.order_id, account, spec.name, cmd.side, cmd.order_type,
                cmd.time_in_force, cmd.price, cmd.quantity, cmd.quote_quantity,
                cmd.stop_price, cmd.expire_ts, cmd.post_only, cmd.stp, cmd.client_order_id,
                order.status, amount,
            )
        )  # fmt: skip
        if is_stop:
            ms.add_stop(order)
            return None
        self._execute(ms, order, events)
        if ms.round_high:
            self._run_stops(ms, events)
        return None

    @staticmethod
    def _crosses(ms: MarketState, side: str, price: int) -> bool:
        if side == "buy":
            ask = ms.book.asks.best_price()
            return bool(ask) and ask <= price
        bid = ms.book.bids.best_price()
        return bool(bid) and bid >= price

    def _reservation(self, ms: MarketState, order: Order) -> int:
        """What placing ``order`` holds: quote for buys, base for sells.

        A market buy by quote holds its quote amount; by base, the cost of walking the book up
        to the band; a stop-market buy, its quantity at the band's top around its stop price.
        """
        spec = ms.spec
        if not order.is_buy:
            return order.quantity
        if order.order_type in _LIMIT_TYPES:
            return spec.notional(order.price, order.quantity)
        if order.quote_quantity:
            return order.quote_quantity
        if order.order_type is _OT_STOP_MARKET:
            stop = order.stop_price
            return spec.notional(stop + stop * spec.band_bps // 10_000, order.quantity)
        return MatchingStage.walk_cost(ms, order.quantity, ms.band()[1])

    def _execute(self, ms: MarketState, order: Order, events: list[Event]) -> None:
        """Run an accepted (or just triggered) order as a taker, then rest or end it."""
        matching = self.matching
        if order.order_type in _LIMIT_TYPES:
            limit = order.price
            tif = order.time_in_force
            if tif is _TIF_GTC or tif is _TIF_GTD:
                # Fast path: most limit orders do not cross; they rest without entering match().
                book = ms.book
                if order.is_buy:
                    best = book.asks.best_price()
                    crosses = bool(best) and best <= limit
                    side = book.bids
                else:
                    best = book.bids.best_price()
                    crosses = best >= limit
                    side = book.asks
                if not crosses:
                    side.append(order)
                    return None
            elif tif is _TIF_FOK and not matching.fillable(ms, order, limit):
                return matching.finish_cancelled(ms, order, _CR_FOK_NOT_FILLABLE, events)
        else:
            low, high = ms.band()
            limit = high if order.is_buy else low
        if not matching.match(ms, order, limit, events):
            return matching.finish_cancelled(ms, order, _CR_SELF_TRADE_PREVENTED, events)
        if order.status is _ST_FILLED:
            return self._finish_filled(ms, order, events)
        if order.order_type in _LIMIT_TYPES:
            if order.time_in_force in _RESTING_TIFS:
                ms.book.side_of(order).append(order)
                return None
            return matching.finish_cancelled(ms, order, _CR_IOC_REMAINDER, events)
        spec = ms.spec
        opposite = ms.book.asks.best_price() if order.is_buy else ms.book.bids.best_price()
        if order.budgeted:  # a market buy: did its budget run out before the liquidity did?
            reachable = bool(opposite) and opposite <= limit
            ref = opposite if reachable else ms.last_price
            broke = spec.notional(ref, spec.lot) > order.budget
            if order.quote_quantity and order.filled and broke:
                order.status = check_transition(order.status, _ST_FILLED)
                return self._finish_filled(ms, order, events)
            if reachable and broke:
                return matching.finish_cancelled(ms, order, _CR_BUDGET_EXHAUSTED, events)
        reason = _CR_PRICE_OUT_OF_BAND if opposite else _CR_NO_LIQUIDITY
        return matching.finish_cancelled(ms, order, reason, events)

    def _finish_filled(self, ms: MarketState, order: Order, events: list[Event]) -> None:
        left = order.reserved
        if left or order.budgeted:  # a market buy's fill is not visible from its trades alone
            if left:
                Wallets.release(order, left)
            events.append(
                ReservationReleased(
                    order_id=order.order_id, account=order.account, market=ms.spec.name,
                    released=left,
                )
            )  # fmt: skip
        self._close(order)

    def _settle(
        self,
        ms: MarketState,
        taker: Order,
        maker: Order,
        price: int,
        quantity: int,
        cost: int,
        used: int,
        events: list[Event],
    ) -> None:
        spec = ms.spec
        taker_bps, maker_bps = spec.taker_fee_bps, spec.maker_fee_bps
        if taker.is_buy:
            taker_fee = mul_div_up(quantity, taker_bps, 10_000) if taker_bps else 0
            maker_fee = mul_div_up(cost, maker_bps, 10_000) if maker_bps else 0
            Wallets.settle(
                taker, maker, quantity, cost, used, taker_fee, maker_fee,
                self.fee_balances[spec.base], self.fee_balances[spec.quote],
            )  # fmt: skip
        else:
            taker_fee = mul_div_up(cost, taker_bps, 10_000) if taker_bps else 0
            maker_fee = mul_div_up(quantity, maker_bps, 10_000) if maker_bps else 0
            Wallets.settle(
                maker, taker, quantity, cost, cost, maker_fee, taker_fee,
                self.fee_balances[spec.base], self.fee_balances[spec.quote],
            )  # fmt: skip
        ms.last_price = price
        if price > ms.round_high:
            ms.round_high = price
        if not ms.round_low or price < ms.round_low:
            ms.round_low = price
        trade_id = self.next_trade_id
        self.next_trade_id = trade_id + 1
        events.append(
            Trade(  # positional, in field order (see events.py: keywords cost 3-4x)
                trade_id, spec.name, price, quantity, cost, taker.side,
                taker.order_id, taker.account, maker.order_id, maker.account,
                taker_fee, maker_fee, used, taker.remaining, maker.remaining,
            )
        )  # fmt: skip

    def _close(self, order: Order) -> None:
        """Forget an order that is no longer live."""
        del self.orders[order.order_id]
        del self.account_orders[order.account][order.order_id]
        if order.client_order_id:
            del self.client_ids[order.account][order.client_order_id]

    def _run_stops(self, ms: MarketState, events: list[Event]) -> None:
        """Trigger crossed stops in crossing order, and those their trades cross, until none."""
        while ms.round_high:
            for order_id in ms.take_triggered_stops():
                order = self.orders[order_id]
                order.status = check_transition(order.status, _ST_OPEN)
                events.append(
                    OrderTriggered(
                        order_id=order_id, account=order.account, market=ms.spec.name,
                        last_price=ms.last_price,
                    )
                )  # fmt: skip
                if order.order_type is _OT_STOP_LIMIT and price_problem(
                    ms, order.price, check_band=True
                ):
                    self.matching.finish_cancelled(ms, order, _CR_PRICE_OUT_OF_BAND, events)
                    continue
                self._execute(ms, order, events)

    def _expire(self, ts: int, events: list[Event]) -> None:
        expiries = self.expiries
        while expiries and expiries[0][0] <= ts:
            expire_ts, order_id = heapq.heappop(expiries)
            order = self.orders.get(order_id)
            if order is None or order.expire_ts != expire_ts:
                continue
            ms = self.markets[order.market]
            if order.status is _ST_PENDING_TRIGGER:
                ms.remove_stop(order)
            else:
                ms.book.side_of(order).remove(order)
            released = order.reserved
            if released:
                Wallets.release(order, released)
            order.status = check_transition(order.status, _ST_EXPIRED)
            self._close(order)
            events.append(
                OrderExpired(
                    order_id=order_id, account=order.account, market=order.market,
                    remaining=order.remaining, released=released,
                )
            )  # fmt: skip

    def _find(self, account: int, order_id: int, client_order_id: str) -> Order | None:
        if not order_id and client_order_id:
            order_id = self.client_ids.get(account, {}).get(client_order_id, 0)
        order = self.orders.get(order_id)
        return order if order is not None and order.account == account else None

    def _cancel(self, cmd: c.CancelOrder, events: list[Event]) -> None:
        order = self._find(cmd.account, cmd.order_id, cmd.client_order_id)
        if order is None:
            return self._reject(
                events, cmd.account, Reject.UNKNOWN_ORDER, "cancel",
                order_id=cmd.order_id, client_order_id=cmd.client_order_id,
            )  # fmt: skip
        self._cancel_live(order, _USER, events)
        return None

    def _cancel_live(self, order: Order, reason: CancelReason, events: list[Event]) -> None:
        ms = self.markets[order.market]
        if order.status is _ST_PENDING_TRIGGER:
            ms.remove_stop(order)
            self.matching.finish_cancelled(ms, order, reason, events)
        else:
            self.matching.cancel_resting(ms, order, reason, events)

    def _cancel_all(self, cmd: c.CancelAll, events: list[Event]) -> None:
        live = self.account_orders.get(cmd.account)
        if live is None:
            return self._reject(events, cmd.account, Reject.UNKNOWN_ACCOUNT, "cancel_all")
        if cmd.market and cmd.market not in self.markets:
            return self._reject(events, cmd.account, Reject.UNKNOWN_MARKET, "cancel_all")
        for order_id in sorted(live):
            order = live[order_id]
            if not cmd.market or order.market == cmd.market:
                self._cancel_live(order, _USER, events)
        return None

    def _amend(self, cmd: c.AmendOrder, events: list[Event]) -> None:
        order = self._find(cmd.account, cmd.order_id, "")
        problem = self._amend_problem(cmd, order)
        if problem is not None or order is None:
            return self._reject(
                events, cmd.account, problem or Reject.UNKNOWN_ORDER, "amend",
                order_id=cmd.order_id,
            )  # fmt: skip
        ms = self.markets[order.market]
        spec = ms.spec
        price = cmd.price or order.price
        quantity = cmd.quantity or order.quantity
        remaining = quantity - order.filled
        if price == order.price and quantity < order.quantity:
            cut = order.quantity - quantity
            order.remaining = remaining
            order.quantity = quantity
            assert order.level is not None
            order.level.total -= cut
            released = spec.notional(price, cut) if order.is_buy else cut
            Wallets.release(order, released)
            events.append(
                OrderAmended(
                    order_id=order.order_id, account=order.account, market=spec.name,
                    price=price, quantity=quantity, remaining=remaining,
                    reserved_delta=-released, priority_kept=True,
                )
            )  # fmt: skip
            return None
        need = spec.notional(price, remaining) if order.is_buy else remaining
        delta = need - order.reserved
        if delta > 0 and order.spend.available < delta:
            return self._reject(
                events, cmd.account, Reject.INSUFFICIENT_FUNDS, "amend", order_id=cmd.order_id
            )
        ms.book.side_of(order).remove(order)
        if delta > 0:
            Wallets.reserve(order, delta)
        elif delta < 0:
            Wallets.release(order, -delta)
        order.price, order.quantity, order.remaining = price, quantity, remaining
        events.append(
            OrderAmended(  # positional, in field order (see events.py: keywords cost 3-4x)
                order.order_id, order.account, spec.name, price, quantity, remaining, delta,
                False,
            )
        )  # fmt: skip
        self._execute(ms, order, events)
        if ms.round_high:
            self._run_stops(ms, events)
        return None

    def _amend_problem(self, cmd: c.AmendOrder, order: Order | None) -> Reject | None:
        if order is None:
            return Reject.UNKNOWN_ORDER
        if order.order_type is not _OT_LIMIT or order.level is None:
            return Reject.ORDER_NOT_AMENDABLE
        ms = self.markets[order.market]
        if ms.spec.status is _MS_HALTED:
            return Reject.MARKET_HALTED
        if not (0 <= cmd.price <= SHORT_UNITS or 0 <= cmd.price <= MAX_UNITS):
            return Reject.INVALID_PRICE
        if not (0 <= cmd.quantity <= SHORT_UNITS or 0 <= cmd.quantity <= MAX_UNITS):
            return Reject.INVALID_QUANTITY
        price = cmd.price or order.price
        quantity = cmd.quantity or order.quantity
        if price == order.price and quantity == order.quantity:
            return Reject.AMEND_NO_CHANGE
        spec = ms.spec
        # Only what changes needs checking: the rest passed these same checks at placement.
        if price != order.price:
            if price % spec.tick:
                return Reject.INVALID_PRICE_TICK
            low, high = ms.band()
            if not low <= price <= high:
                return Reject.PRICE_OUT_OF_BAND
        if quantity != order.quantity:
            problem = quantity_problem(ms, quantity)
            if problem:
                return problem
        if quantity <= order.filled:
            return Reject.INVALID_QUANTITY
        if mul_div(price, quantity, spec.base_unit) < spec.min_notional:
            return Reject.NOTIONAL_BELOW_MINIMUM
        if order.post_only and price != order.price and self._crosses(ms, order.side, price):
            return Reject.POST_ONLY_WOULD_TAKE
        return None

    # -- inspection -------------------------------------------------------------------------

    def state_hash(self) -> str:
        """A digest of books, stops, wallets and counters; equal states give equal hashes."""
        from cambist.domain.state import state_hash

        return state_hash(self)

    def validate_invariants(self) -> None:
        """Raise AssertionError describing the first broken invariant, if any."""
        from cambist.domain.state import validate_invariants

        validate_invariants(self)

    def snapshot(self) -> bytes:
        from cambist.domain.state import snapshot

        return snapshot(self)

    @classmethod
    def restore(cls, data: bytes) -> Engine:
        from cambist.domain.state import restore

        return restore(data)


__all__ = ["NO_LIMIT", "Engine", "EngineHalted", "ceil_div"]
