"""The fast paths' byte readers agree with the checked readers they stand in for, or decline:
RFC 3339 with ``timefmt.rfc3339_ns``, decimals with ``scaled.parse``, JSON numbers with what
msgspec accepts. A decline is always allowed (the checked path then decides); a different
value never is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from cambist.feeds import wirescan
from cambist.feeds.scaled import Scale, Units, parse
from cambist.feeds.timefmt import rfc3339_ns
from cambist.feeds.types import FeedError


def _checked_ts(text: str) -> int | None:
    try:
        return rfc3339_ns(text)
    except FeedError:
        return None


_stamp = st.builds(
    lambda dt, digits, frac: (
        dt.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac:09d}"[: digits + 1] if digits else "") + "Z"
    ),
    st.datetimes(datetime(1970, 1, 1), datetime(2199, 12, 31, 23, 59, 59)),
    st.integers(0, 9),
    st.integers(0, 999_999_999),
)


@given(_stamp)
def test_rfc3339_valid_stamps_equal_the_checked_reader(text: str) -> None:
    ns, end = wirescan.rfc3339(f'"{text}",'.encode(), 0)
    assert end == len(text) + 2
    assert ns == rfc3339_ns(text)


@given(st.one_of(_stamp, st.text("0123456789-:TZ.", max_size=32)), st.data())
def test_rfc3339_mutated_stamps_decline_or_agree(text: str, data: st.DataObject) -> None:
    raw = bytearray(text.encode())
    for _ in range(data.draw(st.integers(0, 2))):
        at = data.draw(st.integers(0, max(0, len(raw) - 1)))
        if raw:
            raw[at] = data.draw(st.sampled_from(b"0123456789-:TZ.x \x00"))
    ns, end = wirescan.rfc3339(b'"' + bytes(raw) + b'"', 0)
    if end >= 0:
        assert ns == _checked_ts(raw.decode())


@given(_stamp, st.text('0123456789.Z"x,', max_size=14), st.binary(max_size=3))
def test_rfc3339_remembered_prefix_reads_as_a_fresh_one(text: str, tail: str, junk: bytes) -> None:
    """The date-and-seconds read last are remembered: a known prefix with any fraction or
    broken tail gives what a first read gives."""
    whole = f'"{text}"'.encode() + junk
    odd = f'"{text[:19]}{tail}'.encode() + junk
    for raw in (whole, odd, junk + whole):
        wirescan._LAST.prefix = b""
        fresh = wirescan.rfc3339(raw, 0)
        assert wirescan.rfc3339(raw, 0) == fresh  # now with the prefix remembered
        wirescan.rfc3339(whole, 0)
        assert wirescan.rfc3339(raw, 0) == fresh
        if fresh[1] >= 0:
            assert fresh[0] == rfc3339_ns(raw[1 : fresh[1] - 1].decode())


def test_rfc3339_edges() -> None:
    leap = datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)
    assert wirescan.rfc3339(b'"2024-02-29T23:59:59Z"', 0)[0] == int(leap.timestamp()) * 10**9
    for bad in (
        b'"2023-02-29T00:00:00Z"',  # no such day
        b'"2024-13-01T00:00:00Z"',
        b'"2024-01-01T24:00:00Z"',
        b'"2024-01-01T00:00:60Z"',  # a leap second: datetime refuses it, so must we
        b'"2024-01-01T00:00:00.Z"',
        b'"2024-01-01T00:00:00.1234567890Z"',
        b'"2024-01-01T00:00:00+00:00"',
        b'"1969-12-31T23:59:59Z"',
    ):
        assert wirescan.rfc3339(bad, 0)[1] == -1, bad
    day = datetime(2026, 11, 23, tzinfo=UTC)
    for k in range(0, 229 * 365, 97):  # every month length and leap rule (2000, 2100) to 2199
        d = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=k)
        text = d.strftime('"%Y-%m-%dT%H:%M:%SZ"').encode()
        assert wirescan.rfc3339(text, 0)[0] == int(d.timestamp()) * 10**9
    assert (
        wirescan.rfc3339(b'"2026-11-23T00:00:00.5Z"', 0)[0]
        == int(day.timestamp()) * 10**9 + 5 * 10**8
    )


@given(st.text("0123456789.", min_size=0, max_size=24), st.integers(0, 12))
def test_dec_equals_scaled_parse_or_declines(text: str, scale: int) -> None:
    v, end = wirescan.dec(f'{text}"'.encode(), 0, scale)
    if end < 0:
        return
    assert end == len(text) + 1
    assert v == parse(text, scale)


@given(st.text("0123456789.-eE+", min_size=1, max_size=24), st.integers(0, 12))
def test_num_reads_only_json_numbers(text: str, scale: int) -> None:
    v, end = wirescan.num(f"{text},".encode(), 0, scale, 44)
    if end < 0:
        return
    assert end == len(text)
    msgspec.json.decode(text.encode())  # valid JSON, else this raises
    assert v == parse(text, scale)


def test_pairs_with_extra_strings_skips_them() -> None:
    out: list[tuple[int, int]] = []
    raw = b'[["1.5","2","0","1"],["3","0.25","0","2"]]}'
    assert wirescan.pairs(raw, 0, 2, 2, out, 2) == len(raw) - 1
    assert out == [(150, 200), (300, 25)]
    assert wirescan.pairs(b'[["1.5","2","0"]]', 0, 2, 2, [], 2) == -1
    assert wirescan.pairs(b"[]", 0, 2, 2, [], 2) == 2


def _dict_unit_at(units: dict[bytes, Units], raw: bytes, i: int) -> tuple[Units | None, int]:
    """What ``unit_at`` did before its packed-word table: the name sliced out, the dict."""
    j = wirescan.string_end(raw, i)
    if j < 0:
        return None, -1
    return units.get(raw[i:j]), j


_name = st.binary(min_size=0, max_size=20).filter(lambda b: b'"' not in b) | st.text(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ-/_:.", min_size=0, max_size=18
).map(str.encode)


@given(
    st.lists(_name, min_size=0, max_size=11, unique=True),
    st.lists(st.one_of(_name, st.binary(max_size=24)), max_size=6),
    st.data(),
)
def test_unit_at_packed_table_agrees_with_the_dict(
    names: list[bytes], probes: list[bytes], data: st.DataObject
) -> None:
    """The packed-word lookup (sessions of up to ``SMALL`` instruments) finds exactly the
    instrument the dict finds, at the same closing quote, for any bytes; more instruments
    or odd names take the dict itself."""
    units = {w: Units(Scale(2, 3), w.hex()) for w in names}
    table = wirescan.WireUnits(units)
    candidates = probes + names + [n[:-1] for n in names if n] + [n + b"X" for n in names]
    for body in candidates:
        for raw in (body + b'"', b'x"' + body + b'",', body):
            start = 2 if raw.startswith(b'x"') else 0
            for i in (start, -1, len(raw)):
                assert wirescan.unit_at(table, raw, i) == _dict_unit_at(units, raw, i)
    at = data.draw(st.integers(0, 30))
    blob = data.draw(st.binary(max_size=40))
    assert wirescan.unit_at(table, blob, at) == _dict_unit_at(units, blob, at)


def test_unit_at_small_sessions_use_the_packed_table() -> None:
    names = [b"BTCUSDT", b"ETH-USDT-SWAP", b"XBT/USD", b"A" * 16]
    table = wirescan.WireUnits({w: Units(Scale(2, 3), w.decode()) for w in names})
    assert not table.by_dict
    for w in names:
        u, j = wirescan.unit_at(table, b'"' + w + b'"', 1)
        assert u is not None and u.symbol == w.decode() and j == len(w) + 1
    assert wirescan.WireUnits({b"A" * 17: Units(Scale(2, 3))}).by_dict
    assert wirescan.WireUnits({b"a\\b": Units(Scale(2, 3))}).by_dict
    many = {f"S{k}".encode(): Units(Scale(2, 3)) for k in range(wirescan.SMALL + 1)}
    assert wirescan.WireUnits(many).by_dict


@given(
    st.binary(max_size=70),
    st.binary(max_size=40),
    st.integers(-3, 80),
    st.data(),
)
def test_lit_agrees_with_a_slice_comparison(
    raw: bytes, text: bytes, i: int, data: st.DataObject
) -> None:
    """Word-at-a-time matching gives what comparing the slice gives, for every length of
    literal (the 1-, 2-, 4- and 8-byte word paths and their overlaps), at every position
    including near either end, and for a planted copy of ``text`` with one byte changed."""
    if data.draw(st.booleans()) and 0 <= i <= len(raw):
        raw = raw[:i] + text + raw[i:]  # plant it; maybe spoil one byte
        if text and data.draw(st.booleans()):
            k = data.draw(st.integers(0, len(text) - 1))
            spoilt = bytes([(text[k] + data.draw(st.integers(1, 255))) % 256])
            raw = raw[: i + k] + spoilt + raw[i + k + 1 :]
    n = len(text)
    expected = i + n if i >= 0 and i + n <= len(raw) and raw[i : i + n] == text else -1
    assert wirescan.lit(raw, i, text) == expected


def test_lit_each_byte_of_each_word_is_compared() -> None:
    """A difference in any single byte of literals of 1 to 40 bytes is refused."""
    for n in range(1, 41):
        text = bytes(range(65, 65 + n))
        raw = b"xx" + text + b"yy"
        assert wirescan.lit(raw, 2, text) == 2 + n
        assert wirescan.lit(raw, 3, text) == -1
        for k in range(n):
            bad = bytearray(raw)
            bad[2 + k] ^= 0x20
            assert wirescan.lit(bytes(bad), 2, text) == -1, (n, k)


def _uint_ref(raw: bytes, i: int) -> tuple[int, int]:
    if i < 0 or i >= len(raw):
        return 0, -1
    if raw[i] == 48:
        return 0, i + 1
    j = i
    while j < len(raw) and 48 <= raw[j] <= 57:
        j += 1
    if j == i or j - i > 18:
        return 0, -1
    return int(raw[i:j]), j


def _string_end_ref(raw: bytes, i: int, empty: bool) -> int:
    if i < 0:
        return -1
    for j in range(i, len(raw)):
        c = raw[j]
        if c == 34:
            return j if j > i or empty else -1
        if c < 32 or c > 126 or c == 92:
            return -1
    return -1


_scan_bytes = st.lists(st.sampled_from(b'0123456789"a@\\\x7f\x1f.,'), max_size=40).map(bytes)


@given(_scan_bytes, st.integers(-2, 42), st.booleans())
def test_uint_and_string_end_agree_with_plain_byte_loops(raw: bytes, i: int, empty: bool) -> None:
    """At every position, near either end and in messages shorter than a word."""
    assert wirescan.uint(raw, i) == _uint_ref(raw, i)
    assert wirescan.string_end(raw, i, empty) == _string_end_ref(raw, i, empty)


def _digits_ref(text: bytes, scale: int) -> int | None:
    """``_digits``'s rule on the bytes before its end byte, written plainly: digits with at
    most one inner point, at least one digit, no more decimals than ``scale``, at most 18
    digits in units (``None``: declined)."""
    whole, point, frac = text.partition(b".")
    if not whole or (point and not frac) or b"." in frac:
        return None
    if not (whole + frac).isdigit() or len(frac) > scale:
        return None
    digits = len(whole) + len(frac)
    if digits > 18 or digits + scale - len(frac) > 18:
        return None
    return int(whole + frac) * 10 ** (scale - len(frac))


@given(
    st.text("0123456789.", max_size=26).map(str.encode),
    st.integers(0, 12),
    st.binary(max_size=11),
    st.sampled_from([b'"', b'",', b'"]]}' + b"x" * 9]),
)
def test_dec_accepts_exactly_the_documented_decimals(
    text: bytes, scale: int, before: bytes, after: bytes
) -> None:
    """Digits read 8 at a time (SWAR) and byte by byte in a message's last 8 bytes: any
    length of run (18 digits and no more), the point anywhere, the decimal at any offset
    from the message's start and end, the same value or decline as the plain rule."""
    raw = before + text + after
    v, end = wirescan.dec(raw, len(before), scale)
    expected = _digits_ref(text, scale)
    if expected is None:
        assert end == -1, (text, scale)
    else:
        assert (v, end) == (expected, len(before) + len(text) + 1), (text, scale)


def test_uint_takes_up_to_18_digits_at_any_offset() -> None:
    """Runs of 1 to 20 digits at every offset of an 8-byte word and near the end."""
    for digits in range(1, 21):
        text = b"".join(str(1 + k % 9).encode() for k in range(digits))
        for pad in range(9):
            for tail in (b"", b",", b',"x":"yyyyyyyy"}'):
                raw = b"x" * pad + text + tail
                got = wirescan.uint(raw, pad)
                expected = (int(text), pad + digits) if digits <= 18 else (0, -1)
                assert got == expected, (digits, pad, tail)
