"""The REST gateway wired in one place: the route table, and the services behind it.

The table below is the whole surface: each row names the method, path, access level, handler
and what the OpenAPI document says about it. ``/health``, ``/ready`` and ``/metrics`` are also
answered at the root for probes and scrapers that do not know the API's prefix.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from cambist.gateways.rest import wire
from cambist.gateways.rest.admin import Admin
from cambist.gateways.rest.app import ADMIN, PRIVATE, PUBLIC, Request, Response, RestApp, Route
from cambist.gateways.rest.auth import Authenticator
from cambist.gateways.rest.errors import ApiError
from cambist.gateways.rest.keystore import KeyStore
from cambist.gateways.rest.metrics import Gauge, Metrics
from cambist.gateways.rest.openapi import DOCS_HTML, PAGE, Doc, build_openapi
from cambist.gateways.rest.public import Public
from cambist.gateways.rest.sequencer import NodeLike, Sequencer
from cambist.gateways.rest.trading import Trading, int_param
from cambist.gateways.rest.view import View

P = "/api/v1"
IDEMPOTENCY: dict[str, dict[str, Any]] = {
    "Idempotency-Key": {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,64}$"}
}


@dataclass(slots=True)
class GatewayConfig:
    skew_ms: int = 5_000
    rate_per_key: float = 2_000.0
    burst_per_key: float = 4_000.0
    max_body: int = 64 * 1024
    max_batch: int = 4096
    keep_closed_orders: int = 200_000
    min_sequence_timeout_s: float = 5.0


class Gateway:
    """Owns the view feed, the sequencer and the handlers; :attr:`app` is the ASGI app."""

    def __init__(
        self,
        node: NodeLike,
        view: View,
        store: KeyStore,
        config: GatewayConfig,
        *,
        clock: Callable[[], int] = time.time_ns,
        on_startup: Callable[[], Awaitable[None]] | None = None,
        on_shutdown: Callable[[], Awaitable[None]] | None = None,
        table_hook: Callable[[list[Any]], list[Any]] | None = None,
    ) -> None:
        self.node, self.view, self.store, self.config = node, view, store, config
        self.metrics = Metrics()
        journal = getattr(node, "journal", None)
        self.log_position: Callable[[], int] = (
            (lambda: int(journal.last_seq)) if journal is not None
            else (lambda: int(node.engine.last_seq))
        )  # fmt: skip
        self.state = "starting"
        self.sequencer = Sequencer(node, view, store, self.metrics, max_batch=config.max_batch)
        self.auth = Authenticator(
            store, skew_ms=config.skew_ms, rate=config.rate_per_key,
            burst=config.burst_per_key, clock_ns=clock,
        )  # fmt: skip
        self.trading = Trading(view, store, self.sequencer)
        self.public = Public(view, self.metrics, self._readiness, clock)
        self.admin = Admin(view, store, self.sequencer, self.trading, node)
        m = self.metrics
        m.add(Gauge("cambist_open_orders", "Live orders in the view", lambda: view.live_count))
        m.add(Gauge("cambist_view_sequence", "Last sequence folded into the view",
                    lambda: view.last_seq))  # fmt: skip
        m.add(Gauge("cambist_sequencer_queue_depth", "Commands waiting for a group commit",
                    lambda: self.sequencer.depth))  # fmt: skip
        m.add(Gauge("cambist_sequencer_batches_in_flight", "Group commits not yet answered",
                    lambda: self.sequencer.inflight))  # fmt: skip
        self.table = self._table() if table_hook is None else table_hook(self._table())
        self.openapi = msgspec.json.encode(build_openapi([(*r[:3], r[4]) for r in self.table]))
        routes = [Route(method, path, self._wrap(method, access, h), access)
                  for method, path, access, h, _ in self.table]  # fmt: skip
        for alias in ("health", "ready", "metrics"):
            target = next(r for r in routes if r.template == f"{P}/{alias}")
            routes.append(Route("GET", f"/{alias}", target.handler, PUBLIC))
        self.app = RestApp(
            routes, self.auth, self.metrics, max_body=config.max_body,
            on_startup=on_startup, on_shutdown=on_shutdown,
        )  # fmt: skip

    def _readiness(self) -> str:
        return "stopping" if self.sequencer.failed is not None else self.state

    def start(self) -> None:
        self.sequencer.start()
        self.state = "ok"

    async def stop(self) -> None:
        self.state = "stopping"
        await self.sequencer.stop()

    def _wrap(
        self, method: str, access: str, handler: Callable[[Request], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """Private reads honour ``min_sequence``: answer once the view has caught up to it."""
        if method != "GET" or access == PUBLIC:
            return handler
        timeout = self.config.min_sequence_timeout_s

        async def read(req: Request) -> Response:
            if "min_sequence" in req.query:
                wanted = int_param(req.query, "min_sequence", 0, 0, 2**63)
                if wanted > self.log_position():
                    raise ApiError("invalid_parameter", f"sequence {wanted} is beyond the log",
                                   "min_sequence")  # fmt: skip
                if not await self.sequencer.wait_view(wanted, timeout):
                    raise ApiError("not_caught_up", f"sequence {wanted} not reached in time")
            return await handler(req)

        return read

    async def _openapi(self, req: Request) -> Response:
        return Response(200, self.openapi)

    async def _docs(self, req: Request) -> Response:
        return Response(200, DOCS_HTML, b"text/html; charset=utf-8")

    def _table(self) -> list[tuple[str, str, str, Any, Doc]]:
        pub, tr, ad = self.public, self.trading, self.admin
        market_q: dict[str, dict[str, Any]] = {"market": {"type": "string"}}
        return [
            ("GET", f"{P}/time", PUBLIC, pub.time, Doc("Server time", answer=wire.TimeOut)),
            ("GET", f"{P}/health", PUBLIC, pub.health, Doc("Liveness", answer=wire.HealthOut)),
            ("GET", f"{P}/ready", PUBLIC, pub.readiness,
             Doc("Readiness: 503 while starting or stopping", answer=wire.HealthOut)),
            ("GET", f"{P}/metrics", PUBLIC, pub.metrics_text,
             Doc("Prometheus metrics", answer=str)),
            ("GET", f"{P}/openapi.json", PUBLIC, self._openapi,
             Doc("This document", answer=dict[str, Any])),
            ("GET", "/docs", PUBLIC, self._docs, Doc("API docs page")),
            ("GET", f"{P}/markets", PUBLIC, pub.markets,
             Doc("Markets and their rules", answer=list[wire.MarketOut])),
            ("GET", f"{P}/markets/{{market}}/book", PUBLIC, pub.book,
             Doc("Order book depth", answer=wire.BookOut,
                 query={"depth": {"type": "integer", "minimum": 1, "maximum": 1000}})),
            ("GET", f"{P}/markets/{{market}}/trades", PUBLIC, pub.trades,
             Doc("Recent public trades, newest first", answer=wire.TradesPage, query=PAGE)),
            ("GET", f"{P}/markets/{{market}}/candles", PUBLIC, pub.candles,
             Doc("OHLCV candles", answer=wire.CandlesOut, query={
                 "interval": {"type": "string", "enum": ["1m", "5m", "15m", "1h", "4h", "1d"]},
                 "start": PAGE["start"], "end": PAGE["end"]})),
            ("GET", f"{P}/markets/{{market}}/ticker", PUBLIC, pub.ticker,
             Doc("24 h ticker", answer=wire.TickerOut)),
            ("POST", f"{P}/orders", PRIVATE, tr.place,
             Doc("Place an order", ok=201, answer=wire.PlacedOut, body=wire.OrderRequest,
                 headers=IDEMPOTENCY, errors=(400, 404, 409, 422, 503))),
            ("GET", f"{P}/orders", PRIVATE, tr.list_orders,
             Doc("The account's orders", answer=wire.OrdersPage, query={
                 **market_q, "status": {"type": "string", "enum": ["open", "closed", "all"]},
                 "side": {"type": "string", "enum": ["buy", "sell"]}, **PAGE})),
            ("DELETE", f"{P}/orders", PRIVATE, tr.cancel_all,
             Doc("Cancel all live orders (of a market)", answer=wire.CancelAllOut,
                 query=market_q)),
            ("GET", f"{P}/orders/{{order_id}}", PRIVATE, tr.get_order,
             Doc("One order's current state", answer=wire.OrderOut)),
            ("PATCH", f"{P}/orders/{{order_id}}", PRIVATE, tr.amend,
             Doc("Amend price and/or quantity", answer=wire.OrderChangeOut,
                 body=wire.AmendRequest, errors=(400, 404, 409, 422))),
            ("DELETE", f"{P}/orders/{{order_id}}", PRIVATE, tr.cancel,
             Doc("Cancel an order", answer=wire.OrderChangeOut)),
            ("DELETE", f"{P}/orders/by-client-id/{{client_order_id}}", PRIVATE,
             tr.cancel_by_client_id,
             Doc("Cancel an order by client order id", answer=wire.OrderChangeOut)),
            ("GET", f"{P}/fills", PRIVATE, tr.list_fills,
             Doc("The account's fills, newest first", answer=wire.FillsPage,
                 query={**market_q, "order_id": {"type": "integer", "minimum": 0}, **PAGE})),
            ("GET", f"{P}/balances", PRIVATE, tr.balances,
             Doc("Balances", answer=list[wire.BalanceOut])),
            ("POST", f"{P}/admin/accounts", ADMIN, ad.create_account,
             Doc("Create an account with a trader key", ok=201, answer=wire.CreateAccountOut,
                 body=wire.CreateAccountRequest)),
            ("POST", f"{P}/admin/accounts/{{account_id}}/keys", ADMIN, ad.create_key,
             Doc("Create an API key", ok=201, answer=wire.KeyOut, body=wire.CreateKeyRequest)),
            ("GET", f"{P}/admin/accounts/{{account_id}}", ADMIN, ad.account,
             Doc("An account", answer=wire.AccountOut)),
            ("POST", f"{P}/admin/deposits", ADMIN, ad.deposit,
             Doc("Deposit (idempotent on reference)", ok=201, answer=wire.TransferOut,
                 body=wire.TransferRequest, errors=(400, 404, 409))),
            ("POST", f"{P}/admin/withdrawals", ADMIN, ad.withdraw,
             Doc("Withdraw (idempotent on reference)", ok=201, answer=wire.TransferOut,
                 body=wire.TransferRequest, errors=(400, 404, 409, 422))),
            ("POST", f"{P}/admin/markets", ADMIN, ad.create_market,
             Doc("Create a market", ok=201, answer=wire.MarketChangeOut,
                 body=wire.MarketRequest, errors=(400, 404, 409))),
            ("POST", f"{P}/admin/markets/{{market}}/halt", ADMIN, ad.halt,
             Doc("Halt a market", answer=wire.MarketChangeOut)),
            ("POST", f"{P}/admin/markets/{{market}}/resume", ADMIN, ad.resume,
             Doc("Resume a market", answer=wire.MarketChangeOut)),
            ("GET", f"{P}/admin/orders", ADMIN, ad.orders,
             Doc("Live orders of every account", answer=wire.OrdersPage,
                 query={**market_q, "limit": {"type": "integer", "minimum": 1,
                                              "maximum": 10_000}, "cursor": PAGE["cursor"]})),
            ("GET", f"{P}/admin/status", ADMIN, ad.status,
             Doc("Log, engine, view and projector positions", answer=wire.StatusOut)),
        ]  # fmt: skip
