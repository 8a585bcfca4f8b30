"""Order entry, amend, cancel and the account's own reads, over HTTP against a real node."""

from __future__ import annotations

import pytest

from cambist.client import ApiError, Client
from tests.gateways.harness import RunningServer


@pytest.fixture(scope="module")
def pair(server: RunningServer, admin: Client) -> tuple[Client, Client]:
    alice, _ = server.trader(admin)
    bob, _ = server.trader(admin)
    return alice, bob


def test_place_limit_order_rests_and_shows_in_book(
    server: RunningServer, pair: tuple[Client, Client]
) -> None:
    alice, _ = pair
    placed = alice.place_order("ETH-USD", "sell", "1.5", "3000.25", client_order_id="a-1")
    order = placed["order"]
    assert order["status"] == "open" and order["client_order_id"] == "a-1"
    assert order["remaining_quantity"] == "1.50000000" and placed["fills"] == []
    assert placed["sequence"] == order["order_id"]
    book = alice.book("ETH-USD")
    assert ["3000.25000000", "1.50000000"] in book["asks"]
    assert book["sequence"] >= placed["sequence"]


def test_place_crossing_order_fills_and_settles_balances(pair: tuple[Client, Client]) -> None:
    alice, bob = pair
    before = {b["asset"]: b for b in bob.balances()}
    alice.place_order("BTC-USD", "sell", "0.1", "60000")
    placed = bob.place_order("BTC-USD", "buy", "0.1", "60000")
    assert placed["order"]["status"] == "filled"
    assert placed["order"]["average_price"] == "60000.00000000"
    [fill] = placed["fills"]
    assert fill["liquidity"] == "taker" and fill["fee_asset"] == "BTC"
    assert fill["fee"] == "0.00020000"  # 20 bps of 0.1 BTC
    after = {b["asset"]: b for b in bob.balances()}
    assert float(after["USD"]["available"]) == pytest.approx(
        float(before["USD"]["available"]) - 6000
    )
    assert after["BTC"]["available"] == f"{float(before['BTC']['available']) + 0.0998:.8f}"
    fills = bob.fills(market="BTC-USD")["fills"]
    assert fills[0]["order_id"] == placed["order"]["order_id"]


def test_amend_reduces_quantity_and_keeps_order(pair: tuple[Client, Client]) -> None:
    alice, _ = pair
    order = alice.place_order("ETH-USD", "buy", "2", "1000")["order"]
    amended = alice.amend_order(order["order_id"], quantity="1")
    assert amended["order"]["quantity"] == "1.00000000"
    assert amended["order"]["status"] == "open"
    assert amended["sequence"] > order["sequence"]


def test_amend_without_change_is_refused_with_engine_code(pair: tuple[Client, Client]) -> None:
    alice, _ = pair
    order = alice.place_order("ETH-USD", "buy", "2", "1001")["order"]
    with pytest.raises(ApiError) as err:
        alice.amend_order(order["order_id"], price="1001")
    assert (err.value.status, err.value.code) == (422, "amend_no_change")
    assert err.value.body["error"]["sequence"] > order["sequence"]


def test_cancel_order_releases_funds(pair: tuple[Client, Client]) -> None:
    alice, _ = pair
    order = alice.place_order("ETH-USD", "buy", "1", "500")["order"]
    cancelled = alice.cancel_order(order["order_id"])["order"]
    assert cancelled["status"] == "cancelled" and cancelled["reason"] == "user"
    assert alice.get_order(order["order_id"])["status"] == "cancelled"
    with pytest.raises(ApiError) as err:
        alice.cancel_order(order["order_id"])
    assert (err.value.status, err.value.code) == (404, "unknown_order")


def test_cancel_by_client_id_cancels_that_order(pair: tuple[Client, Client]) -> None:
    alice, _ = pair
    order = alice.place_order("ETH-USD", "buy", "1", "501", client_order_id="by-cid")["order"]
    out = alice.cancel_by_client_id("by-cid")
    assert out["order"]["order_id"] == order["order_id"] and out["order"]["status"] == "cancelled"
    with pytest.raises(ApiError) as err:
        alice.cancel_by_client_id("by-cid")
    assert err.value.code == "unknown_order"


def test_cancel_all_in_market_cancels_only_that_market(
    server: RunningServer, admin: Client
) -> None:
    carol, _ = server.trader(admin)
    a = carol.place_order("ETH-USD", "buy", "1", "100")["order"]["order_id"]
    b = carol.place_order("ETH-USD", "buy", "1", "101")["order"]["order_id"]
    c = carol.place_order("BTC-USD", "buy", "0.01", "100")["order"]["order_id"]
    out = carol.cancel_all("ETH-USD")
    assert sorted(out["cancelled"]) == [a, b]
    assert carol.get_order(c)["status"] == "open"
    assert [o["order_id"] for o in carol.orders(status="open")["orders"]] == [c]


