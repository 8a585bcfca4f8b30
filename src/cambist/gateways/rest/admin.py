"""Admin endpoints (admin role): accounts and keys, deposits and withdrawals, markets, status.

Accounts, transfers and markets are engine commands, sequenced like orders. Account ids are
chosen here (one more than the highest the view knows or has handed out), so a failed create
wastes a number but never reuses one. Deposits and withdrawals are idempotent on ``reference``
in the engine itself: the same reference and body answer 200 with ``duplicate: true``; the
same reference with another body is a 409 ``reference_conflict``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from cambist.domain.commands import (
    Command,
    CreateAccount,
    CreateAsset,
    CreateMarket,
    Deposit,
    SetMarketStatus,
    Withdraw,
)
from cambist.domain.events import CommandRejected
from cambist.domain.reasons import Reject
from cambist.gateways.rest import wire
from cambist.gateways.rest.app import Request, Response, decode_body, json_response
from cambist.gateways.rest.convert import MAX_UNITS, market_out, units
from cambist.gateways.rest.errors import ApiError, rejected
from cambist.gateways.rest.keystore import KeyStore
from cambist.gateways.rest.sequencer import Sequencer
from cambist.gateways.rest.trading import Trading, balances_of, int_param
from cambist.gateways.rest.view import AppliedLike, View

_ACCOUNT = msgspec.json.Decoder(wire.CreateAccountRequest)
_KEY = msgspec.json.Decoder(wire.CreateKeyRequest)
_TRANSFER = msgspec.json.Decoder(wire.TransferRequest)
_MARKET = msgspec.json.Decoder(wire.MarketRequest)


class Admin:
    def __init__(
        self, view: View, store: KeyStore, sequencer: Sequencer, trading: Trading, node: Any
    ) -> None:
        self.view = view
        self.store = store
        self.sequencer = sequencer
        self.trading = trading
        self.node = node
        self.next_account = max(max(view.balances, default=0), max(store.names, default=0)) + 1

    async def run(self, cmd: Command) -> AppliedLike:
        applied = await self.sequencer.submit(cmd)
        for e in applied.events:
            if type(e) is CommandRejected:
                raise rejected(e.reason, sequence=applied.seq)
        return applied

    def account_id(self, text: str) -> int:
        if not text.isdigit() or int(text) not in self.view.balances or int(text) == 0:
            raise ApiError("unknown_account", "no such account", "account_id")
        return int(text)

    async def create_account(self, req: Request) -> Response:
        body = decode_body(req.body, _ACCOUNT)
        account = self.next_account
        self.next_account += 1
        applied = await self.run(CreateAccount(account=account))
        self.store.set_name(account, body.name)
        key = self.store.create_key(account, "trader")
        out = wire.CreateAccountOut(
            account_id=account, api_key=key.api_key, api_secret=key.secret.decode(),
            sequence=applied.seq,
        )  # fmt: skip
        return json_response(out, 201)

    async def create_key(self, req: Request) -> Response:
        account = self.account_id(req.params[0])
        body = decode_body(req.body, _KEY)
        key = self.store.create_key(account, body.role)
        out = wire.KeyOut(
            account_id=account, api_key=key.api_key, api_secret=key.secret.decode(),
            role=body.role,
        )  # fmt: skip
        return json_response(out, 201)

    async def transfer(self, req: Request, kind: type[Deposit] | type[Withdraw]) -> Response:
        body = decode_body(req.body, _TRANSFER)
        scale = self.view.assets.get(body.asset)
        if scale is None:
            raise ApiError("unknown_asset", f"no asset {body.asset!r}", "asset")
        if body.account_id not in self.view.balances:
            raise ApiError("unknown_account", "no such account", "account_id")
        amount = units(body.amount, scale, "amount")
        cmd = kind(account=body.account_id, asset=body.asset, amount=amount,
                   reference=body.reference)  # fmt: skip
        applied = await self.sequencer.submit(cmd)
        duplicate = False
        seq = applied.seq
        for e in applied.events:
            if type(e) is CommandRejected:
                if e.reason is not Reject.DUPLICATE_REFERENCE:
                    raise rejected(e.reason, sequence=applied.seq)
                duplicate = True
                seq = self.view.references.get(body.reference) or applied.seq
        out = wire.TransferOut(
            account_id=body.account_id, asset=body.asset, amount=body.amount,
            reference=body.reference, sequence=seq, duplicate=duplicate,
        )  # fmt: skip
        return json_response(out, 200 if duplicate else 201)

    async def deposit(self, req: Request) -> Response:
        return await self.transfer(req, Deposit)

    async def withdraw(self, req: Request) -> Response:
        return await self.transfer(req, Withdraw)

    async def create_market(self, req: Request) -> Response:
        body = decode_body(req.body, _MARKET)
        name = f"{body.base}-{body.quote}"
        if name in self.view.markets:
            raise ApiError("duplicate_market", f"market {name} exists", "base")
        if body.base == body.quote:
            raise ApiError("invalid_market_spec", "base and quote must differ", "quote")
        for asset, scale in ((body.base, body.base_scale), (body.quote, body.quote_scale)):
            if asset not in self.view.assets:
                await self.run(CreateAsset(asset=asset, scale=scale))
        bs, qs = self.view.assets[body.base], self.view.assets[body.quote]
        lot = units(body.lot, bs, "quantity")
        default_max = min(lot * 10**9, MAX_UNITS // max(lot, 1) * lot)
        applied = await self.run(
            CreateMarket(
                market=name, base=body.base, quote=body.quote, tick=units(body.tick, qs, "price"),
                lot=lot, min_quantity=units(body.min_quantity, bs, "quantity") or lot,
                max_quantity=units(body.max_quantity, bs, "quantity") or default_max,
                min_notional=units(body.min_notional, qs, "amount"), band_bps=body.band_bps,
                maker_fee_bps=body.maker_fee_bps, taker_fee_bps=body.taker_fee_bps,
            )
        )  # fmt: skip
        out = market_out(self.view.markets[name], self.view.assets)
        return json_response(wire.MarketChangeOut(market=out, sequence=applied.seq), 201)

    async def _set_halted(self, req: Request, halted: bool) -> Response:
        name = req.params[0]
        if name not in self.view.markets:
            raise ApiError("unknown_market", f"no market {name!r}", "market")
        applied = await self.run(SetMarketStatus(market=name, halted=halted))
        out = market_out(self.view.markets[name], self.view.assets)
        return json_response(wire.MarketChangeOut(market=out, sequence=applied.seq))

    async def halt(self, req: Request) -> Response:
        return await self._set_halted(req, True)

    async def resume(self, req: Request) -> Response:
        return await self._set_halted(req, False)

    async def account(self, req: Request) -> Response:
        account = self.account_id(req.params[0])
        out = wire.AccountOut(
            account_id=account, name=self.store.names.get(account),
            balances=balances_of(self.view, account),
            open_orders=len(self.view.live.get(account, {})),
            keys=[k.api_key for k in self.store.keys_of(account)],
        )  # fmt: skip
        return json_response(out)

    async def orders(self, req: Request) -> Response:
        market = req.query.get("market") or None
        if market is not None and market not in self.view.markets:
            raise ApiError("unknown_market", f"no market {market!r}", "market")
        limit = int_param(req.query, "limit", 1000, 1, 10_000)
        cursor = int_param(req.query, "cursor", 2**63, 1, 2**63)
        live = sorted(
            (
                o for per in self.view.live.values() for o in per.values()
                if o.order_id < cursor and (market is None or o.market == market)
            ),
            key=lambda o: o.order_id, reverse=True,
        )[: limit + 1]  # fmt: skip
        more = len(live) > limit
        live = live[:limit]
        page = wire.OrdersPage(
            orders=[self.trading.order_json(o) for o in live],
            next_cursor=str(live[-1].order_id) if more else None,
        )
        return json_response(page)

    async def status(self, req: Request) -> Response:
        engine_pos = int(getattr(self.node.engine, "last_seq", 0))
        out = wire.StatusOut(
            log_position=int(getattr(getattr(self.node, "journal", None), "last_seq", 0)),
            engine_position=engine_pos,
            view_position=self.view.last_seq,
            projectors=[],
            open_orders=self.view.live_count,
            accounts=len(self.view.balances) - 1,
        )
        return json_response(out)
