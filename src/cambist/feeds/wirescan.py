"""Byte-level readers for the venues' fast paths: JSON pieces read straight from the wire bytes.

Compiled (``make native``), a venue module reads messages in its venue's exact layout with
these native loops instead of msgspec: decoding into wire Structs and reading their fields
back from compiled code through CPython's generic attribute lookup was about half of the
gate's instructions per message. A fast path accepts only a strict subset of what the
venue's checked (msgspec) path accepts and declines everything else by returning None, so
the checked path keeps every refusal and its error text; each venue's tests check that the
fast path gives the same events as the checked path or declines, never raises
(tests/feeds/test_fast_paths.py, test_binance_fast.py).

Every reader takes a position and returns the position after what it read, or -1 once
anything did not match, and passes -1 through, so calls chain without a test after each.
Interpreted, these loops are slower than msgspec: venues use them only when compiled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from librt.strings import read_i16_le, read_i32_le, read_i64_le

from cambist.feeds.scaled import Units
from cambist.feeds.types import Level

if TYPE_CHECKING:
    from mypy_extensions import i64

NATIVE: Final = not __file__.endswith(".py")
"""This module was compiled by mypyc: the venues' fast paths are worth taking."""

MS_LIMIT: Final = 9_000_000_000_000
"""Millisecond times at or above this take the checked path (``timefmt.ms_ns``'s limit)."""


def lit(raw: bytes, i: i64, text: bytes) -> i64:
    """The position after ``text`` if ``raw`` holds it at ``i``, else -1.

    Compared a machine word at a time with librt's native reads (one bounds check and one
    load per word instead of two checked byte reads per byte: a byte loop was ~140
    instructions a call, the gate's largest single cost): 8-byte words from the start and
    one more ending at the literal's end (overlapping the last one), or two overlapping
    4- or 2-byte words for shorter literals. Every byte of ``text`` is compared."""
    n: i64 = len(text)
    if i < 0 or i + n > len(raw):
        return -1
    if n >= 8:
        k: i64 = 0
        while k < n - 8:
            if read_i64_le(raw, i + k) != read_i64_le(text, k):
                return -1
            k += 8
        if read_i64_le(raw, i + n - 8) != read_i64_le(text, n - 8):
            return -1
        return i + n
    if n >= 4:
        if read_i32_le(raw, i) != read_i32_le(text, 0):
            return -1
        if read_i32_le(raw, i + n - 4) != read_i32_le(text, n - 4):
            return -1
        return i + n
    if n >= 2:
        if read_i16_le(raw, i) != read_i16_le(text, 0):
            return -1
        if read_i16_le(raw, i + n - 2) != read_i16_le(text, n - 2):
            return -1
        return i + n
    if n == 1 and raw[i] != text[0]:
        return -1
    return i + n


def ch(raw: bytes, i: i64, c: i64) -> i64:
    """The position after the byte ``c`` if ``raw`` holds it at ``i``, else -1."""
    if i < 0 or i >= len(raw) or raw[i] != c:
        return -1
    return i + 1


def uint(raw: bytes, i: i64) -> tuple[i64, i64]:
    """A JSON integer of 1 to 18 digits without sign or leading zero at ``i``, and the
    position after it (``-1`` if there is none; what follows is the caller's to check)."""
    n: i64 = len(raw)
    if i < 0 or i >= n:
        return 0, -1
    c: i64 = raw[i]
    if c == 48:  # "0": no digit may follow (the caller's next literal check refuses one)
        return 0, i + 1
    v: i64 = 0
    j: i64 = i
    while j < n:
        c = raw[j]
        if c < 48 or c > 57:
            break
        if j - i >= 18:
            return 0, -1
        v = v * 10 + (c - 48)
        j += 1
    if j == i:
        return 0, -1
    return v, j


def skip_uint(raw: bytes, i: i64) -> i64:
    _, j = uint(raw, i)
    return j


def boolean(raw: bytes, i: i64) -> tuple[bool, i64]:
    j = lit(raw, i, b"true")
    if j >= 0:
        return True, j
    return False, lit(raw, i, b"false")


def string_end(raw: bytes, i: i64, empty: bool = False) -> i64:
    """The position of the closing quote of a string of printable ASCII without escapes
    starting at ``i`` (after its opening quote); an empty one only if ``empty``."""
    n: i64 = len(raw)
    if i < 0:
        return -1
    j: i64 = i
    while j < n:
        c: i64 = raw[j]
        if c == 34:
            return j if j > i or empty else -1
        if c < 32 or c > 126 or c == 92:
            return -1
        j += 1
    return -1


class _Entry:
    """One instrument of a ``WireUnits`` table: its wire name packed into two words."""

    def __init__(self, a: i64, b: i64, unit: Units, rest: _Entry | None) -> None:
        self.a = a
        self.b = b
        self.unit = unit
        self.next = rest


