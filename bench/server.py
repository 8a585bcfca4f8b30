"""In-process cost of one REST request through the gateway (no sockets): where the time goes.

Drives ``RestApp.handle`` (what the native HTTP server calls for each parsed request) with N
concurrent callers on a real node (fsync=always) and reports
the CPU time per request for GET /api/v1/time and for POST /api/v1/orders, so the gateway's own
cost can be told apart from the HTTP server's and the load generator's.

    .venv/bin/python bench/server.py [--orders 20000] [--concurrency 64] [--profile] [--no-time]

``--no-time`` skips the ``GET /api/v1/time`` round, so that instruction counts taken over the
whole process (callgrind at two ``--orders`` values, differenced) are orders' alone.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import uvloop

from cambist.client import signed_headers
from cambist.gateways.rest.gateway import Gateway, GatewayConfig
from cambist.gateways.rest.keystore import KeyStore
from cambist.node import Node
from cambist.server.config import load_config
from cambist.server.runner import build_view, seed_new_directory, tune_gc


async def call(app: Any, method: str, path: str, body: bytes, headers: dict[bytes, bytes]) -> int:
    """One request the way the native HTTP server hands it over (``RestApp.handle``)."""
    resp = await app.handle(method, path, path.encode(), b"", headers, body)
    if resp.status >= 400:
        print(resp.body)
    return int(resp.status)


async def main(n: int, concurrency: int, profile: bool, time_round: bool = True) -> None:
    data = Path(tempfile.mkdtemp())
    cfg = load_config(env={}, overrides={"data_dir": data})
    node = await Node.open(data)
    view = build_view(node, data, cfg)
    store = KeyStore(data / "gateway.sqlite")
    gw = Gateway(
        node, view, store, GatewayConfig(rate_per_key=1e9, burst_per_key=1e9, skew_ms=3_600_000)
    )
    gw.start()
    await seed_new_directory(gw, cfg)
    admin = next(k for k in store.keys.values() if k.role == "admin")
    from cambist.domain.commands import CreateAccount, Deposit

    traders = []
    for i in range(concurrency):
        acct = 100 + i
        await gw.sequencer.submit(CreateAccount(account=acct))
        await gw.sequencer.submit(
            Deposit(account=acct, asset="USD", amount=10**17, reference=f"u{i}")
        )
        await gw.sequencer.submit(
            Deposit(account=acct, asset="BTC", amount=10**14, reference=f"b{i}")
        )
        traders.append(store.create_key(acct, "trader"))
    tune_gc(gw.metrics)  # as `cambist serve` does
    rng = random.Random(1)
    app = gw.app

    def requests(k: Any, count: int) -> list[tuple[bytes, dict[bytes, bytes]]]:
        """Signed before the clock starts: the signing is the client's cost, not the server's."""
        out = []
        ts = time.time_ns() // 1_000_000
        for _j in range(count):
            ts += 1
            side = "buy" if rng.random() < 0.5 else "sell"
            off = rng.randint(1, 3000)
            price = (
                6_500_000
                + (-off if side == "buy" else off)
                + (2000 if rng.random() < 0.1 else 0) * (1 if side == "buy" else -1)
            )
            body = (
                f'{{"market":"BTC-USD","side":"{side}","quantity":"0.001",'
                f'"price":"{price // 100}.{price % 100:02d}"}}'
            ).encode()
            signed = signed_headers(k.api_key, k.secret, ts, "POST", "/api/v1/orders", body)
            out.append((body, {name.lower().encode(): v.encode() for name, v in signed.items()}))
        return out

    async def worker(reqs: list[tuple[bytes, dict[bytes, bytes]]] | None, count: int) -> None:
        if reqs is None:
            for _j in range(count):
                await call(app, "GET", "/api/v1/time", b"", {b"host": b"x"})
            return
        for body, h in reqs:
            status = await call(app, "POST", "/api/v1/orders", body, h)
            assert status == 201, status

    rounds = [("GET /api/v1/time", False)] if time_round else []
    for label, orders in [*rounds, ("POST /api/v1/orders", True)]:
        per = n // concurrency
        prof = cProfile.Profile() if profile and orders else None
        signed = [requests(k, per) if orders else None for k in traders]
        batches_before = sum(gw.metrics.batch_size.series.get((), [0.0])[:-1])
        t0, wall0 = os.times(), time.perf_counter()
        if prof:
            prof.enable()
        await asyncio.gather(*(worker(r, per) for r in signed))
        if prof:
            prof.disable()
        t1, wall = os.times(), time.perf_counter() - wall0
        user, system = t1.user - t0.user, t1.system - t0.system
        cpu = user + system
        done = per * concurrency
        print(
            f"{label}: {done} requests, {done / wall:,.0f}/s wall, {cpu / done * 1e6:.1f} us CPU each"
            f" ({user / done * 1e6:.1f} user + {system / done * 1e6:.1f} system)"
            f" (load average {os.getloadavg()[0]:.2f})"
        )
        if orders:
            sizes = gw.metrics.batch_size.series.get((), [])
            batches = sum(sizes[:-1]) - batches_before
            print(f"  {batches:.0f} group commits, {done / max(batches, 1):.1f} orders each")
        if prof:
            pstats.Stats(prof).sort_stats("tottime").print_stats(20)
    await gw.stop()
    await node.close()
    _ = admin


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--no-time", action="store_true", help="skip the GET /api/v1/time round")
    args = parser.parse_args()
    uvloop.run(main(args.orders, args.concurrency, args.profile, not args.no_time))
