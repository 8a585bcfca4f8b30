"""Damage on disk and failing writes: each gives the specified behaviour (docs/journal.md)."""

from __future__ import annotations

import errno
import os
import random
from pathlib import Path

import pytest

from cambist.domain.engine import Engine
from cambist.log.errors import CorruptRecordError, JournalWriteError
from cambist.log.journal import Journal, read_commands
from cambist.log.recovery import recover
from cambist.log.segments import SNAPSHOTS_DIR, list_segments
from cambist.log.snapshots import SnapshotStore
from tests.log.workload import random_orders, setup_commands


def _fill(directory: Path, batches: int = 30, segment_bytes: int = 64 << 20) -> int:
    journal = Journal.open(directory, segment_bytes=segment_bytes)
    journal.append_sync(setup_commands())
    for i in range(batches):
        journal.append_sync(random_orders(random.Random(i), 10))
    last = journal.last_seq
    journal.close()
    return last


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x10
    path.write_bytes(bytes(data))


def test_journal_torn_tail_is_cut_on_open(tmp_path: Path) -> None:
    last = _fill(tmp_path)
    seg = list_segments(tmp_path)[-1][1]
    size = seg.stat().st_size
    with open(seg, "r+b") as f:
        f.truncate(size - 7)  # the last record loses its end
    journal = Journal.open(tmp_path)
    assert journal.open_report.cut is not None
    cut_path, offset, removed, _why = journal.open_report.cut
    assert cut_path == seg and removed > 0 and seg.stat().st_size == offset
    assert journal.last_seq == last - 10  # exactly the torn batch is gone
    first, _ = journal.append_sync(random_orders(random.Random(99), 2))
    assert first == last - 9
    journal.close()


def test_journal_zero_filled_tail_is_cut_on_open(tmp_path: Path) -> None:
    last = _fill(tmp_path)
    seg = list_segments(tmp_path)[-1][1]
    with open(seg, "ab") as f:
        f.write(b"\0" * 4096)  # the file system extended the file, the data never landed
    journal = Journal.open(tmp_path)
    assert journal.last_seq == last and journal.open_report.cut is not None
    journal.close()


