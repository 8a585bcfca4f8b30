"""Read-model queries: what the history endpoints ask, as parameterised SQL over the indexes.

Pages are keyset pages, newest first: a cursor is the sort key of the last row served, and the
next page asks for keys strictly below it. New rows always get higher keys (order ids, trade
ids and sequences only grow), so a page never shifts while rows arrive, unlike OFFSET paging.
Each function fetches ``limit + 1`` rows to know whether there is a next page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cambist.readmodels import schema
from cambist.readmodels.projectors import CANDLE_INTERVALS, LIVE_STATUSES, OrderRow
from cambist.readmodels.store import Row, Store

_CLOSED = ("filled", "cancelled", "rejected", "expired")
DAY_NS = 86_400 * 1_000_000_000


@dataclass(slots=True)
class Page:
    rows: list[Row]
    next_cursor: str | None


class _Where:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.params: list[Any] = []

    def add(self, sql: str, *params: Any) -> None:
        self.parts.append(sql)
        self.params.extend(params)

    def sql(self) -> str:
        return " AND ".join(self.parts) if self.parts else "1 = 1"

    def also(self, sql: str, *params: Any) -> _Where:
        """A copy with one more condition."""
        other = _Where()
        other.parts, other.params = [*self.parts, sql], [*self.params, *params]
        return other


def _page(rows: list[Row], limit: int, key: Any) -> Page:
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, key(rows[-1]) if more and rows else None)


def _newest_rows(
    store: Store, table: str, columns: Sequence[str], where: _Where, order_by: str, limit: int
) -> list[Row]:
    """Up to ``limit + 1`` rows of ``table`` newest first (the extra one says a page follows)."""
    return store.query(
        f"SELECT {', '.join(columns)} FROM {table} WHERE {where.sql()} ORDER BY {order_by} LIMIT ?",
        (*where.params, limit + 1),
    )


def _newest_page(
    store: Store,
    table: str,
    columns: Sequence[str],
    where: _Where,
    order_by: str,
    limit: int,
    key: Any,
) -> Page:
    """One page of ``table`` newest first: fetch ``limit + 1`` rows to know whether another page
    follows, and make ``next_cursor`` from the last row kept (every search pages this way)."""
    return _page(_newest_rows(store, table, columns, where, order_by, limit), limit, key)


def search_orders(
    store: Store,
    account: int,
    *,
    market: str | None = None,
    status: str = "all",
    side: str | None = None,
    start: int | None = None,
    end: int | None = None,
    price_min: int | None = None,
    price_max: int | None = None,
    cursor: int | None = None,
    limit: int = 100,
) -> tuple[list[OrderRow], str | None]:
    """An account's orders, newest first; ``start``/``end`` bound the creation time
    (``[start, end)``), ``price_min``/``price_max`` the limit price (inclusive)."""
    w = _Where()
    w.add("account = ?", account)
    if market is not None:
        w.add("market = ?", market)
    if status in ("open", "closed"):
        group = LIVE_STATUSES if status == "open" else _CLOSED
        w.add(f"status IN ({', '.join('?' * len(group))})", *group)
    if side is not None:
        w.add("side = ?", side)
    if start is not None:
        w.add("created_ts >= ?", start)
    if end is not None:
        w.add("created_ts < ?", end)
    if price_min is not None:
        w.add("price >= ?", price_min)
    if price_max is not None:
        w.add("price <= ?", price_max)
    if cursor is not None:
        w.add("order_id < ?", cursor)
    if market is not None:
        rows = _newest_rows(store, "orders", schema.ORDER_COLUMNS, w, "order_id DESC", limit)
    else:
        rows = _merged_rows(store, "orders", schema.ORDER_COLUMNS, w, "market", _MARKETS_SQL,
                            "order_id DESC", limit, _order_key)  # fmt: skip
    page = _page(rows, limit, lambda r: str(r[0]))
    return [OrderRow(*r) for r in page.rows], page.next_cursor


_MARKETS_SQL = "SELECT market FROM ref_markets ORDER BY market"
_ASSETS_SQL = "SELECT asset FROM ref_assets ORDER BY asset"


def _order_key(r: Row) -> int:
    return int(r[0])


def _merged_rows(
    store: Store,
    table: str,
    columns: Sequence[str],
    where: _Where,
    column: str,
    values_sql: str,
    order_by: str,
    limit: int,
    key: Callable[[Row], Any],
) -> list[Row]:
    """Up to ``limit + 1`` rows newest first over every value of ``column`` (the markets or
    the assets, a handful), read as one key range per value and merged by ``key``.

    For tables whose index leads with ``(account, column, ...)`` and has no ``(account, ...)``
    twin: each index costs about as much per inserted row as the row itself, and a page over
    every value needs at most ``values x (limit + 1)`` rows read in index order, instead of a
    sort of the whole account."""
    rows: list[Row] = []
    for (value,) in store.query(values_sql):
        rows.extend(
            _newest_rows(store, table, columns, where.also(f"{column} = ?", value), order_by, limit)
        )
    rows.sort(key=key, reverse=True)
    return rows[: limit + 1]


def get_order(store: Store, account: int, order_id: int) -> OrderRow | None:
    cols = ", ".join(schema.ORDER_COLUMNS)
    rows = store.query(
        f"SELECT {cols} FROM orders WHERE order_id = ? AND account = ?", (order_id, account)
    )
    return OrderRow(*rows[0]) if rows else None


def parse_pair_cursor(text: str) -> tuple[int, int]:
    """``"A.B"`` (two integers): the cursor of fills and ledger entries."""
    head, sep, tail = text.partition(".")
    if not sep or not head.isdigit() or not tail.isdigit() or len(head) > 18 or len(tail) > 18:
        raise ValueError("cursor must be two integers joined by '.', as returned in next_cursor")
    return int(head), int(tail)


def search_fills(
    store: Store,
    account: int,
    *,
    market: str | None = None,
    order_id: int | None = None,
    start: int | None = None,
    end: int | None = None,
    cursor: tuple[int, int] | None = None,
    limit: int = 100,
) -> Page:
    """An account's fills, newest first (by trade id, then order id); rows are
    :data:`schema.FILL_COLUMNS`."""
    w = _Where()
    w.add("account = ?", account)
    if market is not None:
        w.add("market = ?", market)
    if order_id is not None:
        w.add("order_id = ?", order_id)
    if start is not None:
        w.add("ts >= ?", start)
    if end is not None:
        w.add("ts < ?", end)
    if cursor is not None:
        w.add("(trade_id, order_id) < (?, ?)", *cursor)  # a row value: one index range
    return _newest_page(
        store, "fills", schema.FILL_COLUMNS, w, "trade_id DESC, order_id DESC", limit,
        lambda r: f"{r[0]}.{r[1]}",
    )  # fmt: skip


def search_ledger(
    store: Store,
    account: int,
    *,
    asset: str | None = None,
    cursor: tuple[int, int] | None = None,
    limit: int = 100,
) -> Page:
    """An account's ledger entries, newest first; rows are :data:`schema.LEDGER_COLUMNS`.

    The ledger is keyed ``(account, asset, seq, n)`` with no other index (the cheapest layout
    to write), so one asset's page is one range of the key and a page over every asset merges
    one range per asset (:func:`_merged_rows`)."""
    w = _Where()
    w.add("account = ?", account)
    if cursor is not None:
        w.add("(seq, n) < (?, ?)", *cursor)
    order = "seq DESC, n DESC"
    if asset is not None:
        rows = _newest_rows(store, "ledger", schema.LEDGER_COLUMNS, w.also("asset = ?", asset),
                            order, limit)  # fmt: skip
    else:
        rows = _merged_rows(store, "ledger", schema.LEDGER_COLUMNS, w, "asset", _ASSETS_SQL,
                            order, limit, _ledger_key)  # fmt: skip
    return _page(rows, limit, _ledger_cursor)


def _ledger_key(r: Row) -> tuple[int, int]:
    return int(r[0]), int(r[1])


def _ledger_cursor(r: Row) -> str:
    return f"{r[0]}.{r[1]}"


def search_trades(
    store: Store,
    market: str,
    *,
    start: int | None = None,
    end: int | None = None,
    cursor: int | None = None,
    limit: int = 100,
) -> Page:
    """A market's public trades, newest first; rows are :data:`schema.TRADE_COLUMNS`."""
    w = _Where()
    w.add("market = ?", market)
    if start is not None:
        w.add("ts >= ?", start)
    if end is not None:
        w.add("ts < ?", end)
    if cursor is not None:
        w.add("trade_id < ?", cursor)
    return _newest_page(
        store, "trades", schema.TRADE_COLUMNS, w, "trade_id DESC", limit, lambda r: str(r[0])
    )


