"""Projectors: folds of the event stream into SQL tables, each with its own high-water mark.

A projector buffers what a run of commands changes in memory and writes it with its mark in one
transaction (:meth:`Projector.flush`), so after a crash it resumes from the mark with nothing
applied twice or skipped. The mark update is conditional on the mark it started from, so two
runners of the same projector cannot both commit the same batch (the loser rolls back).

Three projectors, named for ``cambist projector run NAME``:

- ``orders``: the latest state of every order (rejected ones included) and every fill;
- ``market``: public trades, OHLCV candles at six intervals, the last trade per market;
- ``ledger``: every balance movement as an entry (see :mod:`cambist.readmodels.ledger`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from cambist.domain import events as ev
from cambist.domain.commands import Command, CreateAsset, CreateMarket, PlaceOrder
from cambist.domain.reasons import Reject
from cambist.domain.types import CancelReason, OrderStatus, OrderType, Side, TimeInForce
from cambist.readmodels import schema
from cambist.readmodels.errors import ProjectorConflict
from cambist.readmodels.ledger import LedgerFold
from cambist.readmodels.store import Store, upsert_sql

__all__ = ["PROJECTORS", "Projector", "ProjectorConflict"]

LIVE_STATUSES = ("pending_trigger", "open", "partially_filled")
CANDLE_INTERVALS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "4h": 14_400, "1d": 86_400}
_NS = 1_000_000_000
_MARKET_TYPES = (OrderType.MARKET, OrderType.STOP_MARKET)
_VALUE: dict[Any, str] = {
    m: m.value for kind in (Side, OrderType, TimeInForce, OrderStatus, CancelReason, Reject)
    for m in kind
}  # fmt: skip
"""Enum member -> its text: a dict lookup is several times cheaper than ``.value`` on 3.11."""
_REFERENCE_COMMANDS = (CreateAsset, CreateMarket)
"""The only commands whose events carry reference data (checked per command, not per event)."""


Write = Callable[[Store], None]
"""Writes one sealed batch's rows (inside its transaction)."""


