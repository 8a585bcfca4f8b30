"""Sync and async clients over httpx; both sign every private request the same way.

The server refuses a replayed signature, and two identical requests signed in the same
millisecond would have the same signature, so each client hands out strictly increasing
timestamps (a client sending more than 1,000 requests a second runs slightly ahead of the
clock; keep one client per key below that, or use several keys).
"""

from __future__ import annotations

import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

import httpx


class ApiError(Exception):
    """An error answer: HTTP ``status`` and the API's stable ``code``."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 body: Any = None, headers: dict[str, str] | None = None) -> None:  # fmt: skip
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.field = status, code, message, field
        self.body = body
        self.headers = headers or {}


def sign(secret: str | bytes, timestamp: str, method: str, path: str, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of ``timestamp + METHOD + path-with-query + body``."""
    key = secret.encode() if isinstance(secret, str) else secret
    message = timestamp.encode() + method.encode() + path.encode() + body
    return hmac.digest(key, message, "sha256").hex()


def signed_headers(
    api_key: str, secret: str | bytes, timestamp_ms: int, method: str, path: str, body: bytes
) -> dict[str, str]:
    ts = str(timestamp_ms)
    return {
        "CAMBIST-KEY": api_key,
        "CAMBIST-TIMESTAMP": ts,
        "CAMBIST-SIGNATURE": sign(secret, ts, method, path, body),
    }


class _Base:
    def __init__(self, base_url: str, api_key: str | None = None,
                 api_secret: str | None = None) -> None:  # fmt: skip
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.api_secret = api_secret
        self._last_ts = 0

    def _timestamp(self) -> int:
        now = time.time_ns() // 1_000_000
        self._last_ts = now if now > self._last_ts else self._last_ts + 1
        return self._last_ts

    def _prepare(
        self, method: str, path: str, params: dict[str, Any] | None, payload: Any,
        headers: dict[str, str] | None, signed: bool,
    ) -> tuple[str, bytes, dict[str, str]]:  # fmt: skip
        query = {k: v for k, v in (params or {}).items() if v is not None}
        full = f"/api/v1{path}" + (f"?{urlencode(query)}" if query else "")
        body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        out = {"content-type": "application/json"} if payload is not None else {}
        out.update(headers or {})
        if signed:
            if not self.api_key or not self.api_secret:
                raise ValueError("this request needs api_key and api_secret")
            out.update(signed_headers(self.api_key, self.api_secret, self._timestamp(), method,
                                      full, body))  # fmt: skip
        return full, body, out

    @staticmethod
    def _result(resp: httpx.Response) -> Any:
        data: Any = None
        if resp.content and resp.headers.get("content-type", "").startswith("application/json"):
            data = resp.json()
        if resp.status_code >= 400:
            err = data.get("error", {}) if isinstance(data, dict) else {}
            raise ApiError(resp.status_code, err.get("code", "http_error"),
                           err.get("message", resp.text), err.get("field"), data,
                           dict(resp.headers))  # fmt: skip
        return data if data is not None else resp.text


