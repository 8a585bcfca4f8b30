"""A price-time priority order book behind a small interface.

Each side keeps a dict price -> :class:`PriceLevel` and a sorted list of level keys with the best
level at the *end* (bids keyed by price, asks by -price), so the hot paths (best level, removing
an emptied best level) are O(1) list-end operations. Orders at a level form an intrusive doubly
linked FIFO, so a cancel anywhere in the queue is O(1).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator

from cambist.domain.errors import BookInvariantError
from cambist.domain.orders import Order


class PriceLevel:
    __slots__ = ("count", "head", "price", "tail", "total")

    def __init__(self, price: int) -> None:
        self.price = price
        self.total = 0
        self.count = 0
        self.head: Order | None = None
        self.tail: Order | None = None

    def orders(self) -> Iterator[Order]:
        node = self.head
        while node is not None:
            yield node
            node = node.next


class BookSide:
    """One side of the book. Level keys are the price for bids and -price for asks, so the
    best level is always the last key."""

    __slots__ = ("is_bids", "keys", "levels")

    def __init__(self, is_bids: bool) -> None:
        self.is_bids = is_bids
        """Keys negate by test, not ``sign * price``: mypyc multiplies natively only below
        2**30, and prices in minor units are larger (see ``money.mul_div``)."""
        self.levels: dict[int, PriceLevel] = {}
        self.keys: list[int] = []

    def best(self) -> PriceLevel | None:
        keys = self.keys
        if not keys:
            return None
        return self.levels[keys[-1] if self.is_bids else -keys[-1]]

    def best_price(self) -> int:
        """The best price, or 0 when the side is empty."""
        keys = self.keys
        if not keys:
            return 0
        return keys[-1] if self.is_bids else -keys[-1]

    def append(self, order: Order) -> None:
        """Rest ``order`` at the back of its price level."""
        price = order.price
        level = self.levels.get(price)
        if level is None:
            level = PriceLevel(price)
            self.levels[price] = level
            key = price if self.is_bids else -price
            keys = self.keys
            if not keys or key > keys[-1]:
                keys.append(key)
            else:
                insort(keys, key)
        tail = level.tail
        order.prev = tail
        order.next = None
        if tail is None:
            level.head = order
        else:
            tail.next = order
        level.tail = order
        level.total += order.remaining
        level.count += 1
        order.level = level

    def remove(self, order: Order) -> None:
        """Unlink ``order`` from its level; drop the level when it empties."""
        level = order.level
        assert level is not None, "order is not in the book"
        prev, nxt = order.prev, order.next
        if prev is None:
            level.head = nxt
        else:
            prev.next = nxt
        if nxt is None:
            level.tail = prev
        else:
            nxt.prev = prev
        order.prev = order.next = None
        order.level = None
        level.total -= order.remaining
        level.count -= 1
        if level.count == 0:
            self._drop_level(level.price)

    def _drop_level(self, price: int) -> None:
        del self.levels[price]
        key = price if self.is_bids else -price
        keys = self.keys
        if keys[-1] == key:
            keys.pop()
        else:
            del keys[bisect_left(keys, key)]

    def depth(self, limit: int) -> list[tuple[int, int]]:
        """``[(price, total quantity), ...]`` best first, at most ``limit`` levels."""
        keys, levels, bids = self.keys, self.levels, self.is_bids
        out = []
        for key in reversed(keys[-limit:] if limit > 0 else keys):
            level = levels[key if bids else -key]
            out.append((level.price, level.total))
        return out

    def levels_best_first(self) -> Iterator[PriceLevel]:
        for key in reversed(self.keys):
            yield self.levels[key if self.is_bids else -key]

    def order_count(self) -> int:
        return sum(level.count for level in self.levels.values())


class OrderBook:
    """Both sides of one market's book."""

    __slots__ = ("asks", "bids", "market")

    def __init__(self, market: str) -> None:
        self.market = market
        self.bids = BookSide(is_bids=True)
        self.asks = BookSide(is_bids=False)

    def side_of(self, order: Order) -> BookSide:
        return self.bids if order.is_buy else self.asks

    def opposite_of(self, order: Order) -> BookSide:
        return self.asks if order.is_buy else self.bids

    def validate_invariants(self) -> None:
        """Raise :class:`BookInvariantError` unless the book is well formed and not crossed."""
        for side in (self.bids, self.asks):
            expected_keys = sorted(p if side.is_bids else -p for p in side.levels)
            if side.keys != expected_keys:
                raise BookInvariantError(f"{self.market}: level keys out of order")
            for price, level in side.levels.items():
                if level.price != price or level.count <= 0:
                    raise BookInvariantError(f"{self.market}: bad level {price}")
                total = count = 0
                prev: Order | None = None
                for order in level.orders():
                    if order.prev is not prev or order.level is not level:
                        raise BookInvariantError(f"{self.market}: broken links at {price}")
                    if order.remaining <= 0 or order.price != price:
                        raise BookInvariantError(f"{self.market}: bad order {order!r}")
                    if order.is_buy != (side is self.bids):
                        raise BookInvariantError(f"{self.market}: {order!r} on the wrong side")
                    total += order.remaining
                    count += 1
                    prev = order
                if level.tail is not prev or total != level.total or count != level.count:
                    raise BookInvariantError(f"{self.market}: level {price} totals disagree")
        bid, ask = self.bids.best_price(), self.asks.best_price()
        if bid and ask and bid >= ask:
            raise BookInvariantError(f"{self.market}: crossed book, bid {bid} >= ask {ask}")