class Projector(ABC):
    """Base: the mark, the reference data every projector needs, and the flush protocol."""

    name: str
    tables: tuple[str, ...]
    retired: tuple[str, ...] = ()
    """Tables older versions created: ``drop`` (``cambist projector rebuild``) removes them."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.mark = 0
        self.mark_ts = 0
        self._committed = 0
        self.markets: dict[str, tuple[str, str]] = {}
        self._new_assets: list[tuple[str, int]] = []
        self._new_markets: list[tuple[str, str, str]] = []

    @abstractmethod
    def ddl(self) -> list[str]: ...

    @abstractmethod
    def reset(self) -> None:
        """Forget every buffered change and reload the caches from the committed tables."""

    @abstractmethod
    def on_events(self, seq: int, ts: int, command: Command, events: list[ev.Event]) -> None: ...

    @abstractmethod
    def take(self) -> Write:
        """Move the buffered rows out, as plain tuples (folding may go on while they are
        written), and return what writes them inside the flush transaction. May read the
        store: never called while a sealed batch is still committing."""

    def open(self) -> None:
        """Create the tables if needed, read the mark and the caches."""
        schema.create_common(self.store)
        with self.store.transaction():
            for stmt in self.ddl():
                self.store.execute(stmt)
            self.store.execute(
                "INSERT INTO projector_marks (name, seq, ts) VALUES (?, 0, 0)"
                " ON CONFLICT (name) DO NOTHING",
                (self.name,),
            )
        self.load()

    def load(self) -> None:
        rows = self.store.query("SELECT seq, ts FROM projector_marks WHERE name = ?", (self.name,))
        self.mark, self.mark_ts = (int(rows[0][0]), int(rows[0][1])) if rows else (0, 0)
        self._committed = self.mark
        self.markets = {
            m: (b, q) for m, b, q in self.store.query("SELECT market, base, quote FROM ref_markets")
        }
        self._new_assets.clear()
        self._new_markets.clear()
        self.reset()

    def apply(self, seq: int, ts: int, command: Command, events: list[ev.Event]) -> None:
        """Fold one applied command (ignored at or below the mark: already projected)."""
        if seq <= self.mark:
            return
        if type(command) in _REFERENCE_COMMANDS:
            for e in events:
                if type(e) is ev.MarketCreated:
                    assert isinstance(e, ev.MarketCreated)
                    self.markets[e.market] = (e.base, e.quote)
                    self._new_markets.append((e.market, e.base, e.quote))
                elif type(e) is ev.AssetCreated:
                    assert isinstance(e, ev.AssetCreated)
                    self._new_assets.append((e.asset, e.scale))
        self.on_events(seq, ts, command, events)
        self.mark, self.mark_ts = seq, ts

    @property
    def pending(self) -> int:
        """Commands folded but not yet committed."""
        return self.mark - self._committed

    def seal(self) -> Callable[[], None] | None:
        """Take the batch folded since the last one: return what commits its rows and its mark
        in one transaction, or None if there is nothing new. The commit may run in another
        thread while this projector folds on (``cambist projector run`` on PostgreSQL does);
        batches must commit in the order they were sealed, and after a failed one the
        projector must :meth:`load` before folding again. ``pending`` is 0 from here on."""
        if self.mark == self._committed:
            return None
        store, name = self.store, self.name
        write = self.take()
        assets, markets = self._new_assets, self._new_markets
        self._new_assets, self._new_markets = [], []
        start, mark, mark_ts = self._committed, self.mark, self.mark_ts
        self._committed = mark

        def commit() -> None:
            with store.transaction():
                # The mark first: a second runner of this projector stops here, before its
                # rows could collide with the first one's (and on PostgreSQL it waits on the
                # row lock until the first commits, then finds the mark moved).
                moved = store.execute(
                    "UPDATE projector_marks SET seq = ?, ts = ? WHERE name = ? AND seq = ?",
                    (mark, mark_ts, name, start),
                )
                if moved != 1:
                    raise ProjectorConflict(
                        f"projector {name}: mark is no longer {start}"
                        " (is another runner of it active?)"
                    )
                if assets:
                    store.executemany(
                        "INSERT INTO ref_assets (asset, scale) VALUES (?, ?)"
                        " ON CONFLICT (asset) DO NOTHING",
                        assets,
                    )
                if markets:
                    store.executemany(
                        "INSERT INTO ref_markets (market, base, quote) VALUES (?, ?, ?)"
                        " ON CONFLICT (market) DO NOTHING",
                        markets,
                    )
                write(store)

        return commit

    def flush(self) -> None:
        """Write the buffered rows and the mark in one transaction, now."""
        commit = self.seal()
        if commit is None:
            return
        try:
            commit()
        except BaseException:
            self.load()
            raise

    def drop(self) -> None:
        """Drop the projector's tables and its mark (``cambist projector rebuild``)."""
        schema.create_common(self.store)
        with self.store.transaction():
            for table in (*self.tables, *self.retired):
                self.store.execute(f"DROP TABLE IF EXISTS {table}")
            self.store.execute("DELETE FROM projector_marks WHERE name = ?", (self.name,))


