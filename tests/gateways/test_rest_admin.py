"""Admin endpoints: accounts, keys, transfers (idempotent on reference), markets, status."""

from __future__ import annotations

import pytest

from cambist.client import ApiError, Client
from tests.gateways.harness import RunningServer


def test_create_account_returns_working_trader_key(server: RunningServer, admin: Client) -> None:
    made = admin.create_account("erin")
    assert made["account_id"] > 1 and made["api_key"].startswith("ck_")
    erin = server.client(made["api_key"], made["api_secret"])
    assert erin.balances() == []
    account = admin.account(made["account_id"])
    assert account["name"] == "erin" and made["api_key"] in account["keys"]


def test_deposit_same_reference_is_idempotent_other_body_conflicts(admin: Client) -> None:
    account = admin.create_account("frank")["account_id"]
    first = admin.deposit(account, "USD", "100", "wire-1")
    again = admin.deposit(account, "USD", "100", "wire-1")
    assert again["duplicate"] is True and again["sequence"] == first["sequence"]
    with pytest.raises(ApiError) as err:
        admin.deposit(account, "USD", "200", "wire-1")
    assert (err.value.status, err.value.code) == (409, "reference_conflict")
    assert admin.account(account)["balances"] == [
        {"asset": "USD", "available": "100.00000000", "reserved": "0.00000000"}
    ]


def test_withdraw_more_than_available_is_422(admin: Client) -> None:
    account = admin.create_account("gina")["account_id"]
    admin.deposit(account, "BTC", "1", "g-dep")
    with pytest.raises(ApiError) as err:
        admin.withdraw(account, "BTC", "2", "g-wd")
    assert (err.value.status, err.value.code) == (422, "insufficient_funds")
    assert admin.withdraw(account, "BTC", "0.5", "g-wd2")["amount"] == "0.5"


@pytest.mark.parametrize(
    ("account", "asset", "code"), [(999_999, "USD", "unknown_account"), (1, "XYZ", "unknown_asset")]
)
def test_transfer_unknown_account_or_asset_is_404(
    admin: Client, account: int, asset: str, code: str
) -> None:
    with pytest.raises(ApiError) as err:
        admin.deposit(account, asset, "1", f"ref-{code}")
    assert (err.value.status, err.value.code) == (404, code)


def test_create_market_and_duplicate(admin: Client) -> None:
    out = admin.create_market("LTC", "USD", "0.01", "0.001", taker_fee_bps=5)
    assert out["market"]["market"] == "LTC-USD" and out["market"]["taker_fee_bps"] == 5
    with pytest.raises(ApiError) as err:
        admin.create_market("LTC", "USD", "0.01", "0.001")
    assert (err.value.status, err.value.code) == (409, "duplicate_market")
    with pytest.raises(ApiError) as err:
        admin.create_market("XRP", "USD", "0.01", "0.0000001")
    assert err.value.code == "invalid_market_spec"


def test_halt_unknown_market_is_404(admin: Client) -> None:
    with pytest.raises(ApiError) as err:
        admin.halt_market("NOPE-USD")
    assert (err.value.status, err.value.code) == (404, "unknown_market")


def test_admin_orders_and_status(server: RunningServer, admin: Client) -> None:
    trader, _ = server.trader(admin)
    order_id = trader.place_order("ETH-USD", "buy", "1", "7")["order"]["order_id"]
    live = admin.request("GET", "/admin/orders", params={"market": "ETH-USD"})["orders"]
    assert order_id in [o["order_id"] for o in live]
    status = admin.status()
    assert status["log_position"] == status["engine_position"] == status["view_position"]
    assert status["open_orders"] >= 1


def test_create_key_for_unknown_account_is_404(admin: Client) -> None:
    with pytest.raises(ApiError) as err:
        admin.create_key(424242, "trader")
    assert (err.value.status, err.value.code) == (404, "unknown_account")
