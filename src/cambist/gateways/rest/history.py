"""History endpoints served from the SQL read models (CQRS: queries never touch the engine).

``GET /orders`` (search), ``GET /orders/{id}`` (beyond the live view's window), ``GET /fills``,
``GET /ledger``, a market's ``trades``, ``candles`` and ``ticker``, and the projector rows of
``GET /admin/status``. :meth:`History.override` swaps these rows into the gateway's route table.

Consistency: every answer reflects at least the log position the gateway's live view had when
the request arrived (so a client reads its own writes without asking), and ``min_sequence=N``
waits for N; past the timeout the answer is 503 ``not_caught_up``. Queries run in worker
threads, each with its own database connection.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Literal, Protocol

import msgspec

from cambist.domain.money import format_units
from cambist.domain.types import Side
from cambist.gateways.rest import wire
from cambist.gateways.rest.app import Request, Response, json_response
from cambist.gateways.rest.convert import units
from cambist.gateways.rest.errors import ApiError
from cambist.gateways.rest.openapi import PAGE, Doc
from cambist.gateways.rest.trading import int_param, path_id, time_param
from cambist.gateways.rest.view import MarketView, View, iso
from cambist.readmodels import queries
from cambist.readmodels.projectors import CANDLE_INTERVALS, OrderRow
from cambist.readmodels.store import Row, Store

P = "/api/v1"
MAX_LIMIT = 1000
Handler = Callable[[Request], Awaitable[Response]]
TableRow = tuple[str, str, str, Any, Doc]


class ProjectorsLike(Protocol):
    """What the history needs from the running projectors (``cambist.server.projectors``)."""

    position: int

    def read_store(self) -> Store: ...

    async def wait_for(self, seq: int, timeout: float) -> bool: ...

    def status(self) -> list[tuple[str, int, int]]: ...


class LedgerEntryOut(msgspec.Struct):
    entry_id: str
    sequence: int
    time: str
    asset: str
    kind: Literal["deposit", "withdrawal", "reserve", "release", "fill", "fee"]
    amount: str
    """The change to the account's total (available + reserved) in this asset."""
    available_delta: str
    reserved_delta: str
    order_id: int | None
    trade_id: int | None


class LedgerPage(msgspec.Struct):
    entries: list[LedgerEntryOut]
    next_cursor: str | None = None


class HistoryTickerOut(msgspec.Struct):
    market: str
    last: str | None
    best_bid: str | None
    best_ask: str | None
    open_24h: str | None
    high_24h: str | None
    low_24h: str | None
    volume_24h: str
    quote_volume_24h: str
    trades_24h: int
    sequence: int


def _range(low: int | None, high: int | None, names: str) -> None:
    if low is not None and high is not None and low > high:
        raise ApiError("invalid_parameter", f"{names}: the start is after the end", names)


