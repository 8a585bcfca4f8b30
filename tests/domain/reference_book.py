"""A deliberately simple order book on plain lists, as an oracle for the real one.

No linked lists, no sorted keys, no wallets: each side is one list kept in priority order by a
full sort after every change. Slow and obviously right, which is the point.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RefOrder:
    order_id: int
    account: int
    is_buy: bool
    price: int
    remaining: int
    priority: int


@dataclass
class RefBook:
    bids: list[RefOrder] = field(default_factory=list)
    asks: list[RefOrder] = field(default_factory=list)
    trades: list[tuple[int, int, int, int]] = field(default_factory=list)
    clock: int = 0

    def _sort(self) -> None:
        self.bids.sort(key=lambda o: (-o.price, o.priority))
        self.asks.sort(key=lambda o: (o.price, o.priority))

    def place(
        self, order_id: int, account: int, is_buy: bool, price: int, qty: int, ioc: bool
    ) -> None:
        """Match with cancel-newest self-trade prevention, then rest (GTC) or drop (IOC)."""
        self.clock += 1
        taker = RefOrder(order_id, account, is_buy, price, qty, self.clock)
        self._match(taker, rest=not ioc)

    def _match(self, taker: RefOrder, rest: bool) -> None:
        book = self.asks if taker.is_buy else self.bids
        while taker.remaining and book:
            maker = book[0]
            crosses = maker.price <= taker.price if taker.is_buy else maker.price >= taker.price
            if not crosses:
                break
            if maker.account == taker.account:
                return  # cancel newest: the taker's remainder is dropped
            qty = min(taker.remaining, maker.remaining)
            self.trades.append((taker.order_id, maker.order_id, maker.price, qty))
            taker.remaining -= qty
            maker.remaining -= qty
            if not maker.remaining:
                book.pop(0)
        if taker.remaining and rest:
            (self.bids if taker.is_buy else self.asks).append(taker)
            self._sort()

    def find(self, order_id: int) -> RefOrder | None:
        return next((o for o in self.bids + self.asks if o.order_id == order_id), None)

    def cancel(self, order_id: int) -> None:
        order = self.find(order_id)
        if order is not None:
            (self.bids if order.is_buy else self.asks).remove(order)

    def amend(self, order_id: int, price: int, remaining: int) -> None:
        """Same price and less quantity: keep place. Otherwise: to the back, and maybe trade."""
        order = self.find(order_id)
        if order is None:
            return
        if price == order.price and remaining < order.remaining:
            order.remaining = remaining
            return
        self.cancel(order_id)
        self.clock += 1
        order.price, order.remaining, order.priority = price, remaining, self.clock
        self._match(order, rest=True)

    def levels(self, is_buy: bool) -> list[tuple[int, int, int]]:
        return [(o.price, o.order_id, o.remaining) for o in (self.bids if is_buy else self.asks)]
