"""The embedded journal: the default command log, append-only segment files on local disk.

One writer thread is the sequencer. Producers hand it encoded chunks; it takes *everything
waiting* as one batch, stamps ``seq`` and ``ts`` (one clock read per batch, never going back),
writes one record durably (``fsync="always"``), publishes the committed watermark and only then
reports each chunk durable. While it waits on the disk (the GIL is released) producers encode
the next batch: that overlap is the group commit.

Why one ``pwritev2(RWF_DSYNC)`` where the kernel has it: it is a write with fdatasync's
guarantee (the data and the metadata needed to read it back, the file size) in one system call,
so the writer thread gives up and takes back the GIL once per commit instead of twice. Each
time it takes the GIL back while the event loop is running it costs both threads futex calls
and a context switch. Elsewhere: ``write`` then ``fdatasync``. ``fsync`` would also flush
timestamps. See docs/journal.md for the fsync policies and what each can lose.

The hand-over is a ``queue.SimpleQueue`` (C; one wake-up per batch) rather than a
``threading.Condition`` (interpreted; a lock allocated per wait, and the condition's lock
taken again after waking, both contended by the producers).
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os
import queue
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import structlog

from cambist.domain.commands import Command
from cambist.log.codec import CODEC_VERSION, decode_payload, encode_chunk, join_chunks
from cambist.log.errors import (
    CodecError,
    CorruptRecordError,
    JournalClosedError,
    JournalLockedError,
    JournalWriteError,
)
from cambist.log.interface import CommandLog
from cambist.log.records import (
    SEGMENT_HEADER,
    RecordInfo,
    SegmentScan,
    encode_record,
    encode_segment_header,
    scan_segment,
    segment_name,
)
from cambist.log.segments import (
    SEGMENTS_DIR,
    WATERMARK_FILE,
    Cursor,
    Watermark,
    list_segments,
)

log = structlog.get_logger("cambist.journal")

DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024
MAX_BATCH_BYTES = 8 * 1024 * 1024
_sync = getattr(os, "fdatasync", os.fsync)
_RWF_DSYNC: int | None = getattr(os, "RWF_DSYNC", None)
_CLOSE = None
"""Put on the writer's queue by ``close``: commit what came before it, sync, stop."""


def _dsync_write(fd: int, data: bytes) -> int:
    """Append ``data`` and return once it is durable (Linux >= 4.7: O_DSYNC for this write)."""
    assert _RWF_DSYNC is not None
    return os.pwritev(fd, [data], -1, _RWF_DSYNC)  # -1: at the file position (O_APPEND: end)


Done = Callable[[int, int, BaseException | None], None]
"""Called on the writer thread with (first_seq, ts, None) once durable, or (0, 0, error)."""


@dataclass(frozen=True, slots=True)
class FsyncPolicy:
    """``always``: a batch is acknowledged only after fdatasync returns; nothing acknowledged is
    ever lost. An interval (``"5ms"``, ``"1s"``): acknowledged after the write, synced at most
    that long after; a process crash loses nothing (the kernel holds the pages), but a power
    loss or kernel crash loses up to the last interval of acknowledged commands."""

    interval_s: float | None

    @classmethod
    def parse(cls, text: str) -> FsyncPolicy:
        if text == "always":
            return cls(None)
        match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s)", text.strip())
        if not match:
            raise ValueError(
                f"fsync policy must be 'always' or an interval like '5ms' or '1s', not {text!r}"
            )
        value = float(match.group(1)) / (1000 if match.group(2) == "ms" else 1)
        if value <= 0:
            raise ValueError("fsync interval must be positive")
        return cls(value)

    def __str__(self) -> str:
        return "always" if self.interval_s is None else f"{self.interval_s * 1000:g}ms"


@dataclass(slots=True)
class _Pending:
    chunk: bytes
    cmds: Sequence[Command] | None
    count: int
    done: Done


@dataclass(slots=True)
class OpenReport:
    """What opening found: the segments, and the torn tail that was cut (if any)."""

    segments: list[SegmentScan]
    cut: tuple[Path, int, int, str] | None
    """(file, offset, bytes removed, why) of the torn tail cut on open."""


