"""When the node fails (e.g. the journal cannot write), requests get 503 and readiness says so."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx

from cambist.client import signed_headers
from cambist.domain.commands import Command
from cambist.gateways.rest.gateway import Gateway, GatewayConfig
from cambist.gateways.rest.keystore import KeyStore
from cambist.gateways.rest.view import View
from cambist.log.errors import JournalWriteError


class _BrokenNode:
    """A node whose journal fails every write, reported later on the loop as the real one does."""

    def __init__(self) -> None:
        self.engine = SimpleNamespace(last_seq=0)
        self.listeners: list[Callable[[list[Any]], None]] = []

    def submit_batch(self, cmds: list[Command], on_done: Callable[..., None]) -> None:
        error = JournalWriteError("disk full writing the journal")
        asyncio.get_running_loop().call_soon(on_done, None, error)

    def listen(self, listener: Callable[[list[Any]], None]) -> None:
        self.listeners.append(listener)  # never called: nothing is ever applied


def test_node_failure_answers_503_and_not_ready(tmp_path: Path) -> None:
    async def scenario() -> tuple[int, str, int, int]:
        store = KeyStore(tmp_path / "gateway.sqlite")
        key = store.create_key(1, "admin")
        gateway = Gateway(_BrokenNode(), View(), store, GatewayConfig())
        gateway.start()
        transport = httpx.ASGITransport(app=gateway.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            body = b'{"name":"x"}'
            headers = signed_headers(
                key.api_key, key.secret, 1, "POST", "/api/v1/admin/accounts", body
            )
            gateway.auth.clock_ns = lambda: 1_000_000
            first = await http.post("/api/v1/admin/accounts", content=body, headers=headers)
            ready = await http.get("/ready")
            headers = signed_headers(
                key.api_key, key.secret, 2, "POST", "/api/v1/admin/accounts", body
            )
            second = await http.post("/api/v1/admin/accounts", content=body, headers=headers)
        await gateway.stop()
        store.close()
        return (
            first.status_code,
            first.json()["error"]["code"],
            ready.status_code,
            second.status_code,
        )

    first, code, ready, second = asyncio.run(scenario())
    assert (first, code, ready, second) == (503, "unavailable", 503, 503)
