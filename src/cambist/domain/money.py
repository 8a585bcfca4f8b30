"""Exact decimal text <-> integer minor units. A float never enters.

Prices are integers in the quote asset's minor units per one whole base unit; quantities are
integers in the base asset's minor units. Parsing rejects (never rounds) text with more decimals
than the scale allows, so a value off the grid is an error the caller can report.
"""

from __future__ import annotations

import re

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


def ceil_div(numerator: int, denominator: int) -> int:
    """Integer division rounded up (for fees: rounding in the exchange's favour)."""
    return -(-numerator // denominator)
