"""Public endpoints, metrics, health, OpenAPI and the docs page."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from cambist.client import Client
from tests.gateways.harness import RunningServer


def test_time_is_rfc3339_and_epoch_ms(server: RunningServer) -> None:
    got = server.client().time()
    assert got["iso"].endswith("Z") and len(got["iso"]) == 27
    assert got["epoch_ms"] > 1_600_000_000_000


def test_markets_lists_defaults_with_rules(server: RunningServer) -> None:
    markets = {m["market"]: m for m in server.client().markets()}
    assert {"BTC-USD", "ETH-USD", "ETH-BTC"} <= set(markets)
    btc = markets["BTC-USD"]
    assert (btc["tick_size"], btc["lot_size"], btc["status"]) == (
        "0.01000000",
        "0.00001000",
        "open",
    )


def test_book_unknown_market_is_404(server: RunningServer) -> None:
    resp = httpx.get(server.url + "/api/v1/markets/NOPE-USD/book")
    assert (resp.status_code, resp.json()["error"]["code"]) == (404, "unknown_market")


def test_book_bad_depth_is_400(server: RunningServer) -> None:
    resp = httpx.get(server.url + "/api/v1/markets/BTC-USD/book?depth=abc")
    assert (resp.status_code, resp.json()["error"]["field"]) == (400, "depth")


def test_trades_ticker_candles_after_a_trade(server: RunningServer, admin: Client) -> None:
    seller, _ = server.trader(admin)
    buyer, _ = server.trader(admin)
    seller.place_order("ETH-BTC", "sell", "2", "0.05")
    buyer.place_order("ETH-BTC", "buy", "2", "0.05")
    public = server.client()
    trades = public.trades("ETH-BTC")["trades"]
    assert trades[0]["price"] == "0.05000000" and trades[0]["taker_side"] == "buy"
    ticker = public.ticker("ETH-BTC")
    assert ticker["last"] == "0.05000000" and ticker["volume_24h"] == "2.00000000"
    candles = public.request(
        "GET", "/markets/ETH-BTC/candles", params={"interval": "1h"}, signed=False
    )
    assert candles["candles"][-1]["close"] == "0.05000000"
    resp = httpx.get(server.url + "/api/v1/markets/ETH-BTC/candles?interval=7m")
    assert (resp.status_code, resp.json()["error"]["field"]) == (400, "interval")


def test_metrics_parse_as_prometheus_text(server: RunningServer, admin: Client) -> None:
    trader, _ = server.trader(admin)
    trader.place_order("ETH-USD", "buy", "1", "5")
    text = httpx.get(server.url + "/metrics").text
    names = {f.name for f in text_string_to_metric_families(text)}
    assert {
        "cambist_http_requests",
        "cambist_command_latency_seconds",
        "cambist_open_orders",
        "cambist_sequencer_batch_size",
        "cambist_rejections",
        "cambist_sequencer_queue_depth",
    } <= names


def test_health_and_readiness_answer_ok(server: RunningServer) -> None:
    for path in ("/health", "/ready", "/api/v1/health", "/api/v1/ready"):
        resp = httpx.get(server.url + path)
        assert resp.status_code == 200 and resp.json()["status"] == "ok"


def test_openapi_lists_every_route_and_docs_page_links_it(server: RunningServer) -> None:
    doc = httpx.get(server.url + "/api/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert "/api/v1/orders/{order_id}" in doc["paths"]
    assert set(doc["paths"]["/api/v1/orders"]) == {"get", "post", "delete"}
    assert "OrderRequest" in doc["components"]["schemas"]
    page = httpx.get(server.url + "/docs")
    assert page.status_code == 200 and "/api/v1/openapi.json" in page.text


def test_unknown_path_is_404_and_wrong_method_405(server: RunningServer) -> None:
    assert httpx.get(server.url + "/api/v1/nope").json()["error"]["code"] == "not_found"
    resp = httpx.put(server.url + "/api/v1/time")
    assert (resp.status_code, resp.json()["error"]["code"]) == (405, "method_not_allowed")
