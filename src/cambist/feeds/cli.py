"""``cambist feeds run`` and ``cambist emulate``: the market-data gates and the venue emulator."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from pathlib import Path
from typing import Annotated

import msgspec
import typer
from aiohttp import web

from cambist.feeds.consolidated import ConsolidatedBook
from cambist.feeds.emulator.server import FAULTS, Emulator, FaultConfig
from cambist.feeds.gate import Gate, GateConfig
from cambist.feeds.scaled import Scale
from cambist.feeds.sink import FileSink, MemorySink, Sink
from cambist.feeds.venues import VENUES
from cambist.feeds.workers import WorkerPool, WorkerSpec, groups, parse_shares, tune_gc

feeds_app = typer.Typer(help="Market-data gates: ingest other venues' public feeds.")


def _loop_policy() -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def _scales(items: list[str]) -> dict[str, dict[str, Scale]]:
    """``VENUE:SYMBOL=PRICE_DECIMALS:SIZE_DECIMALS`` options per venue."""
    out: dict[str, dict[str, Scale]] = {}
    for item in items:
        key, _, value = item.partition("=")
        venue, _, symbol = key.partition(":")
        p, _, q = value.partition(":")
        if venue not in VENUES or not symbol or not (p.isdigit() and q.isdigit()):
            raise typer.BadParameter(f"expected VENUE:SYMBOL=P:S, got {item!r}")
        out.setdefault(venue, {})[symbol] = Scale(int(p), int(q))
    return out


def _pairs(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        venue, sep, url = item.partition("=")
        if not sep or venue not in VENUES:
            raise typer.BadParameter(f"expected VENUE=URL with a known venue, got {item!r}")
        out[venue] = url
    return out


@feeds_app.command("run")
def run(
    venue: Annotated[list[str], typer.Option(help="Venue to ingest (repeatable).")],
    symbols: Annotated[str, typer.Option(help="Comma-separated BASE-QUOTE symbols.")],
    connections: Annotated[int, typer.Option(help="Redundant connections per venue.")] = 2,
    ws_url: Annotated[list[str], typer.Option(help="VENUE=URL override (e.g. emulator).")] = [],  # noqa: B006
    rest_url: Annotated[list[str], typer.Option(help="VENUE=URL REST override.")] = [],  # noqa: B006
    log: Annotated[Path | None, typer.Option(help="Market-data log file.")] = None,
    api_port: Annotated[int, typer.Option(help="Local API port (127.0.0.1).")] = 8765,
    duration: Annotated[float, typer.Option(help="Stop after this many seconds (0: never).")] = 0,
    workers: Annotated[
        int,
        typer.Option(
            help="Worker processes, the (venue, symbol) books cut into equal shares among "
            "them (0: one per core, at most one per book; 1: all in this process)."
        ),
    ] = 0,
    group: Annotated[
        list[str],
        typer.Option(
            help="One worker's share, by hand (repeatable, one per worker): comma-separated "
            "VENUE or VENUE:SYMBOL, e.g. --group binance,kraken:BTC-USD --group "
            "kraken:ETH-USD,okx. Every book in exactly one group; overrides --workers."
        ),
    ] = [],  # noqa: B006
    scale: Annotated[
        list[str],
        typer.Option(
            help="VENUE:SYMBOL=P:S decimals of prices and sizes (default 8:8; Kraken needs the "
            "pair's price_precision:qty_precision for its checksum)."
        ),
    ] = [],  # noqa: B006
) -> None:
    """Run the gates and serve the consolidated book on http://127.0.0.1:PORT/book/SYMBOL."""
    unknown = [v for v in venue if v not in VENUES]
    if unknown:
        raise typer.BadParameter(f"unknown venue(s) {unknown}; known: {sorted(VENUES)}")
    ws, rest, scales = _pairs(ws_url), _pairs(rest_url), _scales(scale)
    syms = [s.strip() for s in symbols.split(",") if s.strip()]
    sink: Sink = FileSink(log) if log else MemorySink()
    configs = {
        v: GateConfig(
            connections=connections,
            ws_url=ws.get(v, ""),
            rest_url=rest.get(v, ""),
            scales=scales.get(v, {}),
        )
        for v in venue
    }
    _loop_policy()
    books = {v: syms for v in venue}
    try:
        shares = parse_shares(group, books) if group else None
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--group") from None
    n = len(shares) if shares else workers or min(len(venue) * len(syms), os.cpu_count() or 1)
    if n <= 1:
        tune_gc()
        gates = [Gate(VENUES[v], syms, sink, configs[v]) for v in venue]
        asyncio.run(_serve(gates, None, api_port, duration))
    else:
        specs = [
            WorkerSpec(share, {v: configs[v] for v in share})
            for share in shares or groups(books, n)
        ]
        asyncio.run(_serve([], WorkerPool(specs, sink), api_port, duration))
    sink.close()


