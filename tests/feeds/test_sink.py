"""The market-data log file: what is appended reads back in order, whichever way a batch
arrives (records, or a worker's encoded frame as bytes or a view of the received message),
and a torn or corrupt tail loses only the batch it cut."""

from __future__ import annotations

from pathlib import Path

import pytest

from cambist.feeds.sink import FileSink, MemorySink, batch_len, encode_batch, read_log
from cambist.feeds.types import BUY, SELL, BookUpdate, Instrument, Quote, Record, Trade


def _batch(k: int) -> list[Record]:
    return [
        Instrument("okx", "BTC-USDT", 8, 8),
        Trade("okx", "BTC-USDT", BUY if k % 2 else SELL, 100 + k, 5, f"t{k}", k, k + 1, k),
        BookUpdate("okx", "BTC-USDT", False, [(99 + k, 1)], [(101 + k, 0)], k + 1, k, k, k + 2),
        Quote("okx", "BTC-USDT", 99, 1, 101, 2, k, k, k),
    ]


def _write(path: Path) -> list[Record]:
    sink = FileSink(path)
    sink.append(_batch(1))
    sink.append_encoded(encode_batch(_batch(2)))
    frame = b"L" + encode_batch(_batch(3))  # as a worker's pipe message arrives
    assert sink.append_encoded(memoryview(frame)[1:]) == 4
    sink.close()
    return _batch(1) + _batch(2) + _batch(3)


def test_file_sink_any_batch_form_reads_back_in_order(tmp_path: Path) -> None:
    expected = _write(tmp_path / "md.log")
    assert list(read_log(tmp_path / "md.log")) == expected


@pytest.mark.parametrize("cut", [1, 7, 8, 20])
def test_read_log_torn_tail_keeps_every_whole_batch(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "md.log"
    expected = _write(path)
    data = path.read_bytes()
    path.write_bytes(data[:-cut])  # the process died mid-write of the last batch
    assert list(read_log(path)) == expected[:8]


def test_read_log_corrupt_last_batch_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "md.log"
    expected = _write(path)
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF  # a flipped byte inside the last batch: its CRC no longer matches
    path.write_bytes(bytes(data))
    assert list(read_log(path)) == expected[:8]


def test_memory_sink_keeps_a_copy_of_a_viewed_batch() -> None:
    sink = MemorySink()
    frame = bytearray(b"L" + encode_batch(_batch(4)))
    assert sink.append_encoded(memoryview(frame)[1:]) == 4
    frame[1:] = b"\x00" * (len(frame) - 1)  # the receive buffer is reused
    assert sink.records() == _batch(4)


def test_batch_len_of_a_view_and_of_bytes_agree() -> None:
    for n in (0, 3, 15, 16, 300):
        payload = encode_batch([Instrument("v", "s", 1, 2)] * n)
        assert batch_len(payload) == batch_len(memoryview(b"L" + payload)[1:]) == n
    with pytest.raises(ValueError, match="not an encoded batch"):
        batch_len(b"\x01")
