"""``cambist journal inspect``, ``cambist replay``, ``cambist verify``: embedded-journal tools.

They read a journal directory without taking the writer's lock and never modify it (a torn tail
is reported, not cut: cutting is the writer's job on its next start).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from cambist.domain.engine import Engine
from cambist.domain.money import format_units
from cambist.log.errors import JournalError
from cambist.log.journal import scan_journal
from cambist.log.recovery import Progress as ProgressFn
from cambist.log.recovery import recover, replay
from cambist.log.segments import SNAPSHOTS_DIR
from cambist.log.snapshots import SnapshotInfo, SnapshotStore


def _console() -> Console:
    """Made per call, so the terminal width is read when the command runs."""
    return Console()


DirArg = Annotated[Path, typer.Argument(help="Journal directory (the node's data dir).")]


def _last_seq(directory: Path) -> int:
    scans = scan_journal(directory)
    return scans[-1].first_seq + sum(r.count for r in scans[-1].records) - 1 if scans else 0


@contextmanager
def _progress(console: Console, label: str, total: int) -> Iterator[ProgressFn]:
    """A progress bar over commands (rich hides it when output is not a terminal)."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def inspect(directory: DirArg) -> None:
    """Segments (sequence ranges, record and command counts), torn tail, snapshots."""
    console = _console()
    try:
        scans = scan_journal(directory)
    except JournalError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    table = Table(title=f"journal {directory}")
    for col in ("segment", "first seq", "last seq", "records", "commands", "bytes", "tail"):
        table.add_column(
            col, justify="left" if col in ("segment", "tail") else "right", no_wrap=col == "segment"
        )
    for scan in scans:
        count = sum(r.count for r in scan.records)
        tail = f"torn at {scan.valid_end}: {scan.torn}" if scan.torn else "clean"
        last = scan.first_seq + count - 1
        table.add_row(
            scan.path.name,
            str(scan.first_seq),
            str(last) if count else "-",
            str(len(scan.records)),
            str(count),
            str(scan.path.stat().st_size),
            tail,
        )
    console.print(table)
    store = SnapshotStore(directory / SNAPSHOTS_DIR)
    snaps = Table(title="snapshots")
    for col in ("file", "seq", "state hash", "bytes", "status"):
        snaps.add_column(col, no_wrap=col == "file")
    for _seq, path in store.paths():
        info = store.info(path)
        if isinstance(info, SnapshotInfo):
            snaps.add_row(path.name, str(info.seq), info.state_hash, str(info.size), "ok")
        else:
            snaps.add_row(path.name, "-", "-", str(path.stat().st_size), f"[red]{info}[/red]")
    console.print(snaps)


def replay_cmd(
    directory: DirArg,
    to: Annotated[
        int | None, typer.Option("--to", help="Rebuild the state as of this seq.")
    ] = None,
    market: Annotated[list[str] | None, typer.Option(help="Only these markets' books.")] = None,
    account: Annotated[
        int | None, typer.Option(help="Show this account's orders, balances.")
    ] = None,
    depth: Annotated[int, typer.Option(help="Book levels per side.")] = 10,
) -> None:
    """Rebuild the engine as of ``--to`` (time-travel debugging) and show books and an account."""
    console = _console()
    try:
        total = _last_seq(directory)
        with _progress(console, "replaying", min(to or total, total)) as progress:
            rec = recover(directory, to_seq=to, progress=progress)
    except JournalError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    for warning in rec.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")
    engine = rec.engine
    console.print(
        f"state as of seq {engine.last_seq} (snapshot {rec.snapshot_seq} + "
        f"{rec.replayed} replayed); state hash {engine.state_hash()}"
    )
    for name in sorted(engine.markets):
        if market and name not in market:
            continue
        _print_book(console, engine, name, depth)
    if account is not None:
        _print_account(console, engine, account)


