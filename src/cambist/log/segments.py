"""Reading journal segments: the shared watermark, and a cursor that reads from any position.

Used by the writer (for ``read``), by tools on a stopped journal, and by readers tailing a live
journal from other processes. A reader never goes past the *committed watermark*: an 8-byte
sequence number the writer publishes in a small memory-mapped file after each batch is durable,
so a tailing projector never sees a record that a crash could still take back.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Callable
from pathlib import Path

from cambist.log.errors import CorruptRecordError
from cambist.log.records import (
    RECORD_HEADER,
    SEGMENT_HEADER,
    SEGMENT_SUFFIX,
    BadRecord,
    RecordInfo,
    check_segment_header,
    parse_record,
)

SEGMENTS_DIR = "segments"
SNAPSHOTS_DIR = "snapshots"
WATERMARK_FILE = "committed"
_WATERMARK = struct.Struct("<QQ")  # seq, ~seq (a torn read shows as a mismatch and is retried)
_MASK = (1 << 64) - 1


def list_segments(directory: Path) -> list[tuple[int, Path]]:
    """(first_seq, path) of every segment, oldest first (names are the zero-padded first seq)."""
    seg_dir = directory / SEGMENTS_DIR
    if not seg_dir.is_dir():
        return []
    out = []
    for entry in os.scandir(seg_dir):
        name = entry.name
        if name.endswith(SEGMENT_SUFFIX) and name[: -len(SEGMENT_SUFFIX)].isdigit():
            out.append((int(name[: -len(SEGMENT_SUFFIX)]), Path(entry.path)))
    out.sort()
    return out


class Watermark:
    """The highest committed sequence number, shared through a memory-mapped file."""

    def __init__(self, path: Path, *, writable: bool) -> None:
        self.path = path
        flags = os.O_RDWR | os.O_CREAT if writable else os.O_RDONLY
        fd = os.open(path, flags, 0o644)
        try:
            if writable and os.fstat(fd).st_size < _WATERMARK.size:
                os.ftruncate(fd, _WATERMARK.size)
            access = mmap.ACCESS_WRITE if writable else mmap.ACCESS_READ
            self._map = mmap.mmap(fd, _WATERMARK.size, access=access)
        finally:
            os.close(fd)

    def read(self) -> int:
        while True:
            seq, check = _WATERMARK.unpack_from(self._map)
            if seq ^ _MASK == check:
                return int(seq)
            if seq == 0 and check == 0:
                return 0

    def write(self, seq: int) -> None:
        _WATERMARK.pack_into(self._map, 0, seq, seq ^ _MASK)

    def close(self) -> None:
        self._map.close()


class Cursor:
    """Reads records from ``from_seq`` on, following new records and new segments as they appear.

    ``limit`` returns the highest sequence number the cursor may deliver (the writer's watermark
    for a live journal; None for a stopped one, where every valid record counts). A record that
    fails its checks at or below that limit is corruption; above it, a write in progress.
    """

    def __init__(
        self, directory: Path, from_seq: int, limit: Callable[[], int] | None = None
    ) -> None:
        self.directory = directory
        self.next_seq = max(from_seq, 1)
        self._limit = limit
        self._path: Path | None = None
        self._seg_first = 0
        self._offset = 0
        self._f: _File | None = None

    @property
    def path(self) -> Path | None:
        """The segment file being read."""
        return self._path

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None

    def _open_segment(self) -> bool:
        """Open the segment holding ``next_seq`` and skip to its record; False if none yet."""
        segments = list_segments(self.directory)
        chosen = None
        for first, path in segments:
            if first <= self.next_seq:
                chosen = (first, path)
        if chosen is None:
            return False
        first, path = chosen
        f = _File(path)
        head = f.read_at(0, SEGMENT_HEADER.size)
        if len(head) < SEGMENT_HEADER.size:
            f.close()
            return False
        check_segment_header(path, head)
        self._f, self._path, self._seg_first = f, path, first
        self._offset = SEGMENT_HEADER.size
        seq = first
        while True:
            head = f.read_at(self._offset, RECORD_HEADER.size)
            if len(head) < RECORD_HEADER.size:
                break
            _m, _c, length, _v, _k, _fl, rec_first, count, _ts = RECORD_HEADER.unpack(head)
            if rec_first != seq or rec_first + count > self.next_seq:
                break
            seq = rec_first + count
            self._offset += RECORD_HEADER.size + length
        return True

    def next_record(self) -> tuple[RecordInfo, bytes] | None:
        """The next visible record (it may start before ``next_seq``: callers drop the overlap),
        or None when nothing more is visible yet."""
        limit = self._limit() if self._limit is not None else None
        if limit is not None and self.next_seq > limit:
            return None
        if self._f is None and not self._open_segment():
            return None
        assert self._f is not None and self._path is not None
        head = self._f.read_at(self._offset, RECORD_HEADER.size)
        if len(head) == RECORD_HEADER.size:
            length = RECORD_HEADER.unpack(head)[2]
            if length <= 1 << 28:
                data = head + self._f.read_at(self._offset + RECORD_HEADER.size, length)
                try:
                    info, _ = parse_record(data, 0)
                except BadRecord as exc:
                    if limit is not None and self.next_seq <= limit:
                        raise CorruptRecordError(self._path, self._offset, str(exc)) from None
                    self._f.forget()
                    return None
                if info.first_seq > self.next_seq:
                    raise CorruptRecordError(
                        self._path,
                        self._offset,
                        f"record starts at seq {info.first_seq}, expected {self.next_seq}",
                    )
                self._offset += len(data)
                self.next_seq = info.first_seq + info.count
                return _at(info, self._offset - len(data)), data[RECORD_HEADER.size :]
        # The end of this segment: move on if the next one starts exactly here.
        self._f.forget()
        for first, _path in list_segments(self.directory):
            if first == self.next_seq and first != self._seg_first:
                self.close()
                return self.next_record() if self._open_segment() else None
        return None


def _at(info: RecordInfo, offset: int) -> RecordInfo:
    return RecordInfo(offset, info.first_seq, info.count, info.ts, info.codec, info.length)


class _File:
    """A read-only segment file read with ``pread`` through a 1 MiB window, so replaying many
    small records costs one system call per window, not two per record."""

    WINDOW = 1 << 20

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_RDONLY)
        self._start = 0
        self._buf = b""

    def read_at(self, offset: int, size: int) -> bytes:
        rel = offset - self._start
        if rel < 0 or rel + size > len(self._buf):
            self._start = offset
            self._buf = os.pread(self.fd, max(size, self.WINDOW), offset)
            rel = 0
        return self._buf[rel : rel + size]

    def forget(self) -> None:
        """Drop the window: bytes past the watermark may still change (a restarted writer cuts
        and rewrites a torn tail)."""
        self._buf = b""

    def close(self) -> None:
        os.close(self.fd)