TOP_TRADES_SQL = (
    "SELECT trade_id, price, quantity, ts FROM trades WHERE market = ? AND ts >= ?"
    " ORDER BY price DESC, ts DESC LIMIT ?"
)
"""The docs' example: the highest-priced trades of a market since a time (index
``trades_market_price``: walked backwards from the top price, ``ts`` checked in the index)."""


def top_trades(store: Store, market: str, since: int, limit: int = 10) -> list[Row]:
    return store.query(TOP_TRADES_SQL, (market, since, limit))


def candles(
    store: Store,
    market: str,
    interval: str,
    *,
    start: int | None = None,
    end: int | None = None,
    limit: int = 500,
) -> list[Row]:
    """Candles oldest first: the newest ``limit`` buckets starting in ``[start, end)``; rows are
    :data:`schema.CANDLE_COLUMNS`."""
    w = _Where()
    w.add("market = ? AND interval_s = ?", market, CANDLE_INTERVALS[interval])
    if start is not None:
        w.add("start_ts >= ?", start)
    if end is not None:
        w.add("start_ts < ?", end)
    rows = store.query(
        f"SELECT {', '.join(schema.CANDLE_COLUMNS)} FROM candles WHERE {w.sql()}"
        " ORDER BY start_ts DESC LIMIT ?",
        (*w.params, limit),
    )
    rows.reverse()
    return rows


