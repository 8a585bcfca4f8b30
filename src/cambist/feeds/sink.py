"""Where the merged, deduplicated stream goes: the market-data log behind a small interface.

The embedded journal (``cambist.log``) will plug in as another ``Sink``; until then the
``FileSink`` writes the same compact encoding to a file: each batch is one frame of
``u32 length | u32 crc32 | msgpack array of tagged records``, so a torn tail is detectable
and a reader needs nothing but msgspec.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

import msgspec

from cambist.feeds.types import Record

_HEADER = struct.Struct("<II")
_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(list[Record])


def encode_batch(records: Sequence[Record]) -> bytes:
    """The compact binary encoding of a batch (tagged msgpack arrays)."""
    return _ENCODER.encode(records)


def decode_batch(payload: bytes) -> list[Record]:
    return _DECODER.decode(payload)


def batch_len(payload: bytes | memoryview) -> int:
    """Records in an encoded batch, from the msgpack array header alone (no decoding)."""
    head = bytes(memoryview(payload)[:5])
    b = head[0]
    if b & 0xF0 == 0x90:
        return b & 0x0F
    if b == 0xDC:
        return int.from_bytes(head[1:3], "big")
    if b == 0xDD:
        return int.from_bytes(head[1:5], "big")
    raise ValueError("not an encoded batch (msgpack array)")


class Sink(Protocol):
    """Append-only destination of normalized records."""

    def append(self, records: Sequence[Record]) -> None: ...

    def append_encoded(self, payload: bytes | memoryview) -> int:
        """A batch already encoded by ``encode_batch`` (a worker process's); its count. Any
        bytes-like view of it, so the parent can pass the received frame's body uncopied."""
        ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class MemorySink:
    """Keeps encoded batches in memory: tests, benchmarks, and the local API's recent view."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.count = 0

    def append(self, records: Sequence[Record]) -> None:
        self.frames.append(encode_batch(records))
        self.count += len(records)

    def append_encoded(self, payload: bytes | memoryview) -> int:
        n = batch_len(payload)
        self.frames.append(bytes(payload))
        self.count += n
        return n

    def records(self) -> list[Record]:
        return [r for f in self.frames for r in decode_batch(f)]

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None


class FileSink:
    """Length-prefixed, checksummed batches appended to one file."""

    def __init__(self, path: Path, fsync: bool = False) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._f = path.open("ab", buffering=1 << 20)
        self._fsync = fsync
        self.count = 0

    def append(self, records: Sequence[Record]) -> None:
        payload = encode_batch(records)
        self._f.write(_HEADER.pack(len(payload), zlib.crc32(payload)) + payload)
        self.count += len(records)

    def append_encoded(self, payload: bytes | memoryview) -> int:
        n = batch_len(payload)
        view = memoryview(payload)
        # header and body written apart: joining them would copy the body once more
        self._f.write(_HEADER.pack(view.nbytes, zlib.crc32(view)))
        self._f.write(view)
        self.count += n
        return n

    def flush(self) -> None:
        self._f.flush()
        if self._fsync:
            import os

            os.fsync(self._f.fileno())

    def close(self) -> None:
        self.flush()
        self._f.close()


def read_log(path: Path) -> Iterator[Record]:
    """Every record of a file written by ``FileSink``; stops at a torn or corrupt tail."""
    data = path.read_bytes()
    pos = 0
    while pos + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, pos)
        payload = data[pos + _HEADER.size : pos + _HEADER.size + length]
        if len(payload) < length or zlib.crc32(payload) != crc:
            return
        yield from decode_batch(payload)
        pos += _HEADER.size + length
