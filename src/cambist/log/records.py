"""The on-disk format of journal segments: headers, records, and the scan that checks them.

A segment is a 24-byte header (magic, format version, first sequence number, CRC of the header)
followed by records. A record is a 36-byte header then its payload::

    magic u32 | crc32 u32 | length u32 | version u8 | codec u8 | flags u16 |
    first_seq u64 | count u32 | ts i64 | payload[length]

little-endian; the CRC covers every header byte after itself and the payload, so a record that
was only partly written, or changed since, fails it. One record holds one group-commit batch:
the batch is durable or not as a whole, and one CRC and one header cover many commands.

Telling a torn tail from corruption: a crash can only tear what was written after the last
fsync, which is the end of the newest segment. So a bad record there is cut *unless* a valid
record follows it (found by searching for the record magic), which proves the damage is in the
middle; a bad record in any older segment, or with a valid record after it, is corruption.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cambist.log.errors import CorruptRecordError

SEGMENT_MAGIC = b"CAMBSEG\x00"
SEGMENT_VERSION = 1
SEGMENT_HEADER = struct.Struct("<8sIQI")  # magic, version, first_seq, crc32 of the first 20
RECORD_MAGIC = b"CJR\x01"
RECORD_VERSION = 1
RECORD_HEADER = struct.Struct("<4sIIBBHQIq")
RECORD_TAIL = struct.Struct("<IBBHQIq")  # the part after magic and crc, which the CRC covers
MAX_RECORD = 256 * 1024 * 1024
SEGMENT_SUFFIX = ".seg"


def segment_name(first_seq: int) -> str:
    return f"{first_seq:020d}{SEGMENT_SUFFIX}"


def encode_segment_header(first_seq: int) -> bytes:
    head = struct.pack("<8sIQ", SEGMENT_MAGIC, SEGMENT_VERSION, first_seq)
    return head + struct.pack("<I", zlib.crc32(head))


def check_segment_header(path: Path, data: bytes) -> int:
    """Return the segment's first sequence number, or raise naming the file."""
    if len(data) < SEGMENT_HEADER.size:
        raise CorruptRecordError(path, 0, f"segment header is {len(data)} bytes, needs 24")
    magic, version, first_seq, crc = SEGMENT_HEADER.unpack_from(data)
    if magic != SEGMENT_MAGIC:
        raise CorruptRecordError(path, 0, "not a Cambist journal segment (bad magic)")
    if zlib.crc32(data[:20]) != crc:
        raise CorruptRecordError(path, 0, "segment header checksum mismatch")
    if version != SEGMENT_VERSION:
        raise CorruptRecordError(path, 0, f"unsupported segment version {version}")
    return int(first_seq)


def encode_record(first_seq: int, count: int, ts: int, codec: int, payload: bytes) -> bytes:
    tail = RECORD_TAIL.pack(len(payload), RECORD_VERSION, codec, 0, first_seq, count, ts)
    crc = zlib.crc32(payload, zlib.crc32(tail))
    return RECORD_MAGIC + struct.pack("<I", crc) + tail + payload


@dataclass(slots=True, frozen=True)
class RecordInfo:
    """Where one record is and what it holds (the payload stays on disk until asked for)."""

    offset: int
    first_seq: int
    count: int
    ts: int
    codec: int
    length: int

    @property
    def end(self) -> int:
        return self.offset + RECORD_HEADER.size + self.length

    @property
    def last_seq(self) -> int:
        return self.first_seq + self.count - 1


class BadRecord(Exception):
    """Internal: why the bytes at an offset are not a valid record (the scan decides whether that
    is a torn tail or corruption)."""


def parse_record(buf: memoryview | bytes, offset: int) -> tuple[RecordInfo, memoryview]:
    """Check the record at ``offset`` of ``buf``; return its header and payload view."""
    view = memoryview(buf)
    if len(view) - offset < RECORD_HEADER.size:
        raise BadRecord(f"incomplete record header ({len(view) - offset} bytes)")
    magic, crc, length, version, codec, _flags, first_seq, count, ts = RECORD_HEADER.unpack_from(
        view, offset
    )
    if magic != RECORD_MAGIC:
        raise BadRecord("bad record magic")
    if length > MAX_RECORD:
        raise BadRecord(f"record length {length} exceeds the maximum")
    start = offset + RECORD_HEADER.size
    if start + length > len(view):
        raise BadRecord(f"record of {length} bytes runs past the end of the file")
    payload = view[start : start + length]
    if zlib.crc32(payload, zlib.crc32(view[offset + 8 : start])) != crc:
        raise BadRecord("checksum mismatch")
    if version != RECORD_VERSION:
        raise BadRecord(f"unsupported record version {version}")
    return RecordInfo(offset, first_seq, count, ts, codec, length), payload


def valid_record_after(buf: memoryview | bytes, offset: int) -> int | None:
    """Offset of the first valid record that starts after ``offset``, if any."""
    data = bytes(buf) if isinstance(buf, memoryview) else buf
    pos = data.find(RECORD_MAGIC, offset + 1)
    while pos != -1:
        try:
            parse_record(data, pos)
            return pos
        except BadRecord:
            pos = data.find(RECORD_MAGIC, pos + 1)
    return None


@dataclass(slots=True)
class SegmentScan:
    """The outcome of checking one segment file: its records and where valid data ends."""

    path: Path
    first_seq: int
    records: list[RecordInfo]
    valid_end: int
    torn: str | None
    """Why the bytes after ``valid_end`` were judged a torn tail (None: the file ends cleanly)."""


def scan_segment(path: Path, data: bytes, *, last: bool, expect_seq: int | None) -> SegmentScan:
    """Check every record of a segment. In the newest segment (``last``) a bad record with no
    valid record after it is a torn tail; anything else bad raises :class:`CorruptRecordError`."""
    first_seq = check_segment_header(path, data)
    if expect_seq is not None and first_seq != expect_seq:
        raise CorruptRecordError(
            path,
            0,
            f"segment starts at seq {first_seq}, but the previous one ends before "
            f"{expect_seq} (a segment is missing or out of order)",
        )
    records: list[RecordInfo] = []
    offset = SEGMENT_HEADER.size
    seq = first_seq
    view = memoryview(data)
    torn: str | None = None
    while offset < len(data):
        try:
            info, _ = parse_record(view, offset)
        except BadRecord as exc:
            if not last:
                raise CorruptRecordError(path, offset, str(exc)) from None
            later = valid_record_after(view, offset)
            if later is not None:
                raise CorruptRecordError(
                    path, offset, f"{exc}, but a valid record follows at offset {later}"
                ) from None
            torn = str(exc)
            break
        if info.first_seq != seq or info.count <= 0:
            raise CorruptRecordError(
                path, offset, f"record holds seq {info.first_seq}..+{info.count}, expected {seq}"
            )
        records.append(info)
        seq += info.count
        offset = info.end
    return SegmentScan(path, first_seq, records, offset, torn)


def iter_records(
    path: Path, data: bytes | memoryview, start: int
) -> Iterator[tuple[RecordInfo, memoryview]]:
    """Yield the valid records of ``data`` from ``start`` until the data ends or stops being
    valid (a reader stops there: the writer may still be writing that record)."""
    offset = start
    while offset < len(data):
        try:
            info, payload = parse_record(data, offset)
        except BadRecord:
            return
        yield info, payload
        offset = info.end