class OrderRow:
    """One row of ``orders``; field order is :data:`schema.ORDER_COLUMNS`.

    A plain class with an explicit ``__init__`` rather than a dataclass: under mypyc (``make
    native``) a dataclass's generated ``__init__`` stays interpreted bytecode, this one compiles
    (a tenth of the compiled projectors' time went into it)."""

    __slots__ = schema.ORDER_COLUMNS

    def __init__(
        self, order_id: int, account: int, market: str, side: str, order_type: str,
        time_in_force: str, price: int, stop_price: int, quantity: int, quote_quantity: int,
        filled: int, filled_quote: int, remaining: int, status: str, reason: str,
        client_order_id: str, created_ts: int, updated_ts: int, seq: int, expire_ts: int,
        post_only: int,
    ) -> None:  # fmt: skip
        self.order_id = order_id
        self.account = account
        self.market = market
        self.side = side
        self.order_type = order_type
        self.time_in_force = time_in_force
        self.price = price
        self.stop_price = stop_price
        self.quantity = quantity
        self.quote_quantity = quote_quantity
        self.filled = filled
        self.filled_quote = filled_quote
        self.remaining = remaining
        self.status = status
        self.reason = reason
        self.client_order_id = client_order_id
        self.created_ts = created_ts
        self.updated_ts = updated_ts
        self.seq = seq
        self.expire_ts = expire_ts
        self.post_only = post_only

    @staticmethod
    def placed(cmd: PlaceOrder, seq: int, ts: int, status: str) -> OrderRow:
        return OrderRow(
            seq, cmd.account, cmd.market, _VALUE[cmd.side], _VALUE[cmd.order_type],
            _VALUE[cmd.time_in_force], cmd.price, cmd.stop_price, cmd.quantity, cmd.quote_quantity,
            0, 0, cmd.quantity, status, "", cmd.client_order_id, ts, ts, seq, cmd.expire_ts,
            int(cmd.post_only),
        )  # fmt: skip

    def row(self) -> tuple[Any, ...]:
        """The whole row, in column order (written out field by field: compiled, that is a few
        direct reads; ``attrgetter`` or ``dataclasses.astuple`` go through ``getattr``)."""
        return (
            self.order_id, self.account, self.market, self.side, self.order_type,
            self.time_in_force, self.price, self.stop_price, self.quantity, self.quote_quantity,
            self.filled, self.filled_quote, self.remaining, self.status, self.reason,
            self.client_order_id, self.created_ts, self.updated_ts, self.seq, self.expire_ts,
            self.post_only,
        )  # fmt: skip

    def changes(self) -> tuple[Any, ...]:
        """What a later event can change (:data:`schema.ORDER_CHANGING`), then the key (for
        ``Store.update_rows``)."""
        return (
            self.price, self.quantity, self.filled, self.filled_quote, self.remaining,
            self.status, self.reason, self.updated_ts, self.seq, self.order_id,
        )  # fmt: skip


