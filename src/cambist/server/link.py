"""The link between ``cambist serve``'s engine process and its HTTP worker processes.

With ``--workers N`` (N > 1) the HTTP connections are accepted, parsed and answered by N worker
processes; everything with state (authentication with its replay guard and rate limits,
idempotency, the sequencer, the live view, history) stays in the one engine process, so no
state is shared or cached across processes. A worker forwards each parsed request over a Unix
socket and writes back the answer the engine process made.

Framing: a 4-byte big-endian length, then one msgpack value. Everything a side has to send in
one event-loop turn goes as one frame (a list), so a busy link costs a couple of system calls
per batch rather than per request. Messages are msgspec Structs encoded as arrays, tagged
by their first element where one direction carries several kinds.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from typing import Any, cast

import msgspec
import structlog

MAX_FRAME = 64 * 1024 * 1024
"""A frame larger than this is a broken peer, not a big batch: a writer starts a new frame
once a batch's bodies pass :data:`FLUSH_BYTES`."""
FLUSH_BYTES = 4 * 1024 * 1024
"""Bodies in one frame before it is written without waiting for the end of the loop turn."""
_LENGTH = struct.Struct(">I")
log = structlog.get_logger("cambist.link")


class LinkRequest(msgspec.Struct, array_like=True, tag=0):
    """One parsed HTTP request, worker -> engine. ``body`` None: over ``max_body``."""

    id: int
    method: str
    path: str
    raw_path: bytes
    query: bytes
    headers: dict[bytes, bytes]
    body: bytes | None


class LinkCount(msgspec.Struct, array_like=True, tag=1):
    """A request the worker refused by itself (malformed HTTP, a body over ``max_body``),
    worker -> engine: counted in the engine's ``/metrics`` like any other refusal."""

    route: str
    status: int
    code: str = ""
    """The error code, for ``cambist_rejections_total`` ("" for none)."""


class LinkHello(msgspec.Struct, array_like=True, tag=2):
    """First message of a worker: it listens and is ready."""

    pid: int


WorkerMessage = LinkRequest | LinkCount | LinkHello


class LinkResponse(msgspec.Struct, array_like=True):
    """The answer to request ``id``, engine -> worker."""

    id: int
    status: int
    body: bytes
    content_type: bytes
    headers: list[tuple[bytes, bytes]]


class LinkError(Exception):
    """The peer sent something that is not a frame of this protocol."""


class FrameReader:
    """Splits a byte stream into decoded frames."""

    def __init__(self, decode: Callable[[bytes], Any]) -> None:
        self.decode = decode
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[Any]:
        """Decoded frames completed by ``data``; raises LinkError on a malformed one."""
        buf = self.buffer
        buf += data
        out: list[Any] = []
        start = 0
        while len(buf) - start >= 4:
            (size,) = _LENGTH.unpack_from(buf, start)
            if size > MAX_FRAME:
                raise LinkError(f"frame of {size} bytes exceeds {MAX_FRAME}")
            end = start + 4 + size
            if len(buf) < end:
                break
            try:
                out.append(self.decode(bytes(buf[start + 4 : end])))
            except msgspec.DecodeError as exc:
                raise LinkError(f"malformed frame: {exc}") from None
            start = end
        if start:
            del buf[:start]
        return out


class FrameWriter:
    """Collects messages and writes them as one frame at the end of the event-loop turn."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self.loop = loop
        self.pending: list[Any] = []
        self.pending_bytes = 0
        self.scheduled = False
        self.encoder = msgspec.msgpack.Encoder()

    def send(self, message: Any, size: int = 0) -> None:
        """Queue ``message``; ``size`` is its body's length, so many large bodies go in
        several frames rather than one over :data:`MAX_FRAME`."""
        self.pending.append(message)
        self.pending_bytes += size
        if self.pending_bytes >= FLUSH_BYTES:
            self.write()
        elif not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self.flush)

    def flush(self) -> None:
        self.scheduled = False
        self.write()

    def write(self) -> None:
        """Write what is queued as one frame now."""
        pending, self.pending, self.pending_bytes = self.pending, [], 0
        if pending and not self.transport.is_closing():
            payload = self.encoder.encode(pending)
            self.transport.write(_LENGTH.pack(len(payload)) + payload)


class FramedProtocol(asyncio.Protocol):
    """One end of a link: each decoded frame goes to ``on_batch``; :attr:`writer` for frames
    out. A malformed frame closes the link (the peer is broken: nothing it sends can be
    trusted)."""

    def __init__(
        self, decode: Callable[[bytes], Any], on_batch: Callable[[list[Any]], None]
    ) -> None:
        self.reader = FrameReader(decode)
        self.on_batch = on_batch
        self.transport: asyncio.Transport | None = None
        self.writer: FrameWriter | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.writer = FrameWriter(self.transport, asyncio.get_running_loop())

    def data_received(self, data: bytes) -> None:
        try:
            frames = self.reader.feed(data)
        except LinkError as exc:
            log.error("link.broken", error=str(exc))
            if self.transport is not None:
                self.transport.close()
            return
        for batch in frames:
            self.on_batch(batch)


def worker_decoder() -> Callable[[bytes], list[WorkerMessage]]:
    """What the engine process reads from a worker."""
    return msgspec.msgpack.Decoder(list[LinkRequest | LinkCount | LinkHello]).decode


def engine_decoder() -> Callable[[bytes], list[LinkResponse]]:
    """What a worker reads from the engine process."""
    return msgspec.msgpack.Decoder(list[LinkResponse]).decode
