"""The engine <-> worker link's framing: any split of the byte stream decodes the same frames,
and a broken peer is a LinkError, never a crash or an unbounded buffer."""

from __future__ import annotations

import struct

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cambist.server.link import (
    MAX_FRAME,
    FrameReader,
    LinkCount,
    LinkError,
    LinkHello,
    LinkRequest,
    LinkResponse,
    engine_decoder,
    worker_decoder,
)

_encode = msgspec.msgpack.Encoder().encode


def _frame(messages: list[object]) -> bytes:
    payload = _encode(messages)
    return struct.pack(">I", len(payload)) + payload


def _requests(n: int) -> list[object]:
    return [
        LinkRequest(i, "POST", "/api/v1/orders", b"/api/v1/orders", b"a=1",
                    {b"cambist-key": b"ck_x"}, b'{"market":"BTC-USD"}' * (i % 3))
        for i in range(n)
    ] + [LinkCount("unmatched", 400), LinkHello(123)]  # fmt: skip


@given(st.lists(st.integers(min_value=1, max_value=400), max_size=30))
def test_frame_reader_any_split_decodes_the_same_frames(cuts: list[int]) -> None:
    stream = b"".join(_frame(_requests(n)) for n in (1, 5, 0, 17))
    reader = FrameReader(worker_decoder())
    got: list[object] = []
    at = 0
    for cut in cuts:
        got.extend(reader.feed(stream[at : at + cut]))
        at += cut
    got.extend(reader.feed(stream[at:]))
    assert got == [_requests(n) for n in (1, 5, 0, 17)]
    assert reader.buffer == bytearray()


def test_frame_reader_engine_answers_round_trip() -> None:
    answers = [LinkResponse(7, 201, b"{}", b"application/json", [(b"retry-after", b"1")])]
    assert FrameReader(engine_decoder()).feed(_frame(answers)) == [answers]


def test_frame_reader_oversized_length_raises_link_error() -> None:
    with pytest.raises(LinkError, match="exceeds"):
        FrameReader(worker_decoder()).feed(struct.pack(">I", MAX_FRAME + 1) + b"x")


@pytest.mark.parametrize(
    "payload",
    [b"\xc1", _encode({"not": "a list"}), _encode([["?", 1]]), _encode([[0, "GET"]])],
)
def test_frame_reader_malformed_frame_raises_link_error(payload: bytes) -> None:
    with pytest.raises(LinkError, match="malformed frame"):
        FrameReader(worker_decoder()).feed(struct.pack(">I", len(payload)) + payload)


class _Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return False


def test_frame_writer_many_large_bodies_split_into_frames_under_the_limit() -> None:
    import asyncio

    from cambist.server.link import FLUSH_BYTES, FrameWriter

    loop = asyncio.new_event_loop()
    try:
        transport = _Transport()
        writer = FrameWriter(transport, loop)  # type: ignore[arg-type]
        body = b"x" * (64 * 1024)
        n = 3 * FLUSH_BYTES // len(body) + 5
        for i in range(n):
            writer.send(LinkResponse(i, 200, body, b"application/json", []), len(body))
        writer.flush()
        assert len(transport.written) >= 3
        assert all(len(frame) < MAX_FRAME for frame in transport.written)
        decoded = FrameReader(engine_decoder()).feed(b"".join(transport.written))
        assert [r.id for batch in decoded for r in batch] == list(range(n))
    finally:
        loop.close()
