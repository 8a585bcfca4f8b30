"""Exact prices and sizes as scaled integers, parsed from the venue's own text.

A price or size travels through the gate as an ``int`` counting units of ``10**-scale`` of
the instrument (``Scale``: decimals of prices and of sizes): ``"64123.45"`` at price scale
8 is ``6412345000000``. Integers hash, compare and encode (msgpack) several times faster
than ``Decimal`` and never round. The text is turned into the integer with string
operations (split at the point, pad, ``int``), never through float; digits beyond the scale
are accepted only when they are zeros, anything else is a ``FeedError`` (a value the
configured scale cannot hold exactly is a configuration error the operator must see).
Exponent forms (``1E+2``) and other rare spellings take an exact ``Decimal`` path.

Prices and sizes repeat heavily, so each scale keeps a cache keyed by the exact text; it
is bounded by clearing it when it grows too large.

Compiled, values stay Python objects (``Boxed``): mypyc keeps an ``int`` in a machine word
and makes a new object each time it is stored in a tuple, list or Struct, so a cached price
read as ``int`` cost an allocation per use (about 1,200 instructions per message of the mix);
read as ``Any`` it is the cached object itself.
"""

from __future__ import annotations

from decimal import Decimal, DecimalException, InvalidOperation
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from cambist.feeds.types import FeedError, Level

if TYPE_CHECKING:
    from mypy_extensions import i64

Boxed = Any
"""An exact scaled ``int`` that compiled code passes on as the object it is (see above)."""

POW10: tuple[int, ...] = tuple(10**i for i in range(64))
_LIMIT = 200_000
NATIVE: Final = not __file__.endswith(".py")
"""This module was compiled by mypyc (``make native``): values that miss the cache are read
by ``digits`` (a native loop, about 3x ``parse`` there; interpreted it is 4x slower)."""


class Scale(NamedTuple):
    """Decimals of one instrument's prices and sizes on the wire (and in the log)."""

    price: int
    size: int


DEFAULT_SCALE = Scale(8, 8)
"""Enough for every spot pair of the supported venues at their usual precisions; Kraken's
checksum needs the pair's exact ``price_precision``/``qty_precision`` (see kraken.py)."""

_CACHES: dict[int, dict[str, int]] = {}


class Units:
    """One instrument's scales with their text caches, looked up once per message."""

    __slots__ = ("pc", "price", "sc", "scale", "size", "symbol")

    def __init__(self, scale: Scale, symbol: str = "") -> None:
        self.symbol = symbol
        """The normalized symbol (``VenueSession.unit``: one lookup per message)."""
        self.scale = scale
        self.price, self.size = scale
        self.pc = cache(scale.price)
        self.sc = cache(scale.size)


def cache(scale: int) -> dict[str, int]:
    """The text-to-integer cache of one scale (shared by every instrument using it)."""
    c = _CACHES.get(scale)
    if c is None:
        c = _CACHES[scale] = {}
    return c


MAX_DIGITS = 40
"""No price or size has more digits in its units: longer text is refused, not converted (a
hostile ``1e999999999`` would otherwise build a giant integer or overflow ``Decimal``)."""


def parse(text: str, scale: int) -> int:
    """``text`` in units of ``10**-scale``, exactly, without the cache."""
    whole, _, frac = text.partition(".")
    if len(frac) > scale:
        extra = frac[scale:]
        if extra.count("0") != len(extra):
            raise FeedError(f"{text!r} has more than {scale} decimals")
        frac = frac[:scale]
    digits = whole + frac
    if whole and digits.isdigit() and digits.isascii():
        if len(digits) > MAX_DIGITS and len(digits.lstrip("0")) > MAX_DIGITS:
            raise FeedError(f"{text!r} is out of range")
        return int(digits) * POW10[scale - len(frac)]
    return _parse_decimal(text, scale)