def feeds_build() -> str:
    """ "native" when the feed hot path was compiled by mypyc (``make native``, then
    ``PYTHONPATH=build/native``), else "interpreted"; printed at start."""
    from cambist.feeds import core

    return "interpreted" if (core.__file__ or "").endswith(".py") else "native"


async def _serve(gates: list[Gate], pool: WorkerPool | None, port: int, duration: float) -> None:
    book = ConsolidatedBook((g.merger for g in gates), rows=pool.tops if pool else None)

    async def one(request: web.Request) -> web.Response:
        return web.Response(
            body=msgspec.json.encode(book.get(request.match_info["symbol"])),
            content_type="application/json",
        )

    async def all_books(_: web.Request) -> web.Response:
        body = msgspec.json.encode([book.get(s) for s in book.symbols()])
        return web.Response(body=body, content_type="application/json")

    async def stats(_: web.Request) -> web.Response:
        out = {g.venue.Session.name: g.totals() for g in gates}
        if pool is not None:
            out.update(pool.totals())
        return web.json_response(out)

    app = web.Application()
    app.router.add_get("/book/{symbol}", one)
    app.router.add_get("/books", all_books)
    app.router.add_get("/stats", stats)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print(json.dumps({"api": f"http://127.0.0.1:{port}", "feeds": feeds_build()}), flush=True)
    tasks = [asyncio.create_task(g.run()) for g in gates]
    if pool is not None:
        tasks.append(asyncio.create_task(pool.run()))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), duration or None)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await runner.cleanup()


def emulate(
    venue: Annotated[str, typer.Option(help=f"One of {sorted(VENUES)}.")],
    symbols: Annotated[str, typer.Option(help="Comma-separated BASE-QUOTE symbols.")] = "BTC-USDT",
    host: Annotated[str, typer.Option(help="Listen address (loopback only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: ephemeral, printed on start).")] = 0,
    rate: Annotated[float, typer.Option(help="Market events per second.")] = 1000.0,
    seed: Annotated[int, typer.Option(help="Random seed of the synthetic market.")] = 1,
    faults: Annotated[float, typer.Option(help="Fault probability per message.")] = 0.0,
    fault_kinds: Annotated[str, typer.Option(help="Comma-separated subset of faults.")] = ",".join(
        FAULTS
    ),
    duration: Annotated[float, typer.Option(help="Stop after this many seconds (0: never).")] = 0,
    record_sends: Annotated[
        Path | None, typer.Option(help="Write {trade_id: send_ns} here on exit (benchmarks).")
    ] = None,
) -> None:
    """Speak VENUE's WebSocket and REST protocol from a synthetic market, with faults."""
    if venue not in VENUES:
        raise typer.BadParameter(f"unknown venue {venue!r}; known: {sorted(VENUES)}")
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise typer.BadParameter("the emulator listens on loopback only")
    kinds = tuple(k for k in fault_kinds.split(",") if k)
    if bad := [k for k in kinds if k not in FAULTS]:
        raise typer.BadParameter(f"unknown fault kinds {bad}; known: {FAULTS}")
    syms = [s.strip() for s in symbols.split(",") if s.strip()]
    emu = Emulator(
        VENUES[venue], syms, rate, seed, FaultConfig(rate=faults, kinds=kinds), keep_history=False
    )
    emu.record_sends = record_sends is not None
    _loop_policy()
    asyncio.run(_emulate(emu, host, port, duration))
    if record_sends is not None:
        record_sends.write_bytes(msgspec.json.encode(emu.sent_at))


async def _emulate(emu: Emulator, host: str, port: int, duration: float) -> None:
    bound = await emu.start(host, port)
    print(json.dumps({"venue": emu.market.venue, "port": bound}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), duration or None)
    await emu.stop()
    print(
        json.dumps({"faults": emu.fault_counts, "trades": len(emu.market.trades)}), file=sys.stderr
    )


def register(app: typer.Typer) -> None:
    """Attach the market-data commands to the root command line."""
    app.add_typer(feeds_app, name="feeds")
    app.command("emulate")(emulate)