def _order_body(market: str, side: str, quantity: str | None, price: str | None,
                fields: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    body: dict[str, Any] = {"market": market, "side": side}
    if quantity is not None:
        body["quantity"] = quantity
    if price is not None:
        body["price"] = price
    body.update({k: v for k, v in fields.items() if v is not None})
    return body


class Client(_Base):
    """Blocking client. ``transport`` lets tests talk to an in-process ASGI app."""

    def __init__(self, base_url: str, api_key: str | None = None, api_secret: str | None = None,
                 *, timeout: float = 10.0,
                 transport: httpx.BaseTransport | None = None) -> None:  # fmt: skip
        super().__init__(base_url, api_key, api_secret)
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                json_body: Any = None, headers: dict[str, str] | None = None,
                signed: bool = True) -> Any:  # fmt: skip
        full, body, hdrs = self._prepare(method, path, params, json_body, headers, signed)
        return self._result(self.http.request(method, full, content=body, headers=hdrs))

    # public
    def time(self) -> Any:
        return self.request("GET", "/time", signed=False)

    def markets(self) -> Any:
        return self.request("GET", "/markets", signed=False)

    def book(self, market: str, depth: int | None = None) -> Any:
        return self.request("GET", f"/markets/{market}/book", params={"depth": depth},
                            signed=False)  # fmt: skip

    def trades(self, market: str, **params: Any) -> Any:
        return self.request("GET", f"/markets/{market}/trades", params=params, signed=False)

    def ticker(self, market: str) -> Any:
        return self.request("GET", f"/markets/{market}/ticker", signed=False)

    # trading
    def place_order(self, market: str, side: str, quantity: str | None = None,
                    price: str | None = None, *, idempotency_key: str | None = None,
                    **fields: Any) -> Any:  # fmt: skip
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        body = _order_body(market, side, quantity, price, fields)
        return self.request("POST", "/orders", json_body=body, headers=headers)

    def amend_order(self, order_id: int, *, price: str | None = None,
                    quantity: str | None = None) -> Any:  # fmt: skip
        body = {k: v for k, v in (("price", price), ("quantity", quantity)) if v is not None}
        return self.request("PATCH", f"/orders/{order_id}", json_body=body)

    def cancel_order(self, order_id: int) -> Any:
        return self.request("DELETE", f"/orders/{order_id}")

    def cancel_by_client_id(self, client_order_id: str) -> Any:
        return self.request("DELETE", f"/orders/by-client-id/{client_order_id}")

    def cancel_all(self, market: str | None = None) -> Any:
        return self.request("DELETE", "/orders", params={"market": market})

    def get_order(self, order_id: int) -> Any:
        return self.request("GET", f"/orders/{order_id}")

    def orders(self, **params: Any) -> Any:
        return self.request("GET", "/orders", params=params)

    def fills(self, **params: Any) -> Any:
        return self.request("GET", "/fills", params=params)

    def balances(self) -> Any:
        return self.request("GET", "/balances")

    # admin
    def create_account(self, name: str) -> Any:
        return self.request("POST", "/admin/accounts", json_body={"name": name})

    def create_key(self, account_id: int, role: str = "trader") -> Any:
        return self.request("POST", f"/admin/accounts/{account_id}/keys", json_body={"role": role})

    def deposit(self, account_id: int, asset: str, amount: str, reference: str) -> Any:
        body = {"account_id": account_id, "asset": asset, "amount": amount,
                "reference": reference}  # fmt: skip
        return self.request("POST", "/admin/deposits", json_body=body)

    def withdraw(self, account_id: int, asset: str, amount: str, reference: str) -> Any:
        body = {"account_id": account_id, "asset": asset, "amount": amount,
                "reference": reference}  # fmt: skip
        return self.request("POST", "/admin/withdrawals", json_body=body)

    def create_market(self, base: str, quote: str, tick: str, lot: str, **fields: Any) -> Any:
        body = {"base": base, "quote": quote, "tick": tick, "lot": lot, **fields}
        return self.request("POST", "/admin/markets", json_body=body)

    def halt_market(self, market: str) -> Any:
        return self.request("POST", f"/admin/markets/{market}/halt")

    def resume_market(self, market: str) -> Any:
        return self.request("POST", f"/admin/markets/{market}/resume")

    def account(self, account_id: int) -> Any:
        return self.request("GET", f"/admin/accounts/{account_id}")

    def status(self) -> Any:
        return self.request("GET", "/admin/status")


class AsyncClient(_Base):
    """Asyncio client with the same signing; used by tests and small tools."""

    def __init__(self, base_url: str, api_key: str | None = None, api_secret: str | None = None,
                 *, timeout: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:  # fmt: skip
        super().__init__(base_url, api_key, api_secret)
        self.http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout,
                                      transport=transport)  # fmt: skip

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                      json_body: Any = None, headers: dict[str, str] | None = None,
                      signed: bool = True) -> Any:  # fmt: skip
        full, body, hdrs = self._prepare(method, path, params, json_body, headers, signed)
        return self._result(await self.http.request(method, full, content=body, headers=hdrs))

    async def place_order(self, market: str, side: str, quantity: str | None = None,
                          price: str | None = None, *, idempotency_key: str | None = None,
                          **fields: Any) -> Any:  # fmt: skip
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        body = _order_body(market, side, quantity, price, fields)
        return await self.request("POST", "/orders", json_body=body, headers=headers)

    async def cancel_order(self, order_id: int) -> Any:
        return await self.request("DELETE", f"/orders/{order_id}")

    async def get_order(self, order_id: int) -> Any:
        return await self.request("GET", f"/orders/{order_id}")

    async def balances(self) -> Any:
        return await self.request("GET", "/balances")

    async def book(self, market: str, depth: int | None = None) -> Any:
        return await self.request("GET", f"/markets/{market}/book", params={"depth": depth},
                                  signed=False)  # fmt: skip

    async def create_account(self, name: str) -> Any:
        return await self.request("POST", "/admin/accounts", json_body={"name": name})

    async def deposit(self, account_id: int, asset: str, amount: str, reference: str) -> Any:
        body = {"account_id": account_id, "asset": asset, "amount": amount,
                "reference": reference}  # fmt: skip
        return await self.request("POST", "/admin/deposits", json_body=body)
