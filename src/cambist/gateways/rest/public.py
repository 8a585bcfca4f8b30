"""Public endpoints: time, health, markets, book depth, and recent trades, candles and ticker.

Trades, candles and the ticker are served from the live view's bounded memory (the last 10,000
trades and the last 24 hours of one-minute buckets per market); the full history is the
read-models layer's to serve.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from cambist.domain.money import format_units
from cambist.domain.types import Side
from cambist.gateways.rest import wire
from cambist.gateways.rest.app import Request, Response, json_response
from cambist.gateways.rest.convert import market_out, trade_out
from cambist.gateways.rest.errors import ApiError
from cambist.gateways.rest.metrics import Metrics
from cambist.gateways.rest.trading import int_param, time_param
from cambist.gateways.rest.view import MINUTE_NS, MarketView, PublicTrade, View, iso

INTERVALS = {"1m": 1, "5m": 5, "15m": 15, "1h": 60, "4h": 240, "1d": 1440}
DAY_NS = 1440 * MINUTE_NS


class Public:
    def __init__(
        self, view: View, metrics: Metrics, ready: Callable[[], str], clock: Callable[[], int]
    ) -> None:
        self.view = view
        self.metrics = metrics
        self.ready = ready
        self.clock = clock

    def market(self, name: str) -> MarketView:
        m = self.view.markets.get(name)
        if m is None:
            raise ApiError("unknown_market", f"no market {name!r}", "market")
        return m

    async def time(self, req: Request) -> Response:
        now = self.clock()
        return json_response(wire.TimeOut(iso=iso(now), epoch_ms=now // 1_000_000))

    async def health(self, req: Request) -> Response:
        return json_response(wire.HealthOut(status="ok", sequence=self.view.last_seq))

    async def readiness(self, req: Request) -> Response:
        state = self.ready()
        body = wire.HealthOut(status=state, sequence=self.view.last_seq)  # type: ignore[arg-type]
        return json_response(body, 200 if state == "ok" else 503)

    async def metrics_text(self, req: Request) -> Response:
        return Response(200, self.metrics.render(), b"text/plain; version=0.0.4; charset=utf-8")

    async def markets(self, req: Request) -> Response:
        assets = self.view.assets
        return json_response([market_out(m, assets) for _, m in sorted(self.view.markets.items())])

    async def book(self, req: Request) -> Response:
        m = self.market(req.params[0])
        depth = int_param(req.query, "depth", 50, 1, 1000)
        qs, bs = self.view.assets[m.quote], self.view.assets[m.base]

        def levels(side: Side) -> list[tuple[str, str]]:
            return [(format_units(p, qs), format_units(q, bs)) for p, q in m.depth(side, depth)]

        out = wire.BookOut(
            market=m.name, sequence=self.view.last_seq, bids=levels(Side.BUY),
            asks=levels(Side.SELL),
        )  # fmt: skip
        return json_response(out)

    async def trades(self, req: Request) -> Response:
        m = self.market(req.params[0])
        q = req.query
        limit = int_param(q, "limit", 100, 1, 1000)
        cursor = int_param(q, "cursor", 2**63, 1, 2**63)
        start, end = time_param(q, "start"), time_param(q, "end")
        assert m.trades is not None
        picked: list[PublicTrade] = []
        more = False
        for t in reversed(m.trades):
            if t.trade_id >= cursor or (start is not None and t.ts < start):
                continue
            if end is not None and t.ts >= end:
                continue
            if len(picked) == limit:
                more = True
                break
            picked.append(t)
        page = wire.TradesPage(
            trades=[trade_out(t, m, self.view.assets) for t in picked],
            next_cursor=str(picked[-1].trade_id) if more else None,
        )
        return json_response(page)

    async def candles(self, req: Request) -> Response:
        m = self.market(req.params[0])
        interval = req.query.get("interval") or "1m"
        minutes = INTERVALS.get(interval)
        if minutes is None:
            raise ApiError("invalid_parameter", f"interval must be one of {list(INTERVALS)}",
                           "interval")  # fmt: skip
        start, end = time_param(req.query, "start"), time_param(req.query, "end")
        span = minutes * MINUTE_NS
        buckets: dict[int, list[int]] = {}
        assert m.minutes is not None
        for minute in sorted(m.minutes):
            if (start is not None and minute < start) or (end is not None and minute >= end):
                continue
            o, h, low, c, v, qv = m.minutes[minute]
            key = minute - minute % span
            b = buckets.get(key)
            if b is None:
                buckets[key] = [o, h, low, c, v, qv]
            else:
                b[1], b[2], b[3] = max(b[1], h), min(b[2], low), c
                b[4] += v
                b[5] += qv
        qs, bs = self.view.assets[m.quote], self.view.assets[m.base]
        out = [
            wire.CandleOut(
                start=iso(k), open=format_units(b[0], qs), high=format_units(b[1], qs),
                low=format_units(b[2], qs), close=format_units(b[3], qs),
                volume=format_units(b[4], bs), quote_volume=format_units(b[5], qs),
            )
            for k, b in sorted(buckets.items())
        ]  # fmt: skip
        return json_response(wire.CandlesOut(market=m.name, interval=interval, candles=out))

    async def ticker(self, req: Request) -> Response:
        m = self.market(req.params[0])
        qs, bs = self.view.assets[m.quote], self.view.assets[m.base]
        horizon = self.clock() - DAY_NS
        assert m.minutes is not None
        day = [m.minutes[k] for k in sorted(m.minutes) if k >= horizon - MINUTE_NS]

        def price(v: int | None) -> str | None:
            return format_units(v, qs) if v else None

        out = wire.TickerOut(
            market=m.name,
            last=price(m.last_price),
            best_bid=price(m.best(Side.BUY)),
            best_ask=price(m.best(Side.SELL)),
            open_24h=price(day[0][0]) if day else None,
            high_24h=price(max(b[1] for b in day)) if day else None,
            low_24h=price(min(b[2] for b in day)) if day else None,
            volume_24h=format_units(sum(b[4] for b in day), bs),
            quote_volume_24h=format_units(sum(b[5] for b in day), qs),
            sequence=self.view.last_seq,
        )
        return json_response(out)


def wall_clock_ns() -> int:
    return time.time_ns()