class OrdersProjector(Projector):
    """Orders (latest state) and fills. Live orders are cached in memory (loaded from the table
    on start), so each command's changes are plain assignments and each order is written once
    per batch, however many trades touched it."""

    name = "orders"
    tables: tuple[str, ...] = ("orders", "fills")

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.live: dict[int, OrderRow] = {}
        self.dirty: dict[int, OrderRow] = {}
        self.new: set[int] = set()
        """Orders placed in this batch: inserted whole; the others only update what changed."""
        self.fills: list[tuple[Any, ...]] = []
        self._takers: list[OrderRow] = []

    def ddl(self) -> list[str]:
        return schema.orders_ddl(self.store)

    def reset(self) -> None:
        cols = ", ".join(schema.ORDER_COLUMNS)
        marks = ", ".join("?" * len(LIVE_STATUSES))
        rows = self.store.query(
            f"SELECT {cols} FROM orders WHERE status IN ({marks})", LIVE_STATUSES
        )
        self.live = {int(r[0]): OrderRow(*r) for r in rows}
        self.dirty = {}
        self.new = set()
        self.fills = []

    def _order(self, order_id: int) -> OrderRow:
        o = self.live.get(order_id)
        if o is None:
            raise LookupError(f"projector orders: event for unknown live order {order_id}")
        return o

    def on_events(self, seq: int, ts: int, command: Command, events: list[ev.Event]) -> None:
        dirty = self.dirty
        for e in events:
            t = type(e)
            if t is ev.Trade:
                assert isinstance(e, ev.Trade)
                self._trade(e, seq, ts)
            elif t is ev.OrderAccepted:
                assert isinstance(e, ev.OrderAccepted) and isinstance(command, PlaceOrder)
                o = OrderRow.placed(command, seq, ts, _VALUE[e.status])
                self.live[seq] = dirty[seq] = o
                self.new.add(seq)
                if (
                    command.order_type in _MARKET_TYPES
                    and e.status is not OrderStatus.PENDING_TRIGGER
                ):
                    self._takers.append(o)
            elif t is ev.OrderCancelled or t is ev.OrderExpired:
                assert isinstance(e, ev.OrderCancelled | ev.OrderExpired)
                o = self._order(e.order_id)
                if isinstance(e, ev.OrderCancelled):
                    o.status, o.reason = "cancelled", _VALUE[e.reason]
                else:
                    o.status, o.reason = "expired", "expired"
                o.remaining, o.seq, o.updated_ts = e.remaining, seq, ts
                dirty[o.order_id] = o
            elif t is ev.OrderAmended:
                assert isinstance(e, ev.OrderAmended)
                o = self._order(e.order_id)
                o.price, o.quantity, o.remaining = e.price, e.quantity, e.remaining
                o.seq, o.updated_ts = seq, ts
                dirty[o.order_id] = o
            elif t is ev.OrderTriggered:
                assert isinstance(e, ev.OrderTriggered)
                o = self._order(e.order_id)
                o.status, o.seq, o.updated_ts = "open", seq, ts
                dirty[o.order_id] = o
                if o.order_type == "stop_market":
                    self._takers.append(o)
            elif t is ev.ReservationReleased:
                assert isinstance(e, ev.ReservationReleased)
                o = self._order(e.order_id)
                o.status, o.seq, o.updated_ts = "filled", seq, ts
                dirty[o.order_id] = o
            elif t is ev.CommandRejected:
                assert isinstance(e, ev.CommandRejected)
                if e.command == "place" and isinstance(command, PlaceOrder):
                    o = OrderRow.placed(command, seq, ts, "rejected")
                    o.reason, o.remaining = _VALUE[e.reason], 0
                    dirty[seq] = o
                    self.new.add(seq)
        if self._takers:
            # A market order never rests: still live after its command means it filled exactly.
            for o in self._takers:
                if o.status in ("open", "partially_filled"):
                    o.status = "filled"
            self._takers.clear()

    def _trade(self, e: ev.Trade, seq: int, ts: int) -> None:
        base, quote = self.markets[e.market]
        qty, cost, tid, market, price = e.quantity, e.quote_amount, e.trade_id, e.market, e.price
        if e.taker_side is Side.BUY:
            taker_side, maker_side, taker_fee_asset, maker_fee_asset = "buy", "sell", base, quote
        else:
            taker_side, maker_side, taker_fee_asset, maker_fee_asset = "sell", "buy", quote, base
        dirty, fills = self.dirty, self.fills
        for order_id, side, remaining, fee, fee_asset, liquidity in (
            (e.taker_order_id, taker_side, e.taker_remaining, e.taker_fee, taker_fee_asset,
             "taker"),
            (e.maker_order_id, maker_side, e.maker_remaining, e.maker_fee, maker_fee_asset,
             "maker"),
        ):  # fmt: skip
            o = self._order(order_id)
            o.filled += qty
            o.filled_quote += cost
            o.remaining = remaining
            o.status = "filled" if remaining == 0 else "partially_filled"
            o.seq, o.updated_ts = seq, ts
            dirty[order_id] = o
            fills.append((tid, order_id, o.account, market, side, price, qty, cost, fee,
                          fee_asset, liquidity, ts, seq))  # fmt: skip

    def take(self) -> Write:
        new, fills = self.new, self.fills
        placed = [o.row() for i, o in self.dirty.items() if i in new]
        changed = [o.changes() for i, o in self.dirty.items() if i not in new]
        live = self.live
        for order_id, o in self.dirty.items():
            if o.status not in LIVE_STATUSES:
                live.pop(order_id, None)
        self.dirty, self.new, self.fills = {}, set(), []

        def write(store: Store) -> None:
            store.copy_rows("orders", schema.ORDER_COLUMNS, placed)
            store.update_rows("orders", schema.ORDER_CHANGING, "order_id", changed)
            store.copy_rows("fills", schema.FILL_COLUMNS, fills)

        return write


_TICKER_COLUMNS = ("market", "last_price", "last_trade_id", "last_ts", "seq")


