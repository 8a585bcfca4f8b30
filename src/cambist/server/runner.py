"""``cambist serve``: the node, the live view, the REST gateway and its HTTP server, in one process.

Start-up order: open the node (snapshot + journal replay), rebuild the gateway's view, start the
gateway's feed, seed a new data directory (default markets and the admin key), then bind and
serve. Shutdown on SIGINT/SIGTERM: stop accepting, let in-flight commands finish, close the node
(which writes a snapshot). A SIGKILL loses nothing that was answered: answers wait for the fsync.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import math
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import structlog
import uvicorn

from cambist.domain.commands import Command, CreateAccount, CreateAsset, CreateMarket
from cambist.domain.engine import Engine
from cambist.gateways.rest.gateway import Gateway, GatewayConfig
from cambist.gateways.rest.http import HttpServer
from cambist.gateways.rest.keystore import KeyStore
from cambist.gateways.rest.metrics import Gauge, Histogram, Metrics
from cambist.gateways.rest.view import View
from cambist.log.journal import read_commands
from cambist.node import Applied, Node
from cambist.server.config import ServeConfig
from cambist.server.logsetup import configure_logging
from cambist.server.looplag import LoopLag
from cambist.server.projectors import ExternalProjectors, ServeProjectors, start_history
from cambist.server.snapshotter import SnapshotterProcess
from cambist.server.workers import WorkerPool, reserve_port

log = structlog.get_logger("cambist.serve")

ADMIN_KEY_FILE = "admin-key.json"
SERVE_FILE = "serve.json"
ADMIN_ACCOUNT = 1
NEVER = 2**62
"""A snapshot count the node never reaches: its periodic snapshots are off."""

_E8 = 10**8
DEFAULT_SETUP: list[Command] = [
    CreateAsset(asset="BTC", scale=8),
    CreateAsset(asset="ETH", scale=8),
    CreateAsset(asset="USD", scale=8),
    # BTC-USD: tick 0.01 USD, lot 0.00001 BTC, up to 1000 BTC per order
    CreateMarket(market="BTC-USD", base="BTC", quote="USD", tick=_E8 // 100, lot=_E8 // 100_000,
                 min_quantity=_E8 // 100_000, max_quantity=1000 * _E8, maker_fee_bps=10,
                 taker_fee_bps=20),
    # ETH-USD: tick 0.01 USD, lot 0.0001 ETH
    CreateMarket(market="ETH-USD", base="ETH", quote="USD", tick=_E8 // 100, lot=_E8 // 10_000,
                 min_quantity=_E8 // 10_000, max_quantity=10_000 * _E8, maker_fee_bps=10,
                 taker_fee_bps=20),
    # ETH-BTC: tick 0.00001 BTC, lot 0.001 ETH
    CreateMarket(market="ETH-BTC", base="ETH", quote="BTC", tick=_E8 // 100_000,
                 lot=_E8 // 1_000, min_quantity=_E8 // 1_000, max_quantity=10_000 * _E8,
                 maker_fee_bps=10, taker_fee_bps=20),
]  # fmt: skip


def engine_build() -> str:
    """ "native" when the domain core was compiled by mypyc (``make run-native``), else
    "interpreted"; printed at start so an operator knows which engine is running."""
    from cambist.domain import engine

    return "interpreted" if engine.__file__ and engine.__file__.endswith(".py") else "native"


def build_view(node: Node, data_dir: Path, cfg: ServeConfig) -> View:
    """The live view: a full replay of the journal when it starts at seq 1, else engine state.

    The replay runs a scratch engine over the journal (the same fold the node did) so the view
    also knows closed orders and recent trades from before the restart; its state hash must
    equal the node's, or the view falls back to seeding from the node's engine.
    """
    view = View(keep_closed=cfg.keep_closed_orders)
    target = node.engine.last_seq
    if cfg.view_replay and target:
        scratch = Engine()
        replayed = View(keep_closed=cfg.keep_closed_orders)
        first = True
        for cmd in read_commands(data_dir, 1, target):
            if first and cmd.seq != 1:
                break
            first = False
            replayed.apply(Applied(cmd.seq, cmd.ts, cmd, scratch.apply(cmd)))
        if scratch.last_seq == target and scratch.state_hash() == node.engine.state_hash():
            return replayed
        log.warning("serve.view_replay_unusable", replayed_to=scratch.last_seq, target=target)
    view.seed(node.engine)
    return view


class _Server(uvicorn.Server):
    """uvicorn re-raises a captured SIGTERM after serving, which would kill the process before
    the node writes its shutdown snapshot; here a signal only asks the server to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.handle_exit, sig, None)
        try:
            yield
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)