def _print_book(console: Console, engine: Engine, name: str, depth: int) -> None:
    ms = engine.markets[name]
    spec = ms.spec
    pscale, qscale = engine.assets[spec.quote].scale, engine.assets[spec.base].scale
    table = Table(title=f"{name} ({spec.status}, last {format_units(ms.last_price, pscale)})")
    for col in ("bid qty", "bid", "ask", "ask qty"):
        table.add_column(col, justify="right")
    bids, asks = ms.book.bids.depth(depth), ms.book.asks.depth(depth)
    for i in range(max(len(bids), len(asks))):
        b = bids[i] if i < len(bids) else None
        a = asks[i] if i < len(asks) else None
        table.add_row(
            format_units(b[1], qscale) if b else "",
            format_units(b[0], pscale) if b else "",
            format_units(a[0], pscale) if a else "",
            format_units(a[1], qscale) if a else "",
        )
    console.print(table)


def _print_account(console: Console, engine: Engine, account: int) -> None:
    balances = engine.wallets.accounts.get(account)
    if balances is None:
        console.print(f"[yellow]account {account} does not exist at this seq[/yellow]")
        return
    table = Table(title=f"account {account} balances")
    for col in ("asset", "available", "reserved"):
        table.add_column(col, justify="right")
    for asset, bal in sorted(balances.items()):
        scale = engine.assets[asset].scale
        table.add_row(asset, format_units(bal.available, scale), format_units(bal.reserved, scale))
    console.print(table)
    orders = Table(title=f"account {account} open orders")
    for col in ("id", "market", "side", "type", "price", "remaining", "status"):
        orders.add_column(col)
    for oid, order in sorted(engine.account_orders.get(account, {}).items()):
        spec = engine.markets[order.market].spec
        pscale, qscale = engine.assets[spec.quote].scale, engine.assets[spec.base].scale
        orders.add_row(
            str(oid),
            order.market,
            str(order.side),
            str(order.order_type),
            format_units(order.price, pscale),
            format_units(order.remaining, qscale),
            str(order.status),
        )
    console.print(orders)


def verify(
    directory: DirArg,
    every: Annotated[
        int,
        typer.Option(
            help="Also check the invariants every N commands (0: only at snapshots and the end)."
        ),
    ] = 0,
) -> None:
    """Replay from zero; check every snapshot's state hash and the invariants; exit 1 on any
    divergence or corruption."""
    console = _console()
    store = SnapshotStore(directory / SNAPSHOTS_DIR)
    problems: list[str] = []
    checkpoints: dict[int, SnapshotInfo] = {}
    for seq, path in store.paths():
        info = store.info(path)
        if isinstance(info, SnapshotInfo):
            checkpoints[seq] = info
        else:
            problems.append(info)
    total = 0
    engine = Engine()
    try:
        total = _last_seq(directory)
        stops = sorted({s for s in checkpoints if s <= total} | {total})
        if every:
            stops = sorted(set(stops) | set(range(every, total, every)))
        with _progress(console, "verifying", total) as progress:
            for stop in stops:
                replay(engine, directory, to_seq=stop, progress=progress)
                if engine.last_seq != stop:
                    problems.append(f"replay ended at seq {engine.last_seq}, expected {stop}")
                    break
                if stop in checkpoints and engine.state_hash() != checkpoints[stop].state_hash:
                    problems.append(
                        f"state hash at seq {stop} is {engine.state_hash()}, but "
                        f"snapshot {checkpoints[stop].path} says "
                        f"{checkpoints[stop].state_hash}"
                    )
                try:
                    engine.validate_invariants()
                except AssertionError as exc:  # the domain's InvariantViolation
                    problems.append(f"invariant broken at seq {stop}: {exc}")
        for seq in checkpoints:
            if seq > total:
                problems.append(f"snapshot at seq {seq} is beyond the journal's end ({total})")
    except JournalError as exc:
        problems.append(str(exc))
    checked = sum(1 for s in checkpoints if s <= total)
    if problems:
        for problem in problems:
            console.print(f"[red]divergence:[/red] {problem}")
        raise typer.Exit(1)
    console.print(
        f"ok: {total} commands replayed, {checked} snapshot hashes match, invariants "
        f"hold; state hash {engine.state_hash()}"
    )


def register(app: typer.Typer) -> None:
    """Attach the log tools to the root command line."""
    journal = typer.Typer(no_args_is_help=True, help="Embedded journal tools.")
    journal.command("inspect")(inspect)
    app.add_typer(journal, name="journal")
    app.command("replay")(replay_cmd)
    app.command("verify")(verify)