def digits(text: str, scale: int) -> int:
    """Same value or ``FeedError`` as ``parse``, in one pass over the characters with the
    value in a machine integer: no partition, concatenation or ``int(str)``. Meant for the
    compiled build; anything but ASCII digits with at most one inner point takes ``parse``.

    The value is an ``i64`` (compiled: a plain machine word; mypyc's ``int`` takes a slow
    path for every product above 2**30, i.e. the last four digits of a price). At most 18
    digits in and out keep it exact; longer text and larger results take ``parse``."""
    n: i64 = len(text)
    if n == 0 or n > 19:
        return parse(text, scale)
    v: i64 = 0
    point: i64 = -1
    i: i64 = 0
    while i < n:
        c: i64 = ord(text[i])
        if 48 <= c <= 57:
            v = v * 10 + (c - 48)
        elif c == 46 and point < 0 and i > 0:
            point = i
        else:
            return parse(text, scale)
        i += 1
    frac: i64 = 0 if point < 0 else n - point - 1
    s: i64 = scale
    if frac > s:
        while frac > s:
            if v % 10:
                raise FeedError(f"{text!r} has more than {scale} decimals")
            v = v // 10
            frac -= 1
        return v
    ndigits: i64 = n if point < 0 else n - 1
    if ndigits + s - frac > 18:
        return parse(text, scale)
    while frac < s:
        v = v * 10
        frac += 1
    return v


def _parse_decimal(text: str, scale: int) -> int:
    """Rare spellings (``1E+2``, ``.5``): exact through ``Decimal``; still no float.
    ``Decimal`` also takes spaces, underscores and non-ASCII digits: those are refused."""
    if not text.isascii() or text.strip("0123456789.eE+"):
        raise FeedError(f"bad number {text!r}")
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise FeedError(f"bad number {text!r}") from None
    if not d.is_finite() or d.is_signed():
        raise FeedError(f"not a finite non-negative number: {text!r}")
    if d and d.adjusted() + scale >= MAX_DIGITS:  # "1e999999999": no giant int, no Overflow
        raise FeedError(f"{text!r} is out of range")
    try:
        q = d.scaleb(scale)
    except DecimalException:  # an exponent beyond the context's range either way
        raise FeedError(f"bad number {text!r}") from None
    if q != q.to_integral_value():
        raise FeedError(f"{text!r} has more than {scale} decimals")
    return int(q)


def scaled(text: str, c: dict[str, int], scale: int) -> Boxed:
    """One value through the cache ``c`` of ``scale`` (the cached object itself)."""
    v: Boxed = c.get(text)
    if v is None:
        return _miss(text, c, scale)
    return v


def _miss(text: str, c: dict[str, int], scale: int) -> Boxed:
    v: Boxed = digits(text, scale) if NATIVE else parse(text, scale)
    if len(c) >= _LIMIT:
        c.clear()
    c[text] = v
    return v


def levels(raw: list[tuple[str, str]], u: Units) -> list[Level]:
    """``[[price, size], ...]`` as text to exact scaled ``(price, size)`` integers."""
    pc, sc = u.pc, u.sc
    out: list[Boxed] = []
    for p, q in raw:
        # ``pc.get`` each time, not a bound method kept in a local: compiled, that is a
        # native dict lookup, while calling a bound method is a generic Python call
        ip: Boxed = pc.get(p)
        if ip is None:
            ip = _miss(p, pc, u.price)
        iq: Boxed = sc.get(q)
        if iq is None:
            iq = _miss(q, sc, u.size)
        out.append((ip, iq))
    return out


def number(v: str | int, c: dict[str, int], scale: int) -> Boxed:
    """A JSON number decoded with ``float_hook=str``: an ``int`` or the number's text."""
    if type(v) is int:
        if v < 0:
            raise FeedError(f"negative number {v}")
        return v * POW10[scale]
    if type(v) is not str:
        raise FeedError(f"expected a number, got {v!r}")
    return scaled(v, c, scale)


def text(v: int, scale: int) -> str:
    """The wire text of a scaled value with exactly ``scale`` decimals (emulator side)."""
    if not scale:
        return str(v)
    whole, frac = divmod(v, POW10[scale])
    return f"{whole}.{frac:0{scale}d}"


def to_decimal(v: int, scale: int) -> Decimal:
    """For people and APIs (the consolidated book): the exact ``Decimal`` of a value."""
    return Decimal(v).scaleb(-scale)