def fsync_dir(path: Path) -> None:
    """Make a create, rename or unlink in ``path`` durable (the entry lives in the directory)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def scan_journal(directory: Path) -> list[SegmentScan]:
    """Check every record of every segment (tools use this on a stopped journal)."""
    segments = list_segments(directory)
    scans: list[SegmentScan] = []
    expect: int | None = None
    for i, (_first, path) in enumerate(segments):
        data = path.read_bytes()
        last = i == len(segments) - 1
        if last and len(data) < SEGMENT_HEADER.size:
            break  # created but its header never made it: nothing in it was acknowledged
        scan = scan_segment(path, data, last=last, expect_seq=expect)
        expect = scan.first_seq + sum(r.count for r in scan.records)
        scans.append(scan)
    return scans


class Journal(CommandLog):
    """The writer side of one journal directory (one per directory, enforced with a lock)."""

    def __init__(
        self,
        directory: Path,
        policy: FsyncPolicy,
        segment_bytes: int,
        clock: Callable[[], int],
        report: OpenReport,
    ) -> None:
        self.directory = directory
        self.policy = policy
        self.segment_bytes = segment_bytes
        self.clock = clock
        self.open_report = report
        self._write: Callable[[int, bytes | memoryview], int] = os.write
        self._fsync: Callable[[int], None] = _sync
        self._sync_write: Callable[[int, bytes], int] | None = (
            _dsync_write if _RWF_DSYNC is not None else None
        )
        """One durable write (``fsync="always"``); None: ``write`` then ``fdatasync``."""
        self.on_sync: Callable[[float], None] | None = None
        """Called on the writer thread with the seconds each durable write (or sync) took."""
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._closing = False
        self._failed: JournalWriteError | None = None
        self._dirty_since: float | None = None
        scans = report.segments
        self._next_seq = 1
        self._last_ts = 0
        if scans:
            last = scans[-1]
            self._next_seq = last.first_seq + sum(r.count for r in last.records)
            for scan in reversed(scans):
                if scan.records:
                    self._last_ts = scan.records[-1].ts
                    break
            self._seg_path = last.path
            self._fd = os.open(last.path, os.O_WRONLY | os.O_APPEND)
            self._seg_size = last.valid_end
        else:
            self._fd = -1
            self._seg_size = 0
            self._new_segment(1)
        self.watermark = Watermark(directory / WATERMARK_FILE, writable=True)
        self.watermark.write(self._next_seq - 1)
        self._lock_fd = -1
        self._thread = threading.Thread(target=self._run, name="journal-writer", daemon=True)
        self._thread.start()

    # -- opening ----------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        directory: Path | str,
        *,
        fsync: str = "always",
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        clock: Callable[[], int] = time.time_ns,
        lock_wait_s: float = 2.0,
    ) -> Journal:
        """Open (creating if needed) a journal: check every record, cut a torn tail, refuse to
        start on corruption anywhere else (:class:`CorruptRecordError` names file and offset).
        Refuse with :class:`JournalLockedError` if another process holds it for ``lock_wait_s``."""
        directory = Path(directory)
        (directory / SEGMENTS_DIR).mkdir(parents=True, exist_ok=True)
        lock_fd = os.open(directory / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
        give_up = time.monotonic() + lock_wait_s
        while True:
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                # A node's snapshot child (``node.forked``) shares the lock from the fork until
                # it closes its inherited descriptors, microseconds later unless the machine is
                # loaded; a restart right after a crash may meet it. Another live writer keeps
                # the lock and is refused once the wait is over.
                if time.monotonic() >= give_up:
                    os.close(lock_fd)
                    raise JournalLockedError(
                        f"{directory} is open for writing by another process"
                    ) from None
                time.sleep(0.01)
        try:
            report = cls._recover_files(directory)
            journal = cls(directory, FsyncPolicy.parse(fsync), segment_bytes, clock, report)
        except BaseException:
            os.close(lock_fd)
            raise
        journal._lock_fd = lock_fd
        return journal

    @staticmethod
    def _recover_files(directory: Path) -> OpenReport:
        segments = list_segments(directory)
        if segments:
            last_path = segments[-1][1]
            if last_path.stat().st_size < SEGMENT_HEADER.size:
                log.warning("journal.segment_header_torn", path=str(last_path))
                last_path.unlink()
                fsync_dir(last_path.parent)
        scans = scan_journal(directory)
        cut = None
        if scans and scans[-1].torn is not None:
            last = scans[-1]
            size = last.path.stat().st_size
            cut = (last.path, last.valid_end, size - last.valid_end, str(last.torn))
            log.warning(
                "journal.torn_tail_cut",
                path=str(last.path),
                offset=last.valid_end,
                bytes=size - last.valid_end,
                reason=last.torn,
            )
            fd = os.open(last.path, os.O_WRONLY)
            try:
                os.ftruncate(fd, last.valid_end)
                os.fsync(fd)
            finally:
                os.close(fd)
            last.torn = None
        return OpenReport(scans, cut)

    def _new_segment(self, first_seq: int) -> None:
        path = self.directory / SEGMENTS_DIR / segment_name(first_seq)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        header = encode_segment_header(first_seq)
        try:
            self._write_all(fd, header)
            os.fsync(fd)
            fsync_dir(path.parent)
        except OSError:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        if self._fd >= 0:
            os.close(self._fd)
        self._fd, self._seg_path, self._seg_size = fd, path, len(header)

    # -- appending --------------------------------------------------------------------------

    @property
    def last_seq(self) -> int:
        """The highest committed sequence number."""
        return self.watermark.read()

    def submit(
        self, chunk: bytes, count: int, done: Done, cmds: Sequence[Command] | None = None
    ) -> None:
        """Queue an encoded chunk of ``count`` commands for the next group commit (thread-safe).
        When ``cmds`` is given the writer stamps their ``seq``/``ts`` before writing."""
        with self._lock:
            if self._failed is not None:
                raise self._failed
            if self._closing:
                raise JournalClosedError(f"journal {self.directory} is closed")
            self._queue.put(_Pending(chunk, cmds, count, done))

    def append_sync(self, cmds: Sequence[Command]) -> tuple[int, int]:
        """Append and wait until durable; return (first seq, ts). Stamps the commands."""
        fut: Future[tuple[int, int]] = Future()

        def done(first: int, ts: int, exc: BaseException | None) -> None:
            if exc is None:
                fut.set_result((first, ts))
            else:
                fut.set_exception(exc)

        self.submit(encode_chunk(cmds), len(cmds), done, cmds)
        return fut.result()

    async def append(self, cmds: Sequence[Command]) -> tuple[int, int]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[tuple[int, int]] = loop.create_future()

        def settle(first: int, ts: int, exc: BaseException | None) -> None:
            if fut.done():
                return
            if exc is None:
                fut.set_result((first, ts))
            else:
                fut.set_exception(exc)

        def done(first: int, ts: int, exc: BaseException | None) -> None:
            loop.call_soon_threadsafe(settle, first, ts, exc)

        self.submit(encode_chunk(cmds), len(cmds), done, cmds)
        return await fut

    # -- the writer thread ------------------------------------------------------------------

    def _run(self) -> None:
        interval = self.policy.interval_s
        waiting = self._queue
        carry: list[_Pending] = []
        closing = False
        while True:
            if not carry and not closing:
                timeout = None
                if interval is not None and self._dirty_since is not None:
                    timeout = max(0.0, self._dirty_since + interval - time.monotonic())
                try:
                    item = waiting.get(timeout=timeout)
                except queue.Empty:  # the interval since the first unsynced write is up
                    if self._dirty_since is not None and self._failed is None:
                        self._sync_now()
                    continue
                if item is _CLOSE:
                    closing = True
                else:
                    carry.append(item)
            while not closing and not waiting.empty():  # everything waiting: one group commit
                item = waiting.get_nowait()
                if item is _CLOSE:
                    closing = True
                else:
                    carry.append(item)
            taken, size = 0, 0
            for pending in carry:
                if taken and size >= MAX_BATCH_BYTES:
                    break
                taken += 1
                size += len(pending.chunk)
            items, carry = carry[:taken], carry[taken:]
            if items:
                self._commit(items)
            if (
                interval is not None
                and self._dirty_since is not None
                and self._failed is None
                and time.monotonic() >= self._dirty_since + interval
            ):  # the promise holds under steady load too, when the writer never idles
                self._sync_now()
            if closing and not carry:
                if self._dirty_since is not None and self._failed is None:
                    self._sync_now()
                return

    def _timed(self, started: float) -> None:
        observe = self.on_sync
        if observe is not None:
            observe(time.perf_counter() - started)

    def _sync_now(self) -> None:
        try:
            started = time.perf_counter()
            self._fsync(self._fd)
            self._timed(started)
            self._dirty_since = None
        except OSError as exc:
            self._fail(JournalWriteError(f"fsync of {self._seg_path} failed: {exc}"), [])

    def _commit(self, items: list[_Pending]) -> None:
        if self._failed is not None:
            for item in items:
                item.done(0, 0, self._failed)
            return
        count = sum(item.count for item in items)
        first = self._next_seq
        ts = max(self.clock(), self._last_ts)
        seq = first
        for item in items:
            if item.cmds is not None:
                for cmd in item.cmds:
                    cmd.seq = seq
                    cmd.ts = ts
                    seq += 1
            else:
                seq += item.count
        record = encode_record(
            first, count, ts, CODEC_VERSION, join_chunks([i.chunk for i in items])
        )
        start = self._seg_size
        try:
            if (
                self._seg_size + len(record) > self.segment_bytes
                and self._seg_size > SEGMENT_HEADER.size
            ):
                self._new_segment(first)
                start = self._seg_size
            if self.policy.interval_s is None:
                self._write_durably(record)
            else:
                self._write_all(self._fd, record)
                if self._dirty_since is None:
                    self._dirty_since = time.monotonic()
        except OSError as exc:
            what = "disk full" if exc.errno == errno.ENOSPC else "I/O error"
            err = JournalWriteError(
                f"{what} writing {len(record)} bytes (seq {first}..{first + count - 1}) to "
                f"{self._seg_path} at offset {start}: {exc}; nothing of this batch was "
                f"acknowledged, and the journal refuses appends until it is reopened"
            )
            self._cut_back(start)
            self._fail(err, items)
            return
        self._seg_size = start + len(record)
        self._next_seq = first + count
        self._last_ts = ts
        self.watermark.write(first + count - 1)
        seq = first
        for item in items:
            item.done(seq, ts, None)
            seq += item.count

    def _write_durably(self, record: bytes) -> None:
        """Append ``record`` and return once it is on the disk."""
        started = time.perf_counter()
        written = 0
        if self._sync_write is not None:
            try:
                written = self._sync_write(self._fd, record)
            except OSError as exc:
                if exc.errno not in (errno.EINVAL, errno.EOPNOTSUPP, errno.ENOSYS):
                    raise
                log.warning("journal.dsync_write_unsupported", error=str(exc))
                self._sync_write = None  # this kernel or file system: write + fdatasync
        if written < len(record):  # short, refused or no durable write: the rest, then sync
            self._write_all(self._fd, memoryview(record)[written:])
            self._fsync(self._fd)
        self._timed(started)

    def _write_all(self, fd: int, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            written = self._write(fd, view)
            view = view[written:]

    def _cut_back(self, offset: int) -> None:
        """Remove a half-written record so it can never be read (it would fail its CRC anyway,
        but a clean end keeps the next open from having to judge it)."""
        try:
            os.ftruncate(self._fd, offset)
            self._fsync(self._fd)
        except OSError as exc:
            log.error(
                "journal.cut_back_failed", path=str(self._seg_path), offset=offset, error=str(exc)
            )

    def _fail(self, err: JournalWriteError, items: list[_Pending]) -> None:
        """Refuse this batch and every later one (what is already queued is refused by
        ``_commit`` as the writer reaches it; ``submit`` refuses new ones)."""
        log.error("journal.write_failed", error=str(err))
        with self._lock:
            self._failed = err
        for item in items:
            item.done(0, 0, err)

    # -- reading ----------------------------------------------------------------------------

    def read_sync(self, from_seq: int = 1, to_seq: int | None = None) -> Iterator[Command]:
        """Committed commands from ``from_seq`` to ``to_seq`` (inclusive), then stop."""
        return read_commands(self.directory, from_seq, to_seq, limit=self.watermark.read)

    async def read(self, from_seq: int = 1, to_seq: int | None = None) -> AsyncIterator[Command]:
        for cmd in self.read_sync(from_seq, to_seq):
            yield cmd

    async def follow(self, from_seq: int = 1, *, poll_s: float = 0.002) -> AsyncIterator[Command]:
        async for cmd in follow_commands(
            self.directory, from_seq, poll_s=poll_s, limit=self.watermark.read
        ):
            yield cmd

    def close(self) -> None:
        """Write out what is waiting, sync, and release the directory."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            self._queue.put(_CLOSE)
        self._thread.join()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self.watermark.close()
        os.close(self._lock_fd)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)