class History:
    def __init__(
        self,
        view: View,
        projectors: ProjectorsLike,
        timeout_s: float,
        clock: Callable[[], int],
    ) -> None:
        self.view = view
        self.projectors = projectors
        self.timeout_s = timeout_s
        self.clock = clock
        self._local = threading.local()

    # -- plumbing -------------------------------------------------------------------------------

    def _store(self) -> Store:
        store: Store | None = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = self.projectors.read_store()
        return store

    async def _query(self, fn: Callable[[Store], Any]) -> Any:
        return await asyncio.to_thread(lambda: fn(self._store()))

    async def _caught_up(self, req: Request) -> None:
        wanted = self.view.last_seq
        timeout = max(self.timeout_s, 5.0)  # implicit: the client did not choose to wait
        if "min_sequence" in req.query:
            asked = int_param(req.query, "min_sequence", 0, 0, 2**63)
            if asked > self.view.last_seq:
                raise ApiError(
                    "invalid_parameter", f"sequence {asked} is beyond the log", "min_sequence"
                )
            wanted, timeout = max(wanted, asked), self.timeout_s
        if not await self.projectors.wait_for(wanted, timeout):
            raise ApiError("not_caught_up", f"the read models have not reached {wanted} in time")

    def _market(self, name: str, field: str = "market") -> MarketView:
        m = self.view.markets.get(name)
        if m is None:
            raise ApiError("unknown_market", f"no market {name!r}", field)
        return m

    def _scales(self, market: str) -> tuple[int, int]:
        m = self.view.markets[market]
        return self.view.assets[m.base], self.view.assets[m.quote]

    @staticmethod
    def _cursor_int(q: dict[str, str]) -> int | None:
        text = q.get("cursor")
        if not text:
            return None
        if not text.isdigit() or len(text) > 18:
            raise ApiError("invalid_parameter", "cursor must be a next_cursor value", "cursor")
        return int(text)

    @staticmethod
    def _cursor_pair(q: dict[str, str]) -> tuple[int, int] | None:
        text = q.get("cursor")
        if not text:
            return None
        try:
            return queries.parse_pair_cursor(text)
        except ValueError as exc:
            raise ApiError("invalid_parameter", str(exc), "cursor") from None

    @staticmethod
    def _times(q: dict[str, str]) -> tuple[int | None, int | None]:
        start, end = time_param(q, "start"), time_param(q, "end")
        _range(start, end, "start")
        return start, end

    # -- formatting -----------------------------------------------------------------------------

    def order_out(self, o: OrderRow) -> wire.OrderOut:
        bs, qs = self._scales(o.market)
        by_budget = bool(o.quote_quantity) and not o.quantity
        remaining = 0 if by_budget or o.status == "filled" else o.remaining

        def opt(v: int) -> str | None:
            return format_units(v, qs) if v else None

        return wire.OrderOut(
            order_id=o.order_id, client_order_id=o.client_order_id or None, market=o.market,
            side=o.side, type=o.order_type, time_in_force=o.time_in_force,  # type: ignore[arg-type]
            price=opt(o.price), stop_price=opt(o.stop_price),
            quantity=format_units(o.quantity, bs), quote_quantity=opt(o.quote_quantity),
            filled_quantity=format_units(o.filled, bs),
            remaining_quantity=format_units(remaining, bs),
            average_price=format_units(o.filled_quote * 10**bs // o.filled, qs)
            if o.filled else None,
            status=o.status, reason=o.reason or None,  # type: ignore[arg-type]
            created_at=iso(o.created_ts), updated_at=iso(o.updated_ts), sequence=o.seq,
        )  # fmt: skip

    def fill_out(self, r: Row) -> wire.FillOut:
        trade_id, order_id, _acct, market, side, price, qty, _cost, fee, fee_asset, liq, ts, seq = r
        bs, qs = self._scales(market)
        return wire.FillOut(
            trade_id=trade_id, order_id=order_id, market=market, side=side,
            price=format_units(price, qs), quantity=format_units(qty, bs),
            fee=format_units(fee, self.view.assets[fee_asset]), fee_asset=fee_asset,
            liquidity=liq, time=iso(ts), sequence=seq,
        )  # fmt: skip

    # -- handlers -------------------------------------------------------------------------------

    async def list_orders(self, req: Request) -> Response:
        q = req.query
        status = q.get("status") or "open"
        if status not in ("open", "closed", "all"):
            raise ApiError("invalid_parameter", "status must be open, closed or all", "status")
        side = q.get("side") or None
        if side not in (None, "buy", "sell"):
            raise ApiError("invalid_parameter", "side must be buy or sell", "side")
        market = q.get("market") or None
        price_min = price_max = None
        if market is not None:
            qs = self.view.assets[self._market(market).quote]
            price_min = self._price(q, "price_min", qs)
            price_max = self._price(q, "price_max", qs)
            _range(price_min, price_max, "price_min")
        elif q.get("price_min") or q.get("price_max"):
            raise ApiError("invalid_parameter", "a price range needs a market", "market")
        limit = int_param(q, "limit", 100, 1, MAX_LIMIT)
        cursor = self._cursor_int(q)
        start, end = self._times(q)
        await self._caught_up(req)
        account = req.account
        rows, nxt = await self._query(lambda s: queries.search_orders(
            s, account, market=market, status=status, side=side, start=start, end=end,
            price_min=price_min, price_max=price_max, cursor=cursor, limit=limit,
        ))  # fmt: skip
        page = wire.OrdersPage(orders=[self.order_out(o) for o in rows], next_cursor=nxt)
        return json_response(page)

    @staticmethod
    def _price(q: dict[str, str], name: str, scale: int) -> int | None:
        text = q.get(name)
        if not text:
            return None
        try:
            return units(text, scale, "price")
        except ApiError as err:
            raise ApiError("invalid_parameter", err.message, name) from None

    def get_order(self, live: Handler) -> Handler:
        """The live view first (current to the last command); closed orders it no longer
        holds come from the orders table."""

        async def handler(req: Request) -> Response:
            try:
                return await live(req)
            except ApiError as err:
                if err.code != "unknown_order":
                    raise
            order_id = path_id(req.params[0])
            await self._caught_up(req)
            account = req.account
            row = await self._query(lambda s: queries.get_order(s, account, order_id))
            if row is None:
                raise ApiError("unknown_order", "no such order", "order_id")
            return json_response(self.order_out(row))

        return handler

    async def list_fills(self, req: Request) -> Response:
        q = req.query
        market = q.get("market") or None
        if market is not None:
            self._market(market)
        order_id = int_param(q, "order_id", 0, 0, 2**63) or None
        limit = int_param(q, "limit", 100, 1, MAX_LIMIT)
        cursor = self._cursor_pair(q)
        start, end = self._times(q)
        await self._caught_up(req)
        account = req.account
        page = await self._query(lambda s: queries.search_fills(
            s, account, market=market, order_id=order_id, start=start, end=end, cursor=cursor,
            limit=limit,
        ))  # fmt: skip
        out = wire.FillsPage(fills=[self.fill_out(r) for r in page.rows],
                             next_cursor=page.next_cursor)  # fmt: skip
        return json_response(out)

    async def ledger(self, req: Request) -> Response:
        q = req.query
        asset = q.get("asset") or None
        if asset is not None and asset not in self.view.assets:
            raise ApiError("unknown_asset", f"no asset {asset!r}", "asset")
        limit = int_param(q, "limit", 100, 1, MAX_LIMIT)
        cursor = self._cursor_pair(q)
        await self._caught_up(req)
        account = req.account
        page = await self._query(
            lambda s: queries.search_ledger(s, account, asset=asset, cursor=cursor, limit=limit)
        )
        entries = []
        for seq, n, _acct, a, kind, avail, reserved, oid, tid, ts in page.rows:
            scale = self.view.assets[a]
            entries.append(LedgerEntryOut(
                entry_id=f"{seq}.{n}", sequence=seq, time=iso(ts), asset=a, kind=kind,
                amount=format_units(avail + reserved, scale),
                available_delta=format_units(avail, scale),
                reserved_delta=format_units(reserved, scale),
                order_id=oid or None, trade_id=tid or None,
            ))  # fmt: skip
        return json_response(LedgerPage(entries=entries, next_cursor=page.next_cursor))

    async def trades(self, req: Request) -> Response:
        m = self._market(req.params[0])
        q = req.query
        limit = int_param(q, "limit", 100, 1, MAX_LIMIT)
        cursor = self._cursor_int(q)
        start, end = self._times(q)
        await self._caught_up(req)
        page = await self._query(lambda s: queries.search_trades(
            s, m.name, start=start, end=end, cursor=cursor, limit=limit))  # fmt: skip
        bs, qs = self._scales(m.name)
        out = wire.TradesPage(
            trades=[
                wire.PublicTradeOut(
                    trade_id=tid, market=mk, price=format_units(price, qs),
                    quantity=format_units(qty, bs), taker_side=side, time=iso(ts), sequence=seq,
                )
                for tid, mk, price, qty, _cost, side, ts, seq in page.rows
            ],
            next_cursor=page.next_cursor,
        )  # fmt: skip
        return json_response(out)

    async def candles(self, req: Request) -> Response:
        m = self._market(req.params[0])
        q = req.query
        interval = q.get("interval") or "1m"
        if interval not in CANDLE_INTERVALS:
            choices = ", ".join(CANDLE_INTERVALS)
            raise ApiError("invalid_parameter", f"interval must be one of {choices}", "interval")
        limit = int_param(q, "limit", 500, 1, MAX_LIMIT)
        start, end = self._times(q)
        await self._caught_up(req)
        rows = await self._query(
            lambda s: queries.candles(s, m.name, interval, start=start, end=end, limit=limit)
        )
        bs, qs = self._scales(m.name)
        out = [
            wire.CandleOut(
                start=iso(r[2]), open=format_units(r[3], qs), high=format_units(r[4], qs),
                low=format_units(r[5], qs), close=format_units(r[6], qs),
                volume=format_units(r[7], bs), quote_volume=format_units(r[8], qs),
            )
            for r in rows
        ]  # fmt: skip
        return json_response(wire.CandlesOut(market=m.name, interval=interval, candles=out))

    async def ticker(self, req: Request) -> Response:
        m = self._market(req.params[0])
        await self._caught_up(req)
        now = self.clock()
        t = await self._query(lambda s: queries.ticker(s, m.name, now))
        bs, qs = self._scales(m.name)

        def price(v: int | None) -> str | None:
            return format_units(v, qs) if v else None

        out = HistoryTickerOut(
            market=m.name, last=price(t.last), best_bid=price(m.best(Side.BUY)),
            best_ask=price(m.best(Side.SELL)), open_24h=price(t.open), high_24h=price(t.high),
            low_24h=price(t.low), volume_24h=format_units(t.volume, bs),
            quote_volume_24h=format_units(t.quote_volume, qs), trades_24h=t.trades,
            sequence=self.projectors.position,
        )  # fmt: skip
        return json_response(out)

    def status(self, base: Handler) -> Handler:
        async def handler(req: Request) -> Response:
            resp = await base(req)
            if resp.status != 200:
                return resp
            out = msgspec.json.decode(resp.body, type=wire.StatusOut)
            out.projectors = [wire.ProjectorStatus(name=n, position=p, lag=lag)
                              for n, p, lag in self.projectors.status()]  # fmt: skip
            return json_response(out)

        return handler

    # -- the route table ------------------------------------------------------------------------

    def override(self, table: list[TableRow]) -> list[TableRow]:
        """The gateway's table with the history rows swapped in (and ``/ledger`` added)."""
        by_key = {(r[0], r[1]): r for r in table}
        seq_q: dict[str, dict[str, Any]] = {"min_sequence": {"type": "integer", "minimum": 0}}
        pair = {"type": "string", "pattern": "^[0-9]{1,18}\\.[0-9]{1,18}$"}
        market_q: dict[str, dict[str, Any]] = {"market": {"type": "string"}}
        price_q = {"price_min": {"type": "string"}, "price_max": {"type": "string"}}
        mine: list[TableRow] = [
            ("GET", f"{P}/orders", "private", self.list_orders,
             Doc("Order history search, newest first", answer=wire.OrdersPage, query={
                 **market_q, "status": {"type": "string", "enum": ["open", "closed", "all"]},
                 "side": {"type": "string", "enum": ["buy", "sell"]}, **price_q, **PAGE})),
            ("GET", f"{P}/orders/{{order_id}}", "private",
             self.get_order(by_key[("GET", f"{P}/orders/{{order_id}}")][3],),
             Doc("One order (live or closed)", answer=wire.OrderOut)),
            ("GET", f"{P}/fills", "private", self.list_fills,
             Doc("The account's fills, newest first", answer=wire.FillsPage, query={
                 **market_q, "order_id": {"type": "integer", "minimum": 0},
                 **PAGE, "cursor": pair})),
            ("GET", f"{P}/ledger", "private", self.ledger,
             Doc("Every balance movement, newest first", answer=LedgerPage, query={
                 "asset": {"type": "string"}, "limit": PAGE["limit"], "cursor": pair})),
            ("GET", f"{P}/markets/{{market}}/trades", "public", self.trades,
             Doc("Public trades, newest first", answer=wire.TradesPage,
                 query={**PAGE, **seq_q})),
            ("GET", f"{P}/markets/{{market}}/candles", "public", self.candles,
             Doc("OHLCV candles, oldest first", answer=wire.CandlesOut, query={
                 "interval": {"type": "string", "enum": list(CANDLE_INTERVALS)},
                 "start": PAGE["start"], "end": PAGE["end"], "limit": PAGE["limit"],
                 **seq_q})),
            ("GET", f"{P}/markets/{{market}}/ticker", "public", self.ticker,
             Doc("24 h ticker", answer=HistoryTickerOut, query=seq_q)),
            ("GET", f"{P}/admin/status", "admin",
             self.status(by_key[("GET", f"{P}/admin/status")][3]),
             Doc("Log, engine, view and projector positions", answer=wire.StatusOut)),
        ]  # fmt: skip
        replaced = {(r[0], r[1]) for r in mine}
        out = [next(m for m in mine if (m[0], m[1]) == (r[0], r[1])) if (r[0], r[1]) in replaced
               else r for r in table]  # fmt: skip
        out += [r for r in mine if (r[0], r[1]) not in by_key]
        return out