def time_fsyncs(node: Node, metrics: Metrics) -> None:
    """Add ``cambist_journal_fsync_seconds``: how long each durable write of a group commit took
    (one ``pwritev2`` with ``RWF_DSYNC``, or ``write`` + ``fdatasync`` where the kernel lacks
    it; with an interval policy, each ``fdatasync``). The journal's writer thread observes
    into the histogram; the loop only reads it at scrape time."""
    journal = getattr(node, "journal", None)
    if journal is None or not hasattr(journal, "on_sync"):
        return
    hist = Histogram(
        "cambist_journal_fsync_seconds", "Journal durable write (write + fdatasync) duration"
    )
    hist.series[()] = [0.0] * (len(hist.buckets) + 2)
    journal.on_sync = hist.observe
    metrics.add(hist)


def tune_gc(metrics: Metrics, *, freeze_survivors: bool = True) -> None:
    """Fewer, cheaper garbage collections, and their pauses in ``/metrics``.

    The view keeps hundreds of thousands of long-lived order records; every older-generation
    collection walks all of them while requests wait (measured: 190-215 ms each at 10,000
    orders/s, twice a minute). After start-up the existing objects are frozen out of the
    collector's sight, the youngest generation runs every 5,000 allocations instead of 700,
    and **what survives a young collection is frozen too**, so the older generations stay
    empty and their collections cost nothing. Orders, events and answers are acyclic:
    reference counting frees them, frozen or not (freezing only hides an object from the
    cycle collector). What it gives up: a reference cycle that was alive at a young
    collection and becomes garbage later is never collected. ``cambist_gc_frozen_objects``
    in ``/metrics`` shows the frozen set, which follows the live state (measured in
    docs/benchmarks.md: memory with and without this, same load).

    Why 5,000 and not more: nearly everything a young collection walks is new live state
    (each resting order's view record and engine order), so its pause grows with the
    threshold (20,000: 6-13 ms each) while the total stays the same. At 10,000 orders/s the
    server's core is ~90% busy and a 13 ms pause queued requests for ~40 ms (traced); at
    5,000 the pauses are ~2 ms and no slow window lined up with one any more; the p99 is then
    set by the disk's sync outliers and the snapshot fork (docs/benchmarks.md, stop 17).
    """
    hist = Histogram("cambist_gc_pause_seconds", "Garbage collector pauses", labels=("generation",))
    for gen in ("0", "1", "2"):
        hist.series[(gen,)] = [0.0] * (len(hist.buckets) + 2)
    started: list[float] = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        generation = info.get("generation", 0)
        hist.observe(time.perf_counter() - started[0], str(generation))
        if generation == 0 and freeze_survivors:
            gc.freeze()  # the survivors, now in generation 1, out of later collections

    gc.callbacks.append(on_gc)
    gc.collect()
    gc.freeze()
    gc.set_threshold(5_000, 20, 100)
    metrics.add(hist)
    metrics.add(Gauge("cambist_gc_frozen_objects", "Objects frozen out of the cycle collector",
                      gc.get_freeze_count))  # fmt: skip


@dataclass(slots=True)
class AdminKey:
    api_key: str
    api_secret: str
    account_id: int


async def seed_new_directory(gateway: Gateway, cfg: ServeConfig) -> AdminKey | None:
    """Default markets and the admin account on a new data directory; the admin key if made."""
    store, view = gateway.store, gateway.view
    if view.last_seq == 0 and cfg.default_markets:
        for cmd in DEFAULT_SETUP:
            await gateway.sequencer.submit(cmd)
    if ADMIN_ACCOUNT not in view.balances:
        await gateway.sequencer.submit(CreateAccount(account=ADMIN_ACCOUNT))
        gateway.admin.next_account = max(gateway.admin.next_account, ADMIN_ACCOUNT + 1)
    if any(k.role == "admin" for k in store.keys.values()):
        return None
    store.set_name(ADMIN_ACCOUNT, "admin")
    key = store.create_key(ADMIN_ACCOUNT, "admin")
    admin = AdminKey(key.api_key, key.secret.decode(), ADMIN_ACCOUNT)
    path = cfg.data_dir / ADMIN_KEY_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"api_key": admin.api_key, "api_secret": admin.api_secret,
                   "account_id": admin.account_id, "role": "admin"}, f, indent=2)  # fmt: skip
    return admin