def read_commands(
    directory: Path,
    from_seq: int = 1,
    to_seq: int | None = None,
    *,
    limit: Callable[[], int] | None = None,
) -> Iterator[Command]:
    """Commands of a journal directory from ``from_seq`` (stopping at ``to_seq`` or at the last
    visible record); usable on a stopped journal and by readers in other processes."""
    for path, info, payload in read_records(directory, from_seq, limit=limit):
        cmds = decode_with_context(path, info.offset, payload, info.first_seq, info.ts)
        lo = max(from_seq - info.first_seq, 0)
        if to_seq is not None and info.last_seq >= to_seq:
            yield from cmds[lo : to_seq - info.first_seq + 1]
            return
        yield from cmds[lo:] if lo else cmds


def read_records(
    directory: Path, from_seq: int = 1, *, limit: Callable[[], int] | None = None
) -> Iterator[tuple[Path, RecordInfo, bytes]]:
    """(segment file, header, payload) of each visible record from the one holding ``from_seq``."""
    cursor = Cursor(directory, from_seq, limit)
    try:
        while (rec := cursor.next_record()) is not None:
            assert cursor.path is not None
            yield cursor.path, rec[0], rec[1]
    finally:
        cursor.close()


def decode_with_context(
    path: Path, offset: int, payload: bytes, first: int, ts: int
) -> list[Command]:
    """Decode a record's payload; a failure is corruption at that file and offset."""
    try:
        return decode_payload(payload, first, ts)
    except CodecError as exc:
        raise CorruptRecordError(path, offset, f"seq {first}: {exc}") from exc


