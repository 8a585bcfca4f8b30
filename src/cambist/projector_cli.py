"""``cambist projector run|rebuild|status`` and ``cambist reconcile``.

Outside :mod:`cambist.readmodels` because a projector process folds the journal's commands
through its own engine to get the events (see :mod:`cambist.server.projectors`), and the
reconciliation compares the ledger with the engine's balances.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from cambist.domain.engine import Engine
from cambist.readmodels import queries
from cambist.readmodels.runner import DEFAULT_BATCH, ProjectorGroup, marks, resolve_names
from cambist.readmodels.store import Store, open_store
from cambist.server.projectors import (
    DEFAULT_MAX_DELAY_S,
    catch_up,
    default_url,
    engine_at,
    follow,
    status_rows,
)

Opt = typer.Option
DataDir = Annotated[Path, Opt("--data-dir", "-d", help="The node's data dir (journal)")]
Db = Annotated[
    str | None, Opt("--db", help="Read-model database: a postgresql:// URL or a SQLite path")
]
Names = Annotated[list[str], typer.Argument(help="Projectors: orders, market, ledger or all")]


def _group(url: str, names: list[str]) -> ProjectorGroup:
    try:
        return ProjectorGroup(open_store(url), resolve_names(names))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def reconcile_report(store: Store, data_dir: Path) -> tuple[int, list[str]]:
    """(the sequence compared at, every difference found). The ledger is compared with the
    engine's balances and the fee account with the fills' fees, all at one sequence: the lower
    of the ledger's and the orders projector's marks."""
    found = marks(store)
    if "ledger" not in found or "orders" not in found:
        return 0, ["the ledger and orders projectors have never run on this database"]
    seq = min(found["ledger"][0], found["orders"][0])
    engine: Engine = engine_at(data_dir, seq)
    problems: list[str] = []
    ledger = {k: v for k, v in queries.ledger_sums(store, seq).items() if v != (0, 0)}
    balances: dict[tuple[int, str], tuple[int, int]] = {}
    for account, held in engine.wallets.accounts.items():
        for asset, bal in held.items():
            if bal.available or bal.reserved:
                balances[(account, asset)] = (bal.available, bal.reserved)
    for key in sorted(set(ledger) | set(balances)):
        got, want = ledger.get(key, (0, 0)), balances.get(key, (0, 0))
        if got != want:
            problems.append(
                f"account {key[0]} {key[1]}: ledger available {got[0]} reserved {got[1]},"
                f" engine available {want[0]} reserved {want[1]}"
            )
    fees = {a: f for a, f in queries.fill_fee_sums(store, seq).items() if f}
    fee_ledger = {asset: av for (acct, asset), (av, _) in ledger.items() if acct == 0 and av}
    for asset in sorted(set(fees) | set(fee_ledger)):
        if fees.get(asset, 0) != fee_ledger.get(asset, 0):
            problems.append(
                f"fee account {asset}: ledger {fee_ledger.get(asset, 0)},"
                f" fills' fees {fees.get(asset, 0)}"
            )
    return seq, problems


def register(app: typer.Typer) -> None:
    """Attach ``projector`` (run, rebuild, status) and ``reconcile``."""
    projector = typer.Typer(no_args_is_help=True, help="Read-model projectors.")
    app.add_typer(projector, name="projector")

    @projector.command("run")
    def run(
        names: Names,
        data_dir: DataDir = Path("data"),
        db: Db = None,
        batch: Annotated[int, Opt(help="Commands per transaction at most")] = DEFAULT_BATCH,
        max_delay: Annotated[
            float, Opt(help="Seconds a command may wait for more before its commit")
        ] = DEFAULT_MAX_DELAY_S,
    ) -> None:
        """Tail the journal and project it until SIGINT/SIGTERM (several may run at once)."""
        group = _group(db or default_url(data_dir), names).open()
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        typer.echo(f"projecting {', '.join(p.name for p in group.projectors)} from"
                   f" {group.low_mark + 1} ({group.store.url})", err=True)  # fmt: skip
        try:
            follow(group, data_dir, stop, batch=batch, max_delay_s=max_delay)
        finally:
            group.store.close()

    @projector.command("rebuild")
    def rebuild(names: Names, data_dir: DataDir = Path("data"), db: Db = None) -> None:
        """Drop the projectors' tables and project the whole journal again."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        from cambist.log.segments import WATERMARK_FILE, Watermark

        url = db or default_url(data_dir)
        group = _group(url, names)
        for p in group.projectors:
            p.drop()
        group.open()
        wm = Watermark(data_dir / WATERMARK_FILE, writable=False)
        end = wm.read()
        wm.close()
        with Progress(
            "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
            TimeRemainingColumn(), transient=not sys.stderr.isatty(),
        ) as bar:  # fmt: skip
            task = bar.add_task("rebuilding", total=end)
            catch_up(group, data_dir, end, progress=lambda s: bar.update(task, completed=s))
        group.store.close()
        typer.echo(f"rebuilt {', '.join(resolve_names(names))} to {end}")

    @projector.command("status")
    def status(data_dir: DataDir = Path("data"), db: Db = None) -> None:
        """Each projector's position and lag behind the journal's committed end."""
        rows = status_rows(db or default_url(data_dir), data_dir)
        if not rows:
            typer.echo("no projector has run on this database")
        for name, position, lag in rows:
            typer.echo(f"{name:8} position {position:>12}  lag {'?' if lag is None else lag:>10}")

    @app.command("reconcile")
    def reconcile(
        data_dir: Annotated[Path, typer.Argument(help="The node's data dir")], db: Db = None
    ) -> None:
        """Check the ledger against the engine's balances and the fills' fees; exit 1 with
        every difference."""
        store = open_store(db or default_url(data_dir))
        try:
            seq, problems = reconcile_report(store, data_dir)
        finally:
            store.close()
        for line in problems:
            typer.echo(line)
        if problems:
            typer.echo(f"{len(problems)} difference(s) at sequence {seq}")
            raise typer.Exit(1)
        typer.echo(f"ledger reconciles with the engine at sequence {seq}")