def test_journal_flipped_bit_mid_segment_refuses_start_naming_file_and_offset(
    tmp_path: Path,
) -> None:
    _fill(tmp_path)
    seg = list_segments(tmp_path)[-1][1]
    _flip(seg, seg.stat().st_size // 2)
    with pytest.raises(CorruptRecordError) as info:
        Journal.open(tmp_path)
    assert info.value.path == seg
    assert str(seg) in str(info.value) and f"offset {info.value.offset}" in str(info.value)
    assert "valid record follows" in str(info.value)


def test_journal_bad_record_in_older_segment_refuses_start(tmp_path: Path) -> None:
    _fill(tmp_path, batches=40, segment_bytes=4096)
    segments = list_segments(tmp_path)
    assert len(segments) > 2
    older = segments[0][1]
    with open(older, "r+b") as f:
        f.truncate(older.stat().st_size - 3)  # a torn record that is *not* at the tail
    with pytest.raises(CorruptRecordError, match=str(older)):
        Journal.open(tmp_path)


def test_reader_flipped_bit_below_watermark_raises_not_skips(tmp_path: Path) -> None:
    _fill(tmp_path)
    seg = list_segments(tmp_path)[-1][1]
    _flip(seg, seg.stat().st_size // 2)
    with pytest.raises(CorruptRecordError, match="checksum"):
        list(read_commands(tmp_path, limit=lambda: 10**9))


def _with_snapshots(directory: Path) -> tuple[list[int], str]:
    """Journal + snapshots at three points; returns their seqs and the final state hash."""
    journal = Journal.open(directory)
    store = SnapshotStore(directory / SNAPSHOTS_DIR)
    engine = Engine()
    seqs = []
    batches = [setup_commands()] + [random_orders(random.Random(i), 20) for i in range(9)]
    for i, batch in enumerate(batches):
        journal.append_sync(batch)
        for cmd in batch:
            engine.apply(cmd)
        if i % 3 == 1:
            store.write(engine.last_seq, engine.snapshot())
            seqs.append(engine.last_seq)
    journal.close()
    return seqs, engine.state_hash()


def test_recover_truncated_newest_snapshot_falls_back_with_warning(tmp_path: Path) -> None:
    seqs, final_hash = _with_snapshots(tmp_path)
    newest = tmp_path / SNAPSHOTS_DIR / f"{seqs[-1]:020d}.snap"
    with open(newest, "r+b") as f:
        f.truncate(newest.stat().st_size // 2)
    rec = recover(tmp_path)
    assert rec.snapshot_seq == seqs[-2]
    assert any("truncated" in w and str(newest) in w for w in rec.warnings)
    assert rec.engine.state_hash() == final_hash


def test_recover_all_snapshots_corrupt_falls_back_to_full_replay(tmp_path: Path) -> None:
    seqs, final_hash = _with_snapshots(tmp_path)
    for seq in seqs:
        _flip(tmp_path / SNAPSHOTS_DIR / f"{seq:020d}.snap", 200)
    rec = recover(tmp_path)
    assert rec.snapshot_seq == 0 and len(rec.warnings) == len(seqs)
    assert all("checksum mismatch" in w for w in rec.warnings)
    assert rec.engine.state_hash() == final_hash


@pytest.mark.parametrize("durable_write", ["dsync", "write_then_fdatasync"])
def test_journal_disk_full_mid_write_reports_and_leaves_no_partial_record(
    tmp_path: Path, durable_write: str
) -> None:
    last = _fill(tmp_path, batches=5)
    journal = Journal.open(tmp_path)
    seg = list_segments(tmp_path)[-1][1]
    size_before = seg.stat().st_size

    def half_then_enospc(fd: int, data: bytes | memoryview) -> int:
        if len(data) > 100:
            return os.write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    def enospc(fd: int, data: bytes | memoryview) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    if durable_write == "dsync":  # the durable write stops half-way, the rest finds the disk full
        journal._sync_write = half_then_enospc
        journal._write = enospc
    else:
        journal._sync_write = None
        journal._write = half_then_enospc
    with pytest.raises(JournalWriteError, match="disk full") as info:
        journal.append_sync(random_orders(random.Random(5), 50))
    assert str(seg) in str(info.value) and f"offset {size_before}" in str(info.value)
    assert seg.stat().st_size == size_before  # the half record was cut back
    with pytest.raises(JournalWriteError):
        journal.append_sync(random_orders(random.Random(6), 1))  # refuses until reopened
    assert journal.last_seq == last
    journal.close()
    reopened = Journal.open(tmp_path)
    assert reopened.open_report.cut is None and reopened.last_seq == last
    assert reopened.append_sync(random_orders(random.Random(7), 1))[0] == last + 1
    reopened.close()


@pytest.mark.parametrize("failing", ["dsync_write", "fdatasync"])
def test_journal_failed_sync_fails_batch_and_later_appends(tmp_path: Path, failing: str) -> None:
    """EIO from the one-call durable write (``pwritev2`` with ``RWF_DSYNC``) or, where the kernel
    has no RWF_DSYNC, from ``fdatasync``: the batch fails, and every later append."""
    last = _fill(tmp_path, batches=2)
    journal = Journal.open(tmp_path)

    def eio(fd: int, data: bytes = b"") -> int:
        raise OSError(errno.EIO, "Input/output error")

    if failing == "dsync_write":
        journal._sync_write = eio
    else:
        journal._sync_write = None
        journal._fsync = eio
    with pytest.raises(JournalWriteError, match="I/O error"):
        journal.append_sync(random_orders(random.Random(1), 3))
    with pytest.raises(JournalWriteError):
        journal.append_sync(random_orders(random.Random(2), 3))
    assert journal.last_seq == last
    journal.close()


def test_journal_durable_write_unsupported_falls_back_to_fdatasync(tmp_path: Path) -> None:
    """A kernel or file system without ``RWF_DSYNC`` (EOPNOTSUPP/EINVAL): write + fdatasync from
    then on, nothing refused, every sync still observed."""
    journal = Journal.open(tmp_path)
    refused: list[int] = []
    syncs: list[int] = []
    observed: list[float] = []

    def unsupported(fd: int, data: bytes) -> int:
        refused.append(len(data))
        raise OSError(errno.EOPNOTSUPP, "Operation not supported")

    real = journal._fsync

    def counting(fd: int) -> None:
        syncs.append(fd)
        real(fd)

    journal._sync_write = unsupported
    journal._fsync = counting
    journal.on_sync = observed.append
    journal.append_sync(setup_commands())
    journal.append_sync(random_orders(random.Random(1), 5))
    last = journal.last_seq
    journal.close()
    assert len(refused) == 1 and journal._sync_write is None and len(syncs) == 2
    assert len(observed) == 2 and all(t >= 0 for t in observed)
    assert [c.seq for c in read_commands(tmp_path)][-1] == last