def commands_after(cursor: Cursor, record: tuple[RecordInfo, bytes], after: int) -> list[Command]:
    """The commands of a record a :class:`Cursor` returned that come after ``after`` (a record
    may start before the cursor's position: its first commands were seen already)."""
    info, payload = record
    assert cursor.path is not None
    cmds = decode_with_context(cursor.path, info.offset, payload, info.first_seq, info.ts)
    return cmds if cmds and cmds[0].seq > after else [c for c in cmds if c.seq > after]


async def follow_commands(
    directory: Path,
    from_seq: int = 1,
    *,
    poll_s: float = 0.002,
    limit: Callable[[], int] | None = None,
) -> AsyncIterator[Command]:
    """Every command from ``from_seq`` on, waiting for new ones forever (a tailing reader).
    Without ``limit``, the committed watermark file of the directory is used."""
    own: Watermark | None = None
    if limit is None:
        wm_path = directory / WATERMARK_FILE
        while not wm_path.exists():
            await asyncio.sleep(poll_s)
        own = Watermark(wm_path, writable=False)
        limit = own.read
    cursor = Cursor(directory, from_seq, limit)
    try:
        idle = poll_s
        while True:
            rec = cursor.next_record()
            if rec is None:
                await asyncio.sleep(idle)
                idle = min(idle * 2, 0.05)
                continue
            idle = poll_s
            info, payload = rec
            assert cursor.path is not None
            cmds = decode_with_context(cursor.path, info.offset, payload, info.first_seq, info.ts)
            for cmd in cmds:
                if cmd.seq >= from_seq:
                    yield cmd
    finally:
        cursor.close()
        if own is not None:
            own.close()
