"""RFC 3339 timestamps to and from integer nanoseconds, exactly (no float seconds).

Coinbase sends nine fractional digits and Kraken six; ``datetime`` keeps only microseconds,
so the fraction is read as text. The date-and-seconds prefix repeats across thousands of
messages per second, so its conversion is cached.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from cambist.feeds.types import FeedError

if TYPE_CHECKING:
    from mypy_extensions import i64

NS: Final = 1_000_000_000


def ms_ns(ms: int) -> int:
    """Milliseconds to nanoseconds. An ``i64`` product when compiled: mypyc's ``int``
    product takes its slow path (a Python long multiplication) for any operand above 2**30,
    which every epoch timestamp is. Values the ``i64`` cannot hold multiply as ``int``."""
    if -_MS_LIMIT < ms < _MS_LIMIT:
        v: i64 = ms
        return v * 1_000_000
    return ms * 1_000_000


_MS_LIMIT: Final = 9_000_000_000_000
"""``ms * 10**6`` stays below 2**63 (the year 2255)."""


def _epoch_seconds(prefix: str) -> int:
    try:
        dt = datetime.strptime(prefix, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        raise FeedError(f"bad timestamp {prefix!r}") from None
    return int(dt.timestamp())


_SECONDS: Final[dict[str, int]] = {}
"""``_epoch_seconds`` by prefix, cleared at 4,096 entries: a plain dict, whose lookup is
native when compiled (an ``lru_cache`` wrapper is a generic call)."""


def rfc3339_ns(text: str) -> int:
    """``2023-02-09T20:19:35.39625135Z`` to nanoseconds since the epoch."""
    n: i64 = len(text)
    if not text.endswith("Z") or n < 20:
        raise FeedError(f"bad timestamp {text!r}: expected UTC 'Z' form")
    frac = _fraction_ns(text, n)
    prefix = text[:19]
    secs = _SECONDS.get(prefix)
    if secs is None:
        secs = _epoch_seconds(prefix)
        if len(_SECONDS) >= 4096:
            _SECONDS.clear()
        _SECONDS[prefix] = secs
    if -_S_LIMIT < secs < _S_LIMIT:
        v: i64 = secs
        return v * NS + frac
    return secs * NS + frac


_S_LIMIT: Final = 9_000_000_000
"""Seconds whose nanoseconds stay below 2**63 (``i64`` arithmetic when compiled)."""


def _fraction_ns(text: str, n: i64) -> int:
    """The fraction of second between the point and the ``Z``, in nanoseconds (at most nine
    digits; none is zero). ASCII digits are read in a native loop; anything else takes the
    ``str`` reading, whose refusals it keeps."""
    if n <= 21:
        return 0
    if n > 30 or text[19] != ".":
        raise FeedError(f"bad timestamp fraction in {text!r}")
    v: i64 = 0
    i: i64 = 20
    while i < n - 1:
        c: i64 = ord(text[i])
        if c < 48 or c > 57:
            return _fraction_text(text)
        v = v * 10 + (c - 48)
        i += 1
    while i < 29:
        v = v * 10
        i += 1
    return v


def _fraction_text(text: str) -> int:
    frac = text[20:-1]
    if not frac.isdigit():
        raise FeedError(f"bad timestamp fraction in {text!r}")
    return int(frac.ljust(9, "0"))


def ns_rfc3339(ns: int, digits: int = 6) -> str:
    """Nanoseconds to ``...SS.ffffffZ`` with ``digits`` fractional digits (truncated)."""
    secs, rem = divmod(ns, NS)
    base = datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if digits == 0:
        return base + "Z"
    return f"{base}.{str(rem).zfill(9)[:digits]}Z"
