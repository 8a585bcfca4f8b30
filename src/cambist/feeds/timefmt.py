"""RFC 3339 timestamps to and from integer nanoseconds, exactly (no float seconds).

Coinbase sends nine fractional digits and Kraken six; ``datetime`` keeps only microseconds,
so the fraction is read as text. The date-and-seconds prefix repeats across thousands of
messages per second, so its conversion is cached.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from cambist.feeds.types import FeedError

if TYPE_CHECKING:
    from mypy_extensions import i64

NS = 1_000_000_000


def ms_ns(ms: int) -> int:
    """Milliseconds to nanoseconds. An ``i64`` product when compiled: mypyc's ``int``
    product takes its slow path (a Python long multiplication) for any operand above 2**30,
    which every epoch timestamp is. Values the ``i64`` cannot hold multiply as ``int``."""
    if -_MS_LIMIT < ms < _MS_LIMIT:
        v: i64 = ms
        return v * 1_000_000
    return ms * 1_000_000


_MS_LIMIT = 9_000_000_000_000
"""``ms * 10**6`` stays below 2**63 (the year 2255)."""


@lru_cache(maxsize=4096)
def _epoch_seconds(prefix: str) -> int:
    try:
        dt = datetime.strptime(prefix, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        raise FeedError(f"bad timestamp {prefix!r}") from None
    return int(dt.timestamp())


def rfc3339_ns(text: str) -> int:
    """``2023-02-09T20:19:35.39625135Z`` to nanoseconds since the epoch."""
    if not text.endswith("Z") or len(text) < 20:
        raise FeedError(f"bad timestamp {text!r}: expected UTC 'Z' form")
    prefix = text[:19]
    frac = text[20:-1] if len(text) > 20 else ""
    if frac and (not frac.isdigit() or len(frac) > 9 or text[19] != "."):
        raise FeedError(f"bad timestamp fraction in {text!r}")
    return _epoch_seconds(prefix) * NS + (int(frac.ljust(9, "0")) if frac else 0)


def ns_rfc3339(ns: int, digits: int = 6) -> str:
    """Nanoseconds to ``...SS.ffffffZ`` with ``digits`` fractional digits (truncated)."""
    secs, rem = divmod(ns, NS)
    base = datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if digits == 0:
        return base + "Z"
    return f"{base}.{str(rem).zfill(9)[:digits]}Z"