async def run_server(
    cfg: ServeConfig,
    *,
    announce: bool = True,
    on_started: Callable[[str, HttpServer | uvicorn.Server | WorkerPool], None] | None = None,
    tune_runtime: bool = False,
) -> None:
    """Serve until SIGINT/SIGTERM (or ``server.should_exit``); then shut down gracefully.

    ``on_started(url, server)`` runs once the socket is bound (tests run the server in a thread
    and stop it by setting ``server.should_exit``). ``tune_runtime`` changes process-wide
    settings (the garbage collector), so only the ``cambist serve`` entry point sets it.
    """
    data_dir = cfg.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    in_server = cfg.snapshots != "process"  # else the snapshotter process writes them
    node = await Node.open(
        data_dir, fsync=cfg.fsync,
        snapshot_every=cfg.snapshot_every if in_server else NEVER,
        snapshot_interval_s=cfg.snapshot_interval_s if in_server else math.inf,
        fork_snapshots=cfg.snapshots == "fork",
    )  # fmt: skip
    store = KeyStore(data_dir / "gateway.sqlite")
    projectors: ServeProjectors | ExternalProjectors | None = None
    snapshotter: SnapshotterProcess | None = None
    try:
        if not in_server:
            snapshotter = SnapshotterProcess(
                data_dir, every=cfg.snapshot_every, interval_s=cfg.snapshot_interval_s
            )
            await snapshotter.start()
        view = await asyncio.to_thread(build_view, node, data_dir, cfg)
        gw_cfg = GatewayConfig(
            skew_ms=cfg.skew_ms, rate_per_key=cfg.rate_per_key, burst_per_key=cfg.burst_per_key,
            max_body=cfg.max_body, keep_closed_orders=cfg.keep_closed_orders,
            min_sequence_timeout_s=cfg.min_sequence_timeout_s,
        )  # fmt: skip
        hook = None
        if cfg.projectors or cfg.external_projectors:
            projectors, hook = await start_history(
                node, view, data_dir, cfg.min_sequence_timeout_s, external=cfg.external_projectors
            )
        gateway = Gateway(node, view, store, gw_cfg, table_hook=hook)
        time_fsyncs(node, gateway.metrics)
        gateway.start()
        admin = await seed_new_directory(gateway, cfg)
        if tune_runtime:
            tune_gc(gateway.metrics)
        lag_hist = Histogram(
            "cambist_event_loop_lag_seconds",
            "How late the event loop ran a 5 ms timer (stalls that requests wait out)",
        )
        gateway.metrics.add(lag_hist)
        lag = LoopLag(lag_hist.observe)
        lag.start()
        server: HttpServer | _Server | WorkerPool
        if cfg.workers > 1:
            # The port is reserved here and listened on by the workers only.
            sock = reserve_port(cfg.host, cfg.port)
            port = sock.getsockname()[1]
            server = WorkerPool(gateway.app, workers=cfg.workers, host=cfg.host, port=port,
                                log_level=cfg.log_level)  # fmt: skip
            await server.start()
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((cfg.host, cfg.port))
            sock.listen(4096)
            port = sock.getsockname()[1]
            if cfg.http == "uvicorn":  # kept to compare the two stacks on the same machine
                server = _Server(
                    uvicorn.Config(
                        gateway.app, loop="none", http="httptools", lifespan="off",
                        access_log=False, log_config=None, log_level="warning",
                        timeout_graceful_shutdown=10, backlog=4096,
                    )
                )  # fmt: skip
            else:
                server = HttpServer(gateway.app, graceful_s=10.0)
        url = f"http://{cfg.host}:{port}"
        # atomically (a write, then a rename): clients and scripts poll for this file and
        # read it as soon as it exists, so they must never see it half written (empty)
        pending = data_dir / f"{SERVE_FILE}.{os.getpid()}.tmp"
        pending.write_text(json.dumps({"url": url, "pid": os.getpid()}))
        os.replace(pending, data_dir / SERVE_FILE)
        if announce:
            key_note = (f"new admin key written to {data_dir / ADMIN_KEY_FILE}" if admin
                        else f"admin key in {data_dir / ADMIN_KEY_FILE}")  # fmt: skip
            workers = f"; {cfg.workers} HTTP workers" if cfg.workers > 1 else ""
            print(f"Cambist serving on {url} (API {url}/api/v1, docs {url}/docs); {key_note}; "
                  f"engine {engine_build()}{workers}", flush=True)  # fmt: skip
        log.info("serve.started", url=url, sequence=view.last_seq, data_dir=str(data_dir),
                 engine=engine_build(), workers=cfg.workers)  # fmt: skip
        if on_started is not None:
            on_started(url, server)
        if isinstance(server, WorkerPool):
            try:
                await server.serve()
            finally:
                sock.close()
        elif isinstance(server, HttpServer):
            await server.serve(sock)
        else:
            await server.serve(sockets=[sock])
        lag.stop()
        await gateway.stop()
    finally:
        if snapshotter is not None:
            await snapshotter.stop()
        if projectors is not None:
            await projectors.stop()
        await node.close()
        store.close()
        log.info("serve.stopped", sequence=node.engine.last_seq)


def serve(cfg: ServeConfig) -> None:
    """Blocking entry point: uvloop when available."""
    configure_logging(cfg.log_level)
    try:
        import uvloop

        uvloop.run(run_server(cfg, tune_runtime=True))
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        asyncio.run(run_server(cfg, tune_runtime=True))
