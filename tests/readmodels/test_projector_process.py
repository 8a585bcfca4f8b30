"""Projectors as separate processes tailing the journal: SIGKILL mid-batch, many times, and the
tables still equal a clean rebuild row for row; reconciliation; the CLI."""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cambist.cli import app
from cambist.log.journal import Journal
from cambist.projector_cli import reconcile_report
from cambist.readmodels.runner import ProjectorGroup, marks
from cambist.readmodels.store import SqliteStore, open_store
from cambist.server.projectors import catch_up
from tests.readmodels.conformance import TABLES
from tests.readmodels.conftest import fresh_schema_url
from tests.readmodels.workload import commands, dump

N = 12_000


def make_journal(directory: Path, n: int = N) -> int:
    """A journal of the seeded workload in records of 100 commands; returns the last seq."""
    ticks = itertools.count()
    journal = Journal.open(
        directory, fsync="always", clock=lambda: 10**18 + next(ticks) * 3 * 10**9
    )
    cmds = commands(n)
    for i in range(0, len(cmds), 100):
        journal.append_sync(cmds[i : i + 100])
    last = journal.last_seq
    journal.close()
    return last


@pytest.fixture(scope="module")
def journal_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    d = Path(tmp_path_factory.mktemp("journal"))
    return d, make_journal(d)


def clean_rebuild(journal: Path, db: Path) -> SqliteStore:
    store = SqliteStore(db)
    catch_up(ProjectorGroup(store).open(), journal)
    return store


def _spawn(journal: Path, db: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from cambist.cli import main; main()",
            "projector",
            "run",
            "all",
            "--data-dir",
            str(journal),
            "--db",
            db,
            "--batch",
            "40",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


def _low_mark(db: str) -> int:
    if not db.startswith("postgresql://") and not Path(db).exists():
        return 0
    store = open_store(db)
    try:
        found = marks(store)
        return min((s for s, _ in found.values()), default=0) if len(found) == 3 else 0
    finally:
        store.close()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The projector process's database: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        return str(tmp_path / "rm.sqlite")
    return fresh_schema_url(request.getfixturevalue("postgres_url"))


def test_projector_process_sigkill_mid_batch_tables_equal_clean_rebuild(
    journal_dir: tuple[Path, int], tmp_path: Path, db_url: str
) -> None:
    journal, last = journal_dir
    db = db_url
    rng = random.Random(5)
    kills = 0
    while kills < 8:
        before = _low_mark(db)
        proc = _spawn(journal, db)
        deadline = time.monotonic() + 30
        while _low_mark(db) <= before and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.05))
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate()
        assert proc.returncode == -signal.SIGKILL, err.decode(errors="replace")
        kills += 1
        if _low_mark(db) >= last:
            break
    assert kills >= 4, "the projector finished before it could be killed often enough"
    proc = _spawn(journal, db)
    deadline = time.monotonic() + 60
    while _low_mark(db) < last and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode(errors="replace")
    assert _low_mark(db) == last
    survivor, clean = open_store(db), clean_rebuild(journal, tmp_path / "clean.sqlite")
    try:
        for table in TABLES:
            assert dump(survivor, table) == dump(clean, table), table
    finally:
        survivor.close()
        clean.close()


def test_reconcile_projected_journal_has_no_difference(
    journal_dir: tuple[Path, int], tmp_path: Path
) -> None:
    journal, last = journal_dir
    store = clean_rebuild(journal, tmp_path / "rm.sqlite")
    try:
        seq, problems = reconcile_report(store, journal)
    finally:
        store.close()
    assert (seq, problems) == (last, [])


def test_reconcile_cli_tampered_ledger_exits_nonzero_with_report(
    journal_dir: tuple[Path, int], tmp_path: Path
) -> None:
    journal, _ = journal_dir
    db = tmp_path / "rm.sqlite"
    store = clean_rebuild(journal, db)
    store.execute(
        "DELETE FROM ledger WHERE kind = 'fee' AND account = 0 AND seq = (SELECT MAX(seq) FROM ledger WHERE kind = 'fee')"
    )
    store.close()
    result = CliRunner().invoke(app, ["reconcile", str(journal), "--db", str(db)])
    assert result.exit_code == 1
    assert "account 0" in result.output and "fee account" in result.output


def test_projector_cli_rebuild_then_status_shows_zero_lag(
    journal_dir: tuple[Path, int], tmp_path: Path
) -> None:
    journal, last = journal_dir
    db = tmp_path / "rm.sqlite"
    runner = CliRunner()
    assert (
        runner.invoke(
            app, ["projector", "rebuild", "market", "-d", str(journal), "--db", str(db)]
        ).exit_code
        == 0
    )
    result = runner.invoke(app, ["projector", "status", "-d", str(journal), "--db", str(db)])
    assert result.exit_code == 0
    assert f"market   position {last:>12}  lag          0" in result.output
    bad = runner.invoke(app, ["projector", "rebuild", "nope", "-d", str(journal), "--db", str(db)])
    assert bad.exit_code != 0