class MarketProjector(Projector):
    """Public trades, candles (merged per bucket within a batch, then one upsert each) and the
    last trade per market (the ticker's ``last``; its 24 h figures come from 1m candles)."""

    name = "market"
    tables: tuple[str, ...] = ("trades", "candles", "ticker")

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.trades: list[tuple[Any, ...]] = []
        self.candles: dict[tuple[str, int, int], list[int]] = {}
        self.ticker: dict[str, tuple[str, int, int, int, int]] = {}
        g, le = store.greatest, store.least
        self._candle_sql = upsert_sql(
            "candles", schema.CANDLE_COLUMNS, ("market", "interval_s", "start_ts"),
            f"high = {g}(candles.high, excluded.high), low = {le}(candles.low, excluded.low),"
            " close = excluded.close, volume = candles.volume + excluded.volume,"
            " quote_volume = candles.quote_volume + excluded.quote_volume,"
            " trades = candles.trades + excluded.trades",
        )  # fmt: skip

    def ddl(self) -> list[str]:
        return schema.market_ddl(self.store)

    def reset(self) -> None:
        self.trades, self.candles, self.ticker = [], {}, {}

    def on_events(self, seq: int, ts: int, command: Command, events: list[ev.Event]) -> None:
        candles = self.candles
        for e in events:
            if type(e) is not ev.Trade:
                continue
            assert isinstance(e, ev.Trade)
            price, qty, cost = e.price, e.quantity, e.quote_amount
            self.trades.append(
                (e.trade_id, e.market, price, qty, cost, e.taker_side.value, ts, seq)
            )
            self.ticker[e.market] = (e.market, price, e.trade_id, ts, seq)
            for span in CANDLE_INTERVALS.values():
                start = ts - ts % (span * _NS)
                key = (e.market, span, start)
                c = candles.get(key)
                if c is None:
                    candles[key] = [price, price, price, price, qty, cost, 1]
                else:
                    if price > c[1]:
                        c[1] = price
                    if price < c[2]:
                        c[2] = price
                    c[3] = price
                    c[4] += qty
                    c[5] += cost
                    c[6] += 1

    def take(self) -> Write:
        trades, ticker = self.trades, list(self.ticker.values())
        candles = [(*k, *v) for k, v in self.candles.items()]
        candle_sql = self._candle_sql
        self.reset()

        def write(store: Store) -> None:
            store.copy_rows("trades", schema.TRADE_COLUMNS, trades)
            if candles:
                store.executemany(candle_sql, candles)
            store.upsert_rows("ticker", _TICKER_COLUMNS, ("market",), ticker)

        return write


class LedgerProjector(Projector):
    """Every balance movement as an entry keyed ``(account, asset, seq, n)``.

    A release names its order, not the asset: the fold remembers the spend asset of the orders
    it saw placed, and one placed before it started is looked up when the batch is taken, in
    the order's ``reserve`` entry at the order's own sequence (order id = sequence)."""

    name = "ledger"
    tables: tuple[str, ...] = ("ledger",)
    retired: tuple[str, ...] = ("ledger_live",)
    """The live orders' assets, once written at every batch: no longer created."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.fold = LedgerFold(self.markets)
        self.entries: list[tuple[Any, ...]] = []

    def ddl(self) -> list[str]:
        return schema.ledger_ddl(self.store)

    def reset(self) -> None:
        self.fold = LedgerFold(self.markets)
        self.entries = []

    def spend_asset(self, account: int, market: str, order_id: int) -> str:
        """The asset an order placed before the fold started reserved, from the ledger (read
        in :meth:`take`: no batch is being committed on the connection then)."""
        base, quote = self.markets[market]
        for sql in (_RESERVE_AT_PLACEMENT, _ANY_RESERVE):
            rows = self.store.query(sql, (account, base, quote, order_id, order_id))
            if rows:
                return str(rows[0][0])
        raise LookupError(f"projector ledger: no reserve entry for order {order_id}")

    def on_events(self, seq: int, ts: int, command: Command, events: list[ev.Event]) -> None:
        self.entries.extend(self.fold.entries(seq, ts, events))

    def take(self) -> Write:
        entries = self.fold.resolve(self.entries, self.spend_asset)
        self.entries = []

        def write(store: Store) -> None:
            store.copy_rows("ledger", schema.LEDGER_COLUMNS, entries)

        return write


_RESERVE_AT_PLACEMENT = (
    "SELECT asset FROM ledger WHERE account = ? AND asset IN (?, ?) AND seq = ? AND order_id = ?"
    " AND kind = 'reserve' LIMIT 1"
)
"""Two probes of the ledger's key: the reserve entry of the order's own command."""
_ANY_RESERVE = (
    "SELECT asset FROM ledger WHERE account = ? AND asset IN (?, ?) AND seq >= ?"
    " AND order_id = ? AND kind = 'reserve' LIMIT 1"
)
"""If the order reserved nothing when placed (then an amend did, later): a scan of the
account's entries in the market's two assets from the order's sequence on."""


PROJECTORS: dict[str, type[Projector]] = {
    "orders": OrdersProjector,
    "market": MarketProjector,
    "ledger": LedgerProjector,
}
