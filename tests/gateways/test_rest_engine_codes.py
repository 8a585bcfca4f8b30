"""Each engine rejection reaches the client as its own code, status and (where it has one) field."""

from __future__ import annotations

from typing import Any

import pytest

from cambist.client import ApiError, Client
from tests.gateways.harness import RunningServer


@pytest.fixture(scope="module")
def market(server: RunningServer, admin: Client) -> tuple[Client, Client]:
    """BAND-USD: 10% price band, 5 USD minimum notional, 0.05 minimum quantity; last trade 100."""
    admin.create_market(
        "BAND", "USD", "0.01", "0.01", band_bps=1000, min_notional="5", min_quantity="0.05"
    )
    taker, _ = server.trader(admin)
    made = admin.create_account("band-maker")
    admin.deposit(made["account_id"], "BAND", "1000", "band-1")
    admin.deposit(made["account_id"], "USD", "100000", "band-2")
    seller = server.client(made["api_key"], made["api_secret"])
    seller.place_order("BAND-USD", "sell", "1", "100")
    taker.place_order("BAND-USD", "buy", "1", "100")  # last price 100
    seller.place_order("BAND-USD", "sell", "1", "105")  # resting ask
    return seller, taker


@pytest.mark.parametrize(
    ("order", "status", "code", "field"),
    [
        (
            {"side": "buy", "quantity": "1", "price": "105", "post_only": True},
            422,
            "post_only_would_take",
            None,
        ),
        ({"side": "buy", "quantity": "1", "price": "120"}, 422, "price_out_of_band", "price"),
        ({"side": "buy", "quantity": "0.05", "price": "99"}, 400, "notional_below_minimum", None),
        (
            {"side": "buy", "quantity": "0.01", "price": "99"},
            400,
            "quantity_below_minimum",
            "quantity",
        ),
        (
            {
                "side": "buy",
                "quantity": "1",
                "price": "99",
                "type": "stop_limit",
                "stop_price": "90",
            },
            422,
            "stop_would_trigger",
            None,
        ),
        (
            {"side": "buy", "quantity": "1", "price": "99", "type": "stop_limit"},
            400,
            "invalid_stop_price",
            "stop_price",
        ),
        (
            {"side": "buy", "quantity": "1", "type": "market", "post_only": True},
            400,
            "invalid_order_type",
            "type",
        ),
        (
            {
                "side": "buy",
                "quantity": "1",
                "price": "99",
                "post_only": True,
                "time_in_force": "ioc",
            },
            400,
            "invalid_time_in_force",
            "time_in_force",
        ),
        (
            {"side": "buy", "quantity": "1", "type": "market", "time_in_force": "gtd"},
            400,
            "invalid_expire_time",
            "expire_time",
        ),
        (
            {"side": "sell", "quote_quantity": "10", "type": "market"},
            400,
            "invalid_quantity",
            "quantity",
        ),
    ],
)
def test_engine_rejection_codes_reach_client(
    market: tuple[Client, Client], order: dict[str, Any], status: int, code: str, field: str | None
) -> None:
    _, taker = market
    with pytest.raises(ApiError) as err:
        taker.place_order("BAND-USD", **order)
    assert (err.value.status, err.value.code) == (status, code)
    assert err.value.field == field
    assert err.value.body["error"]["sequence"] > 0


def test_market_order_defaults_to_ioc_and_fills(market: tuple[Client, Client]) -> None:
    _, taker = market
    placed = taker.place_order("BAND-USD", "buy", "0.5", type="market")
    assert placed["order"]["time_in_force"] == "ioc" and placed["order"]["status"] == "filled"
    assert placed["fills"][0]["price"] == "105.00000000"


def test_stop_order_is_not_amendable(market: tuple[Client, Client]) -> None:
    _, taker = market
    stop = taker.place_order("BAND-USD", "buy", "1", "109", type="stop_limit", stop_price="109")
    assert stop["order"]["status"] == "pending_trigger"
    with pytest.raises(ApiError) as err:
        taker.amend_order(stop["order"]["order_id"], price="108")
    assert (err.value.status, err.value.code) == (422, "order_not_amendable")


def test_cancel_other_accounts_client_id_is_404(market: tuple[Client, Client]) -> None:
    seller, taker = market
    seller.place_order("BAND-USD", "sell", "1", "106", client_order_id="mine")
    with pytest.raises(ApiError) as err:
        taker.cancel_by_client_id("mine")
    assert (err.value.status, err.value.code) == (404, "unknown_order")