SMALL: Final = 8
"""Sessions with at most this many instruments find one by comparing packed words."""


class WireUnits:
    """``VenueSession``'s instruments by their wire bytes, for ``unit_at``.

    A session's few instruments are found without slicing the name out of the message and
    hashing it (a bytes object, ``siphash``, a dict probe: about 500 instructions): while
    ``unit_at`` scans the name for its closing quote it packs the first 16 bytes into two
    machine words (no name holds a zero byte, so the packing is one-to-one for names of 1 to
    16 bytes) and compares them with each instrument's. Sessions with more than ``SMALL``
    instruments, or with a name the scan could never match whole (empty, longer than 16,
    a quote, a backslash, a byte outside printable ASCII), take the dict, as before."""

    def __init__(self, units: dict[bytes, Units]) -> None:
        self.units = units
        self.first: _Entry | None = None
        self.by_dict = len(units) > SMALL
        for w, u in units.items():
            a, b = _pack(w)
            if a < 0:
                self.by_dict = True
            self.first = _Entry(a, b, u, self.first)


def _pack(w: bytes) -> tuple[i64, i64]:
    """The words ``unit_at`` packs for the name ``w``, or (-1, -1) if it cannot match one."""
    n: i64 = len(w)
    if n == 0 or n > 16:
        return -1, -1
    a: i64 = 0
    b: i64 = 0
    k: i64 = 0
    while k < n:
        c: i64 = w[k]
        if c < 32 or c > 126 or c in (34, 92):
            return -1, -1
        if k < 8:
            a = (a << 8) | c
        else:
            b = (b << 8) | c
        k += 1
    return a, b


def unit_at(units: WireUnits, raw: bytes, i: i64) -> tuple[Units | None, i64]:
    """The instrument named by the string at ``i`` (after its opening quote), looked up in
    ``VenueSession.wire_units``, and its closing quote's position; None if unknown. The
    string must be as ``string_end`` takes it (else ``(None, -1)``)."""
    n: i64 = len(raw)
    if i < 0:
        return None, -1
    a: i64 = 0
    b: i64 = 0
    j: i64 = i
    while j < n:
        c: i64 = raw[j]
        if c == 34:
            break
        if c < 32 or c > 126 or c == 92:
            return None, -1
        k: i64 = j - i
        if k < 8:
            a = (a << 8) | c
        elif k < 16:
            b = (b << 8) | c
        j += 1
    if j >= n or j == i:
        return None, -1
    if units.by_dict or j - i > 16:
        return units.units.get(raw[i:j]), j
    e = units.first
    while e is not None:
        if e.a == a and e.b == b:
            return e.unit, j
        e = e.next
    return None, j


def _digits(raw: bytes, i: i64, scale: i64, end: i64) -> tuple[i64, i64]:
    """Digits with at most one inner point from ``i`` up to the first other byte, which
    must be ``end`` (not consumed), in units of ``10**-scale`` as ``scaled.digits`` reads
    them. Declines: no digit, a point first or last, more decimals than ``scale`` (the
    checked path decides whether they are zeros), more than 18 digits in units."""
    n: i64 = len(raw)
    if i < 0:
        return 0, -1
    v: i64 = 0
    point: i64 = -1
    nd: i64 = 0
    j: i64 = i
    while j < n:
        c: i64 = raw[j]
        if 48 <= c <= 57:
            nd += 1
            if nd > 18:
                return 0, -1
            v = v * 10 + (c - 48)
        elif c == 46 and point < 0 and j > i:
            point = j
        else:
            break
        j += 1
    if j >= n or raw[j] != end or nd == 0 or point == j - 1:
        return 0, -1
    frac: i64 = 0 if point < 0 else j - point - 1
    if frac > scale or nd + scale - frac > 18:
        return 0, -1
    while frac < scale:
        v = v * 10
        frac += 1
    return v, j


def dec(raw: bytes, i: i64, scale: i64) -> tuple[i64, i64]:
    """A quoted decimal at ``i`` after its opening quote (see ``_digits``) and the position
    after its closing quote."""
    v, j = _digits(raw, i, scale, 34)
    return v, (j + 1 if j >= 0 else -1)


def qdec(raw: bytes, i: i64, scale: i64) -> tuple[i64, i64]:
    """A quoted decimal at ``i`` on its opening quote; the position after the closing one."""
    return dec(raw, ch(raw, i, 34), scale)


def num(raw: bytes, i: i64, scale: i64, end: i64) -> tuple[i64, i64]:
    """A JSON number (Kraken's prices and sizes) followed by the byte ``end``, which is not
    consumed: as ``_digits``, and no leading zero before a digit (not JSON)."""
    if i >= 0 and i + 1 < len(raw) and raw[i] == 48 and 48 <= raw[i + 1] <= 57:
        return 0, -1
    return _digits(raw, i, scale, end)


