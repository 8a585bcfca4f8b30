"""``cambist journal inspect``, ``cambist replay --to``, ``cambist verify``."""

from __future__ import annotations

import random
from pathlib import Path

from typer.testing import CliRunner

from cambist.cli import app
from cambist.domain.engine import Engine
from cambist.log.journal import Journal
from cambist.log.segments import SNAPSHOTS_DIR, list_segments
from cambist.log.snapshots import SnapshotStore
from tests.log.workload import MARKET, random_orders, setup_commands

runner = CliRunner()


def _journal(directory: Path) -> tuple[int, str]:
    journal = Journal.open(directory, segment_bytes=4096)
    store = SnapshotStore(directory / SNAPSHOTS_DIR)
    engine = Engine()
    for i, batch in enumerate(
        [setup_commands()] + [random_orders(random.Random(i), 15) for i in range(12)]
    ):
        journal.append_sync(batch)
        for cmd in batch:
            engine.apply(cmd)
        if i in (4, 8):
            store.write(engine.last_seq, engine.snapshot())
    journal.close()
    return engine.last_seq, engine.state_hash()


def test_cli_journal_inspect_lists_segments_ranges_and_snapshots(tmp_path: Path) -> None:
    last, _ = _journal(tmp_path)
    result = runner.invoke(app, ["journal", "inspect", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for _first, path in list_segments(tmp_path):
        assert path.name in result.output
    assert str(last) in result.output and result.output.count(".snap") == 2


def test_cli_replay_to_seq_shows_books_account_and_hash(tmp_path: Path) -> None:
    _journal(tmp_path)
    expected = Engine()
    journal = Journal.open(tmp_path)
    for cmd in journal.read_sync(1, 60):
        expected.apply(cmd)
    journal.close()
    result = runner.invoke(
        app, ["replay", str(tmp_path), "--to", "60", "--account", "3"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "state as of seq 60" in result.output and expected.state_hash() in result.output
    assert MARKET in result.output and "account 3 balances" in result.output


def test_cli_verify_clean_journal_exits_zero(tmp_path: Path) -> None:
    last, final_hash = _journal(tmp_path)
    result = runner.invoke(app, ["verify", str(tmp_path), "--every", "50"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert f"{last} commands replayed, 2 snapshot hashes match" in result.output
    assert final_hash in result.output


def test_cli_verify_snapshot_hash_divergence_exits_nonzero(tmp_path: Path) -> None:
    _journal(tmp_path)
    store = SnapshotStore(tmp_path / SNAPSHOTS_DIR)
    seq, path = store.paths()[0]
    _info, payload = store.read(path)
    # A snapshot that is internally valid but disagrees with the log (e.g. a diverged replica).
    other = Engine.restore(payload)
    other.next_trade_id += 1000
    path.unlink()
    store.write(seq, other.snapshot())
    result = runner.invoke(app, ["verify", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert f"state hash at seq {seq}" in result.output


def test_cli_verify_corrupt_record_exits_nonzero_naming_file(tmp_path: Path) -> None:
    _journal(tmp_path)
    seg = list_segments(tmp_path)[0][1]
    data = bytearray(seg.read_bytes())
    data[len(data) // 2] ^= 1
    seg.write_bytes(bytes(data))
    result = runner.invoke(app, ["verify", str(tmp_path)], env={"COLUMNS": "300"})
    assert result.exit_code == 1
    assert seg.name in result.output.replace("\n", "")
