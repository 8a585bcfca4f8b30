"""``cambist loadtest``: open-loop order entry at a fixed rate, against the trivial endpoint.

Open loop: request *i* is due at ``t0 + i / rate`` whatever happened to earlier ones, and its
latency is measured from that due time, not from when a connection was free to send it; so a
server stall shows up as the latency every request scheduled during it really saw (no
coordinated omission). Latencies go into an HdrHistogram (microseconds, 3 significant digits).

The same run first saturates ``GET /api/v1/time`` (closed loop) to measure the HTTP stack's
ceiling on this machine, and reports order throughput as a ratio of it.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from array import array
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec
from hdrh.histogram import HdrHistogram  # type: ignore[import-untyped]

from cambist.client import Client
from cambist.gateways.rest.auth import Mac
from cambist.server.looplag import LoopLag
from cambist.server.rawhttp import HttpConnection, build_request, connect


@dataclass(slots=True)
class LoadConfig:
    url: str
    admin_key: str
    admin_secret: str
    rate: float = 10_000.0
    """Orders per second; 0 runs closed loop (as fast as the server answers)."""
    duration_s: float = 10.0
    accounts: int = 50
    connections: int = 64
    market: str = "BTC-USD"
    mid: int = 65_000
    cancel_share: float = 0.3
    taker_share: float = 0.1
    ceiling_s: float = 3.0
    seed: int = 1
    server_pid: int = 0
    """When known (``serve.json``), the server's CPU time per request is reported too: on a
    shared machine it is steadier than throughput."""


@dataclass(slots=True)
class Trader:
    account: int
    key: str
    secret: bytes
    last_ts: int = 0
    open: deque[int] = field(default_factory=deque)
    mac: Mac | None = None
    """The key's HMAC with its pads hashed once (``hmac.digest`` redoes the key schedule:
    ~4 us more per request, in a process that shares the cores with the server)."""


@dataclass(slots=True)
class Result:
    sent: int = 0
    ok: int = 0
    errors: int = 0
    error_codes: dict[str, int] = field(default_factory=dict)
    cancel_misses: int = 0
    elapsed_s: float = 0.0
    latencies_us: array[int] = field(default_factory=lambda: array("q"))
    """Each answer's latency, appended while running and put into the HdrHistogram after the
    run: ``HdrHistogram.record_value`` is interpreted Python, several microseconds a call."""

    def histogram(self) -> HdrHistogram:
        h = HdrHistogram(1, 60_000_000, 3)
        for value in self.latencies_us:
            h.record_value(value)
        return h

    def summary(self) -> dict[str, Any]:
        h = self.histogram()
        count = h.get_total_count()

        def ms(p: float) -> float:
            return round(h.get_value_at_percentile(p) / 1000, 3) if count else 0.0

        return {
            "sent": self.sent, "ok": self.ok, "errors": self.errors,
            "cancel_misses": self.cancel_misses,
            "error_codes": self.error_codes,
            "per_s": round(self.ok / self.elapsed_s, 1) if self.elapsed_s else 0.0,
            "p50_ms": ms(50), "p95_ms": ms(95), "p99_ms": ms(99), "p999_ms": ms(99.9),
            "max_ms": round(h.get_max_value() / 1000, 3) if count else 0.0,
        }  # fmt: skip


class _OrderBrief(msgspec.Struct):
    """The two fields of an order answer the load generator uses; msgspec skips the rest
    without building them (a dict of the whole order cost the load generator ~5 us)."""

    order_id: int
    status: str


class _ErrorBrief(msgspec.Struct):
    code: str = ""


class _Decoded(msgspec.Struct):
    order: _OrderBrief | None = None
    error: _ErrorBrief | None = None


_decode = msgspec.json.Decoder(_Decoded).decode
_TICK_S = 0.001
"""The open loop's shortest sleep: the event loop's timer resolution."""


class LoadGenerator:
    def __init__(self, cfg: LoadConfig) -> None:
        self.cfg = cfg
        parts = urlsplit(cfg.url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.hostport = f"{self.host}:{self.port}"
        self.rng = random.Random(cfg.seed)
        self.traders: list[Trader] = []
        self.idle: deque[HttpConnection] = deque()
        self.backlog: deque[tuple[float, tuple[str, str, bytes, Trader]]] = deque()

    # -- setup --------------------------------------------------------------------------------

    def setup(self) -> None:
        """Accounts with funds, and a book with depth on both sides."""
        with Client(self.cfg.url, self.cfg.admin_key, self.cfg.admin_secret) as admin:
            run = f"{time.time_ns():x}"
            for i in range(self.cfg.accounts):
                made = admin.create_account(f"load-{run}-{i}")
                acct = made["account_id"]
                for asset, amount in (("USD", "1000000000"), ("BTC", "100000")):
                    admin.deposit(acct, asset, amount, f"load-{run}-{acct}-{asset}")
                secret = made["api_secret"].encode()
                self.traders.append(Trader(acct, made["api_key"], secret, mac=Mac(secret)))

    def _sign(self, t: Trader, method: str, path: str, body: bytes) -> bytes:
        """The request's bytes, signed now; the same bytes as :func:`build_request` with the
        three signature headers, formatted in one step."""
        now = time.time_ns() // 1_000_000
        t.last_ts = now if now > t.last_ts else t.last_ts + 1
        ts = b"%d" % t.last_ts
        verb, target = method.encode(), path.encode()
        mac = t.mac if t.mac is not None else Mac(t.secret)
        sig = mac.hexdigest(ts + verb + target + body)
        kind = b"Content-Type: application/json\r\n" if body else b""
        return (
            b"%s %s HTTP/1.1\r\nHost: %s\r\nCAMBIST-KEY: %s\r\nCAMBIST-TIMESTAMP: %s\r\n"
            b"CAMBIST-SIGNATURE: %s\r\n%sContent-Length: %d\r\n\r\n%s"
            % (verb, target, self.hostport.encode(), t.key.encode(), ts, sig, kind, len(body),
               body)
        )  # fmt: skip

    def next_order(self) -> tuple[str, str, bytes, Trader]:
        """A realistic mix: resting limits around the mid, some crossing IOCs, cancels."""
        cfg, rng = self.cfg, self.rng
        t = self.traders[rng.randrange(len(self.traders))]
        roll = rng.random()
        if roll < cfg.cancel_share and t.open:
            order_id = t.open.popleft()
            return "DELETE", f"/api/v1/orders/{order_id}", b"", t
        side = "buy" if rng.random() < 0.5 else "sell"
        qty = f"0.{rng.randint(1, 500):05d}"
        if roll > 1.0 - cfg.taker_share:
            offset = rng.randint(0, 2000)
            price = cfg.mid * 100 + (offset if side == "buy" else -offset)
            tif = "ioc"
        else:
            offset = rng.randint(1, 5000)
            price = cfg.mid * 100 + (-offset if side == "buy" else offset)
            tif = "gtc"
        body = (
            f'{{"market":"{cfg.market}","side":"{side}","quantity":"{qty}",'
            f'"price":"{price // 100}.{price % 100:02d}","time_in_force":"{tif}"}}'
        ).encode()
        return "POST", "/api/v1/orders", body, t

    # -- running ------------------------------------------------------------------------------

    async def _open(self, n: int) -> None:
        for c in self.idle:
            c.close()
        self.idle = deque([await connect(self.host, self.port) for _ in range(n)])

    def _record(self, res: Result, due: float, status: int, body: bytes, t: Trader | None,
                method: str) -> None:  # fmt: skip
        res.latencies_us.append(max(1, int((time.perf_counter() - due) * 1_000_000)))
        if status == 404 and method == "DELETE":
            res.ok += 1  # the order filled before its cancel arrived: a normal race
            res.cancel_misses += 1
            return
        if status >= 400:
            res.errors += 1
            try:
                error = _decode(body).error
                code = error.code if error is not None and error.code else str(status)
            except msgspec.DecodeError:
                code = str(status)
            res.error_codes[code] = res.error_codes.get(code, 0) + 1
            return
        res.ok += 1
        if t is not None and status == 201:
            order = _decode(body).order
            if order is not None and order.status in ("open", "partially_filled"):
                t.open.append(order.order_id)
                if len(t.open) > 200:
                    t.open.popleft()

    async def _send(self, res: Result, conn: HttpConnection, due: float,
                    spec: tuple[str, str, bytes, Trader]) -> None:  # fmt: skip
        """Send ``spec`` (signed now, as a real client would), then whatever waits behind it."""
        while True:
            method, path, body, t = spec
            try:
                status, answer = await conn.request(self._sign(t, method, path, body))
                self._record(res, due, status, answer, t, method)
            except (ConnectionError, OSError) as exc:
                res.errors += 1
                name = type(exc).__name__
                res.error_codes[name] = res.error_codes.get(name, 0) + 1
                conn = await connect(self.host, self.port)
            if not self.backlog:
                self.idle.append(conn)
                return
            due, spec = self.backlog.popleft()

    async def open_loop(self, rate: float, duration_s: float) -> Result:
        """Orders at ``rate`` per second for ``duration_s``; latency from each due time."""
        res = Result()
        loop = asyncio.get_running_loop()
        total = int(rate * duration_s)
        tasks: set[asyncio.Task[None]] = set()
        start = time.perf_counter()
        i = 0
        while i < total:
            now = time.perf_counter()
            due_until = min(total, int((now - start) * rate) + 1)
            while i < due_until:
                due = start + i / rate
                spec = self.next_order()
                res.sent += 1
                i += 1
                if self.idle:
                    task = loop.create_task(self._send(res, self.idle.popleft(), due, spec))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                else:
                    self.backlog.append((due, spec))
            # The loop's timers have millisecond resolution (uvloop runs a delay under 0.5 ms
            # as call_soon): sleeping "until the next due time" at thousands per second spun
            # a whole core here, the one the server needed. So wake at most once a
            # millisecond and send everything due by then; a request sent up to 1 ms after its
            # due time has that delay in its latency, since latency counts from the due time.
            await asyncio.sleep(max(_TICK_S, start + i / rate - time.perf_counter()))
        while tasks or self.backlog:
            await asyncio.sleep(0.005)
        res.elapsed_s = time.perf_counter() - start
        return res

    async def closed_loop(self, duration_s: float, make: Any) -> Result:
        """Every connection sends its next request as soon as the last one is answered."""
        res = Result()
        stop = time.perf_counter() + duration_s

        async def worker(conn: HttpConnection) -> None:
            while time.perf_counter() < stop:
                method, path, payload, t = make()
                raw = self._sign(t, method, path, payload) if t is not None else path.encode()
                res.sent += 1
                due = time.perf_counter()
                status, body = await conn.request(raw)
                self._record(res, due, status, body, t, method)
            self.idle.append(conn)

        conns = list(self.idle)
        self.idle.clear()
        start = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in conns))
        res.elapsed_s = time.perf_counter() - start
        return res

    async def run(self) -> dict[str, Any]:
        cfg = self.cfg
        stalls = HdrHistogram(1, 60_000_000, 3)  # this process's loop lateness, us
        lag = LoopLag(lambda late: stalls.record_value(max(1, int(late * 1e6))))
        lag.start()
        await self._open(cfg.connections)
        time_req = build_request("GET", "/api/v1/time", self.hostport).decode()
        cpu0, own0 = cpu_seconds(cfg.server_pid), own_cpu_seconds()
        ceiling = await self.closed_loop(cfg.ceiling_s, lambda: ("GET", time_req, b"", None))
        cpu1, own1 = cpu_seconds(cfg.server_pid), own_cpu_seconds()
        if cfg.rate > 0:
            orders = await self.open_loop(cfg.rate, cfg.duration_s)
        else:
            orders = await self.closed_loop(cfg.duration_s, self.next_order)
        cpu2, own2 = cpu_seconds(cfg.server_pid), own_cpu_seconds()

        def per_request(cpu: float, res: Result, known: bool = True) -> float:
            return round(cpu / res.sent * 1e6, 1) if known and res.sent else 0.0

        lag.stop()
        for conn in self.idle:
            conn.close()
        o, c = orders.summary(), ceiling.summary()
        return {
            "mode": "open_loop" if cfg.rate > 0 else "closed_loop",
            "target_rate": cfg.rate, "duration_s": cfg.duration_s, "accounts": cfg.accounts,
            "connections": cfg.connections,
            "orders_per_s": o["per_s"], "errors": o["errors"], "error_codes": o["error_codes"],
            "cancel_misses": o["cancel_misses"],
            "p50_ms": o["p50_ms"], "p95_ms": o["p95_ms"], "p99_ms": o["p99_ms"],
            "p999_ms": o["p999_ms"], "max_ms": o["max_ms"],
            "ceiling_req_per_s": c["per_s"], "ceiling_p99_ms": c["p99_ms"],
            "ratio": round(o["per_s"] / c["per_s"], 3) if c["per_s"] else 0.0,
            "server_cpu_us_per_order": per_request(cpu2 - cpu1, orders, bool(cfg.server_pid)),
            "server_cpu_us_per_time_req": per_request(cpu1 - cpu0, ceiling, bool(cfg.server_pid)),
            # the load generator's own cost: the two share the machine's cores
            "client_cpu_us_per_order": per_request(own2 - own1, orders),
            "client_cpu_us_per_time_req": per_request(own1 - own0, ceiling),
            # the load generator's own loop stalls, which its latencies include
            "client_lag_p99_ms": round(stalls.get_value_at_percentile(99) / 1000, 3),
            "client_lag_max_ms": round(lag.worst * 1000, 3),
        }  # fmt: skip


def own_cpu_seconds() -> float:
    """User + system CPU seconds of this process (all its threads)."""
    t = os.times()
    return t.user + t.system


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a local process and its live child processes (the HTTP
    workers of ``cambist serve --workers N``); 0.0 when the process cannot be read."""

    def stat(p: int | str) -> list[str] | None:
        try:
            return Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None

    own = stat(pid)
    if own is None:
        return 0.0
    ticks = int(own[11]) + int(own[12])
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := stat(entry.name)) and fields[1] == str(pid):
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def run_loadtest(cfg: LoadConfig) -> dict[str, Any]:
    gen = LoadGenerator(cfg)
    gen.setup()
    try:
        import uvloop

        return uvloop.run(gen.run())
    except ImportError:  # pragma: no cover
        return asyncio.run(gen.run())


def report(result: dict[str, Any]) -> str:
    lines = [
        f"order entry ({result['mode']}, {result['accounts']} accounts, "
        f"{result['connections']} connections): {result['orders_per_s']:.0f} orders/s, "
        f"{result['errors']} errors {result['error_codes'] or ''}",
        f"  latency ms: p50 {result['p50_ms']}  p95 {result['p95_ms']}  p99 {result['p99_ms']}"
        f"  p99.9 {result['p999_ms']}  max {result['max_ms']}",
        f"ceiling GET /api/v1/time: {result['ceiling_req_per_s']:.0f} req/s; "
        f"ratio orders/ceiling {result['ratio']}",
        f"server CPU per request: order {result['server_cpu_us_per_order']} us, "
        f"GET /time {result['server_cpu_us_per_time_req']} us",
        f"load generator's own CPU per request: order {result['client_cpu_us_per_order']} us, "
        f"GET /time {result['client_cpu_us_per_time_req']} us",
        f"load generator's own loop lateness: p99 {result['client_lag_p99_ms']} ms, "
        f"max {result['client_lag_max_ms']} ms",
    ]
    return "\n".join(lines) + "\n" + json.dumps(result)
