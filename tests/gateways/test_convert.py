"""The gateway's fast paths (decimals, HMAC, timestamps) agree with the reference ones."""

from __future__ import annotations

import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cambist.domain.money import DecimalFormatError, format_units, parse_units
from cambist.gateways.rest.auth import Mac
from cambist.gateways.rest.convert import MAX_UNITS, fmt, units
from cambist.gateways.rest.errors import ApiError
from cambist.gateways.rest.view import iso

decimal_text = st.from_regex(r"[0-9]{1,22}(\.[0-9]{1,12})?", fullmatch=True)


@given(st.integers(min_value=0, max_value=10**25), st.integers(min_value=0, max_value=18))
def test_fmt_any_value_equals_format_units(value: int, scale: int) -> None:
    assert fmt(value, scale) == format_units(value, scale)
    assert fmt(value, scale) == format_units(value, scale)  # again: from the cache


@given(st.binary(max_size=200), st.binary(max_size=300))
def test_mac_with_cached_pads_equals_hmac(secret: bytes, message: bytes) -> None:
    expected = hmac.digest(secret, message, "sha256").hex().encode()
    assert Mac(secret).hexdigest(message) == expected


def test_iso_of_the_same_and_other_times() -> None:
    ts = 1_700_000_000_123_456_789
    assert iso(ts) == iso(ts) == "2023-11-14T22:13:20.123456Z"
    assert iso(ts + 1_000) == "2023-11-14T22:13:20.123457Z"
    assert iso(1_700_000_000_000_999_000) == "2023-11-14T22:13:20.000999Z"
    assert iso(0) == "1970-01-01T00:00:00.000000Z"


@given(decimal_text, st.integers(min_value=0, max_value=10))
def test_units_decimal_text_equals_parse_units_or_refuses(text: str, scale: int) -> None:
    try:
        expected: int | None = parse_units(text, scale)
    except DecimalFormatError:
        expected = None
    if expected is not None and expected <= MAX_UNITS:
        assert units(text, scale, "price") == expected
    else:
        with pytest.raises(ApiError) as err:
            units(text, scale, "price")
        assert err.value.code in ("invalid_price", "invalid_price_tick")


@pytest.mark.parametrize("text", ["1e3", "-1", "+1", " 1", "1.", ".5", "١٢", "0x10", ""])
def test_units_non_plain_text_is_invalid_price(text: str) -> None:
    with pytest.raises(ApiError) as err:
        units(text, 8, "price")
    assert (err.value.code, err.value.field) == ("invalid_price", "price")
