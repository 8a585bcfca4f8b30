"""A real server (node on a tmp data dir + gateway + its HTTP server) in a thread, and signed clients."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from pathlib import Path
from typing import Any

import uvicorn

from cambist.client import Client
from cambist.gateways.rest.http import HttpServer
from cambist.server.config import load_config
from cambist.server.runner import ADMIN_KEY_FILE, run_server

_names = itertools.count(1)


class RunningServer:
    def __init__(self, data_dir: Path, **overrides: Any) -> None:
        self.data_dir = data_dir
        self.cfg = load_config(
            env={},
            overrides={
                "data_dir": data_dir,
                "port": 0,
                "fsync": "always",
                "min_sequence_timeout_s": 0.3,
                **overrides,
            },
        )
        self.url = ""
        self._server: HttpServer | uvicorn.Server | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.clients: list[Client] = []

    def _run(self) -> None:
        def started(url: str, server: HttpServer | uvicorn.Server) -> None:
            self.url, self._server = url, server
            self._started.set()

        try:
            asyncio.run(run_server(self.cfg, announce=False, on_started=started))
        except BaseException as exc:  # surfaced by start()
            self._error = exc
            self._started.set()

    def start(self) -> RunningServer:
        self._thread.start()
        assert self._started.wait(30), "server did not start"
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        for c in self.clients:
            c.close()
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(30)
        assert not self._thread.is_alive(), "server did not stop"
        if self._error is not None:
            raise self._error

    def client(self, key: str | None = None, secret: str | None = None) -> Client:
        c = Client(self.url, key, secret)
        self.clients.append(c)
        return c

    def admin(self) -> Client:
        data = json.loads((self.data_dir / ADMIN_KEY_FILE).read_text())
        return self.client(data["api_key"], data["api_secret"])

    def trader(
        self, admin: Client, usd: str = "1000000", btc: str = "100", eth: str = "1000"
    ) -> tuple[Client, int]:
        made = admin.create_account(f"trader-{next(_names)}")
        account = made["account_id"]
        for asset, amount in (("USD", usd), ("BTC", btc), ("ETH", eth)):
            if float(amount) > 0:
                admin.deposit(account, asset, amount, f"{asset}-{account}-seed")
        return self.client(made["api_key"], made["api_secret"]), account
