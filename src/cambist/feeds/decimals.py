"""Exact decimals from venue text, built once per distinct text.

msgspec can decode a JSON string straight into ``Decimal``, but that constructs a new
object for every price and size, the largest single cost of a depth message. Book prices
and sizes repeat heavily (the same few levels change over and over), so levels are decoded
as ``str`` and turned into ``Decimal`` through a cache keyed by the exact text: the value
and its digits (``0.35280000`` stays distinct from ``0.3528``) are what ``Decimal(text)``
gives, never through float. The cache is bounded by clearing it when it grows too large.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from cambist.feeds.types import FeedError, Level

_CACHE: dict[str, Decimal] = {}
_LIMIT = 200_000


def _make(text: str) -> Decimal:
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise FeedError(f"bad decimal {text!r}") from None
    if not d.is_finite():
        raise FeedError(f"non-finite decimal {text!r}")
    if len(_CACHE) >= _LIMIT:
        _CACHE.clear()
    _CACHE[text] = d
    return d


def dec(text: str) -> Decimal:
    """One exact decimal from its text (cached)."""
    d = _CACHE.get(text)
    return d if d is not None else _make(text)


def levels(raw: list[tuple[str, str]]) -> list[Level]:
    """``[[price, size], ...]`` as text to exact ``(price, size)`` decimals."""
    get = _CACHE.get
    out: list[Level] = []
    for p, q in raw:
        dp = get(p)
        if dp is None:
            dp = _make(p)
        dq = get(q)
        if dq is None:
            dq = _make(q)
        out.append((dp, dq))
    return out