def test_list_orders_filters_and_paginates(server: RunningServer, admin: Client) -> None:
    dave, _ = server.trader(admin)
    ids = [
        dave.place_order("ETH-USD", "buy", "1", f"{200 + i}")["order"]["order_id"] for i in range(5)
    ]
    page = dave.orders(status="open", limit=2)
    assert [o["order_id"] for o in page["orders"]] == ids[::-1][:2]
    nxt = dave.orders(status="open", limit=2, cursor=page["next_cursor"])
    assert [o["order_id"] for o in nxt["orders"]] == ids[::-1][2:4]
    dave.cancel_order(ids[0])
    closed = dave.orders(status="closed")["orders"]
    assert [o["order_id"] for o in closed] == [ids[0]]
    assert dave.orders(status="all", side="sell")["orders"] == []


def test_insufficient_funds_is_422_with_sequence(server: RunningServer, admin: Client) -> None:
    poor, _ = server.trader(admin, usd="10", btc="0", eth="0")
    with pytest.raises(ApiError) as err:
        poor.place_order("BTC-USD", "buy", "1", "65000")
    assert (err.value.status, err.value.code) == (422, "insufficient_funds")
    order_id = err.value.body["error"]["order_id"]
    assert poor.get_order(order_id)["status"] == "rejected"


@pytest.mark.parametrize(
    ("fields", "status", "code", "field"),
    [
        ({"quantity": "1", "price": "100.001"}, 400, "invalid_price_tick", "price"),
        ({"quantity": "1.00001", "price": "100"}, 400, "invalid_quantity_lot", "quantity"),
        ({"quantity": "1", "price": "100.000000001"}, 400, "invalid_price_tick", "price"),
        ({"quantity": "0.00000000001", "price": "100"}, 400, "invalid_quantity_lot", "quantity"),
        ({"quantity": "1"}, 400, "invalid_price", "price"),
        ({"quantity": "99999999", "price": "100"}, 400, "quantity_above_maximum", "quantity"),
        ({"quantity": "1", "price": "1" + "0" * 10}, 422, "insufficient_funds", None),
        ({"quantity": "1", "price": "1" + "0" * 11}, 400, "invalid_price", "price"),
        ({"quantity": "1", "price": "9" * 30}, 400, "invalid_price", "price"),
        (
            {"quantity": "1", "price": "100", "time_in_force": "gtd"},
            400,
            "invalid_expire_time",
            "expire_time",
        ),
        ({"quantity": "1", "price": "100", "type": "market"}, 400, "invalid_price", "price"),
    ],
)
def test_place_bad_values_refused_with_field(
    pair: tuple[Client, Client], fields: dict[str, str], status: int, code: str, field: str | None
) -> None:
    alice, _ = pair
    with pytest.raises(ApiError) as err:
        alice.place_order("ETH-USD", "buy", **fields)
    assert (err.value.status, err.value.code) == (status, code)
    if field is not None:
        assert err.value.field == field


def test_place_unknown_market_is_404(pair: tuple[Client, Client]) -> None:
    alice, _ = pair
    with pytest.raises(ApiError) as err:
        alice.place_order("DOGE-USD", "buy", "1", "1")
    assert (err.value.status, err.value.code, err.value.field) == (404, "unknown_market", "market")


def test_place_halted_market_is_409(server: RunningServer, admin: Client) -> None:
    admin.create_market("SOL", "USD", "0.01", "0.01", base_scale=8)
    trader, _ = server.trader(admin)
    admin.halt_market("SOL-USD")
    with pytest.raises(ApiError) as err:
        trader.place_order("SOL-USD", "buy", "1", "10")
    assert (err.value.status, err.value.code) == (409, "market_halted")
    admin.resume_market("SOL-USD")
    assert trader.place_order("SOL-USD", "buy", "1", "10")["order"]["status"] == "open"


def test_duplicate_client_order_id_is_409(pair: tuple[Client, Client]) -> None:
    alice, _ = pair
    alice.place_order("ETH-USD", "buy", "1", "300", client_order_id="dup")
    with pytest.raises(ApiError) as err:
        alice.place_order("ETH-USD", "buy", "1", "300", client_order_id="dup")
    assert (err.value.status, err.value.code) == (409, "duplicate_client_order_id")


def test_min_sequence_read_waits_for_position(pair: tuple[Client, Client]) -> None:
    alice, _ = pair
    placed = alice.place_order("ETH-USD", "buy", "1", "301")
    got = alice.request(
        "GET", f"/orders/{placed['order']['order_id']}", params={"min_sequence": placed["sequence"]}
    )
    assert got["order_id"] == placed["order"]["order_id"]


def test_min_sequence_beyond_log_is_400(server: RunningServer, admin: Client) -> None:
    alice, _ = server.trader(admin)
    with pytest.raises(ApiError) as err:
        alice.request("GET", "/balances", params={"min_sequence": 10**12})
    assert (err.value.status, err.value.code, err.value.field) == (
        400,
        "invalid_parameter",
        "min_sequence",
    )
