"""Exact decimal text <-> integer minor units. A float never enters.

Prices are integers in the quote asset's minor units per one whole base unit; quantities are
integers in the base asset's minor units. Parsing rejects (never rounds) text with more decimals
than the scale allows, so a value off the grid is an error the caller can report.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # annotations only: compiled with mypyc these are native 64-bit integers
    from mypy_extensions import i64

_DECIMAL = re.compile(r"(-?)(\d{1,40})(?:\.(\d{1,40}))?")


MAX_UNITS = 2**63 - 1
"""The largest amount, price or quantity a command may carry (in minor units): it must fit the
log's 64-bit integers. With 8 decimals that is about 92 billion whole units."""


class DecimalFormatError(ValueError):
    """Text that is not a plain decimal number, or has more decimals than allowed."""


def parse_units(text: str, scale: int) -> int:
    """Parse ``"65000.10"`` at ``scale`` 8 to ``6500010000000``; raise on bad text or precision."""
    match = _DECIMAL.fullmatch(text)
    if match is None:
        raise DecimalFormatError(f"not a decimal number: {text[:40]!r}")
    sign: str = match.group(1)
    whole: str = match.group(2)
    frac: str = match.group(3) or ""
    if len(frac) > scale:
        if frac[scale:].strip("0"):
            raise DecimalFormatError(f"{text!r} has more than {scale} decimals")
        frac = frac[:scale]
    value: int = int(whole) * 10**scale + (int(frac.ljust(scale, "0")) if scale else 0)
    return -value if sign else value


def format_units(value: int, scale: int) -> str:
    """Format minor units as decimal text with exactly ``scale`` decimals."""
    if scale == 0:
        return str(value)
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 10**scale)
    return f"{sign}{whole}.{frac:0{scale}d}"


SHORT_UNITS: Final = (1 << 62) - 1
"""The largest integer mypyc keeps unboxed. Range checks test ``<= SHORT_UNITS`` first: a
comparison with :data:`MAX_UNITS` itself (a boxed big integer to mypyc) is ~10x slower, and
every realistic amount passes the first test."""
_I64_MAX: Final = (1 << 63) - 1


def mul_div(a: int, b: int, d: int) -> int:
    """``a * b // d`` for ``d > 0``, exact for any size (negative operands take the slow path).

    Why not just the expression: mypyc's tagged integers multiply natively only below 2**30, so a
    price in minor units (65,000 USD at scale 8 is 6.5e12) sent every notional through a
    bignum allocation. Here operands whose product fits 63 bits multiply as native ``i64``
    (the common case, checked exactly); larger ones fall back to Python's unbounded integers.
    """
    if 0 <= a <= SHORT_UNITS and 0 <= b <= SHORT_UNITS:
        x: i64 = a
        y: i64 = b
        if y == 0 or x <= _I64_MAX // y:
            z: i64 = d
            return x * y // z
    return a * b // d


def mul_div_up(a: int, b: int, d: int) -> int:
    """``a * b / d`` rounded up (fees: rounding in the exchange's favour); see :func:`mul_div`."""
    if 0 <= a <= SHORT_UNITS and 0 <= b <= SHORT_UNITS:
        x: i64 = a
        y: i64 = b
        if y == 0 or x <= _I64_MAX // y:
            z: i64 = d
            product = x * y
            q = product // z
            return q + 1 if q * z != product else q
    return -(-a * b // d)


def ceil_div(numerator: int, denominator: int) -> int:
    """Integer division rounded up (for fees: rounding in the exchange's favour)."""
    return -(-numerator // denominator)