def pairs(raw: bytes, i: i64, ps: i64, ss: i64, out: list[Level], extra: i64 = 0) -> i64:
    """``[["price","size"],...]`` at ``i`` appended to ``out``; the position after it.
    ``extra``: the number of further strings in each level (OKX's ``"0","1"``), skipped."""
    i = ch(raw, i, 91)  # [
    if i < 0:
        return -1
    if ch(raw, i, 93) >= 0:  # ]
        return i + 1
    while True:
        p, i = qdec(raw, ch(raw, i, 91), ps)  # ["p
        q, i = qdec(raw, ch(raw, i, 44), ss)  # ,"q"
        k: i64 = 0
        while k < extra:
            i = ch(raw, i, 44)
            i = string_end(raw, ch(raw, i, 34), True) + 1 if i >= 0 else -1
            k += 1
        i = ch(raw, i, 93)
        if i < 0:
            return -1
        out.append((p, q))
        j = ch(raw, i, 44)
        if j < 0:
            return ch(raw, i, 93)
        i = j


_DAYS_BEFORE: Final = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)


def _two(raw: bytes, i: i64) -> i64:
    """Two ASCII digits at ``i`` as a number, or -1."""
    if i < 0 or i + 2 > len(raw):
        return -1
    a: i64 = raw[i] - 48
    b: i64 = raw[i + 1] - 48
    if a < 0 or a > 9 or b < 0 or b > 9:
        return -1
    return a * 10 + b


class _LastStamp:
    """The date-and-seconds ``rfc3339`` read last and its time: a message's timestamps share
    them, and the next message's mostly too, so only the fraction is left to read."""

    def __init__(self) -> None:
        self.prefix = b""
        self.ns: i64 = 0


_LAST: Final = _LastStamp()


def rfc3339(raw: bytes, i: i64) -> tuple[i64, i64]:
    """``"2026-11-23T06:22:07.887872Z"`` at ``i`` on its opening quote: nanoseconds since the
    epoch, as ``timefmt.rfc3339_ns`` gives, and the position after the closing quote.
    Declines: years before 1970 or after 2200, out-of-range fields (a leap second), no
    fraction digit after a point, more than nine, any other form. The date and seconds are
    converted once per distinct prefix (about 2,000 instructions, 500 when remembered)."""
    i = ch(raw, i, 34)
    if i < 0 or i + 21 > len(raw):
        return 0, -1
    key = raw[i : i + 19]
    last = _LAST
    if key == last.prefix:
        ns = last.ns
    else:
        ns = _seconds_ns(raw, i)
        if ns < 0:
            return 0, -1
        last.prefix = key
        last.ns = ns
    j: i64 = i + 19
    if raw[j] == 46:  # the fraction: 1 to 9 digits
        j += 1
        start = j
        frac: i64 = 0
        while j < len(raw):
            c: i64 = raw[j]
            if c < 48 or c > 57:
                break
            frac = frac * 10 + (c - 48)
            j += 1
        nd: i64 = j - start
        if nd == 0 or nd > 9:
            return 0, -1
        while nd < 9:
            frac = frac * 10
            nd += 1
        ns += frac
    if lit(raw, j, b'Z"') < 0:
        return 0, -1
    return ns, j + 2


def _seconds_ns(raw: bytes, i: i64) -> i64:
    """``YYYY-MM-DDTHH:MM:SS`` at ``i`` in nanoseconds since the epoch, or -1."""
    hi = _two(raw, i)
    lo = _two(raw, i + 2)
    if hi < 0 or lo < 0 or raw[i + 4] != 45 or raw[i + 7] != 45 or raw[i + 10] != 84:
        return -1
    if raw[i + 13] != 58 or raw[i + 16] != 58:
        return -1
    year: i64 = hi * 100 + lo
    month = _two(raw, i + 5)
    day = _two(raw, i + 8)
    hour = _two(raw, i + 11)
    minute = _two(raw, i + 14)
    sec = _two(raw, i + 17)
    if year < 1970 or year > 2200 or month < 1 or month > 12 or day < 1 or hour < 0:
        return -1
    if hour > 23 or minute < 0 or minute > 59 or sec < 0 or sec > 59:
        return -1
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    mdays: i64 = (
        29 if month == 2 and leap else (28 if month == 2 else 30 + (month + month // 8) % 2)
    )
    if day > mdays:
        return -1
    y: i64 = year - 1
    days: i64 = 365 * (year - 1970) + (y // 4 - 492) - (y // 100 - 19) + (y // 400 - 4)
    days += _DAYS_BEFORE[month - 1] + (1 if month > 2 and leap else 0) + day - 1
    secs: i64 = ((days * 24 + hour) * 60 + minute) * 60 + sec
    return secs * 1_000_000_000