@dataclass(slots=True)
class Ticker:
    market: str
    last: int | None
    last_ts: int | None
    open: int | None
    high: int | None
    low: int | None
    volume: int
    quote_volume: int
    trades: int


def ticker(store: Store, market: str, now: int) -> Ticker:
    """Last trade, and the 24 h figures from the one-minute candles of ``(now - 24 h, now]``
    (the bucket holding ``now - 24 h`` is left out: at most 1440 rows read)."""
    last = store.query("SELECT last_price, last_ts FROM ticker WHERE market = ?", (market,))
    minute = 60 * 1_000_000_000
    since = now - DAY_NS
    since += -since % minute
    rows = store.query(
        "SELECT open, high, low, volume, quote_volume, trades FROM candles"
        " WHERE market = ? AND interval_s = 60 AND start_ts >= ? AND start_ts <= ?"
        " ORDER BY start_ts",
        (market, since, now),
    )
    return Ticker(
        market=market,
        last=int(last[0][0]) if last else None,
        last_ts=int(last[0][1]) if last else None,
        open=int(rows[0][0]) if rows else None,
        high=max(int(r[1]) for r in rows) if rows else None,
        low=min(int(r[2]) for r in rows) if rows else None,
        volume=sum(int(r[3]) for r in rows),
        quote_volume=sum(int(r[4]) for r in rows),
        trades=sum(int(r[5]) for r in rows),
    )


def ledger_sums(store: Store, up_to: int = 2**62) -> dict[tuple[int, str], tuple[int, int]]:
    """(account, asset) -> (available, reserved) summed over the ledger up to a sequence."""
    rows = store.query(
        "SELECT account, asset, SUM(available_delta), SUM(reserved_delta) FROM ledger"
        " WHERE seq <= ? GROUP BY account, asset",
        (up_to,),
    )
    return {(int(a), str(s)): (int(av), int(rv)) for a, s, av, rv in rows}


def fill_fee_sums(store: Store, up_to: int = 2**62) -> dict[str, int]:
    """fee asset -> the fees of every fill up to a sequence."""
    rows = store.query(
        "SELECT fee_asset, SUM(fee) FROM fills WHERE seq <= ? GROUP BY fee_asset", (up_to,)
    )
    return {str(a): int(f) for a, f in rows}


def columns(table: str) -> Sequence[str]:
    return {
        "orders": schema.ORDER_COLUMNS, "fills": schema.FILL_COLUMNS,
        "trades": schema.TRADE_COLUMNS, "candles": schema.CANDLE_COLUMNS,
        "ledger": schema.LEDGER_COLUMNS,
    }[table]  # fmt: skip
