"""Tables and indexes of the read models, grouped by the projector that owns them.

Every amount is an integer in minor units (BIGINT), every time integer nanoseconds since the
epoch, exactly as the events carry them: formatting belongs to the gateway. The indexes are the
ones the read endpoints need, each led by the column every query pins (account or market) and
followed by the sort key, so a page is one index range scan (docs/readmodels.md shows plans).

The two big append-only tables, ``fills`` and ``ledger``, are keyed by their main search order,
``(account, trade_id, order_id)`` and ``(account, asset, seq, n)``: still unique
(``(trade_id, order_id)`` and ``(seq, n)`` are), and the key doubles as the account index. On
SQLite they are ``WITHOUT ROWID`` tables clustered on that key, so each row is written into fewer
B-trees; every index costs about as much per inserted row as the row itself. So an index
that only serves "all markets" or "all assets" is left out: ``orders`` has ``(account, market,
order_id)`` but no ``(account, order_id)``, the ledger (the most written table, 2.3 rows per
command in the load-test mix) no secondary index at all; a page over every market or asset
merges one index range per market or asset (:func:`cambist.readmodels.queries._merged_rows`).
"""

from __future__ import annotations

from cambist.readmodels.store import Store

ORDER_COLUMNS = (
    "order_id", "account", "market", "side", "order_type", "time_in_force", "price",
    "stop_price", "quantity", "quote_quantity", "filled", "filled_quote", "remaining", "status",
    "reason", "client_order_id", "created_ts", "updated_ts", "seq", "expire_ts", "post_only",
)  # fmt: skip
ORDER_CHANGING = (
    "price", "quantity", "filled", "filled_quote", "remaining", "status", "reason", "updated_ts",
    "seq",
)  # fmt: skip
"""The columns of ``orders`` an event after the placement can change."""
FILL_COLUMNS = (
    "trade_id", "order_id", "account", "market", "side", "price", "quantity", "quote_amount",
    "fee", "fee_asset", "liquidity", "ts", "seq",
)  # fmt: skip
TRADE_COLUMNS = (
    "trade_id",
    "market",
    "price",
    "quantity",
    "quote_amount",
    "taker_side",
    "ts",
    "seq",
)
CANDLE_COLUMNS = (
    "market", "interval_s", "start_ts", "open", "high", "low", "close", "volume",
    "quote_volume", "trades",
)  # fmt: skip
LEDGER_COLUMNS = (
    "seq", "n", "account", "asset", "kind", "available_delta", "reserved_delta", "order_id",
    "trade_id", "ts",
)  # fmt: skip

COMMON = (
    "CREATE TABLE IF NOT EXISTS projector_marks (name TEXT PRIMARY KEY, seq BIGINT NOT NULL,"
    " ts BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS ref_assets (asset TEXT PRIMARY KEY, scale BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS ref_markets (market TEXT PRIMARY KEY, base TEXT NOT NULL,"
    " quote TEXT NOT NULL)",
)


def orders_ddl(store: Store) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS orders (
            order_id {store.pk_int}, account BIGINT NOT NULL, market TEXT NOT NULL,
            side TEXT NOT NULL, order_type TEXT NOT NULL, time_in_force TEXT NOT NULL,
            price BIGINT NOT NULL, stop_price BIGINT NOT NULL, quantity BIGINT NOT NULL,
            quote_quantity BIGINT NOT NULL, filled BIGINT NOT NULL, filled_quote BIGINT NOT NULL,
            remaining BIGINT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL,
            client_order_id TEXT NOT NULL, created_ts BIGINT NOT NULL, updated_ts BIGINT NOT NULL,
            seq BIGINT NOT NULL, expire_ts BIGINT NOT NULL, post_only BIGINT NOT NULL)"""
        + store.updated_in_place,
        "CREATE INDEX IF NOT EXISTS orders_account_market ON orders (account, market, order_id)",
        f"""CREATE TABLE IF NOT EXISTS fills (
            trade_id BIGINT NOT NULL, order_id BIGINT NOT NULL, account BIGINT NOT NULL,
            market TEXT NOT NULL, side TEXT NOT NULL, price BIGINT NOT NULL,
            quantity BIGINT NOT NULL, quote_amount BIGINT NOT NULL, fee BIGINT NOT NULL,
            fee_asset TEXT NOT NULL, liquidity TEXT NOT NULL, ts BIGINT NOT NULL,
            seq BIGINT NOT NULL, PRIMARY KEY (account, trade_id, order_id)){store.clustered}""",
        "CREATE INDEX IF NOT EXISTS fills_account_market ON fills"
        " (account, market, trade_id, order_id)",
        "CREATE INDEX IF NOT EXISTS fills_account_ts ON fills (account, ts)",
        "CREATE INDEX IF NOT EXISTS fills_order ON fills (order_id)",
    ]


def market_ddl(store: Store) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS trades (
            trade_id {store.pk_int}, market TEXT NOT NULL, price BIGINT NOT NULL,
            quantity BIGINT NOT NULL, quote_amount BIGINT NOT NULL, taker_side TEXT NOT NULL,
            ts BIGINT NOT NULL, seq BIGINT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS trades_market ON trades (market, trade_id)",
        "CREATE INDEX IF NOT EXISTS trades_market_ts ON trades (market, ts)",
        "CREATE INDEX IF NOT EXISTS trades_market_price ON trades (market, price, ts)",
        """CREATE TABLE IF NOT EXISTS candles (
            market TEXT NOT NULL, interval_s BIGINT NOT NULL, start_ts BIGINT NOT NULL,
            open BIGINT NOT NULL, high BIGINT NOT NULL, low BIGINT NOT NULL,
            close BIGINT NOT NULL, volume BIGINT NOT NULL, quote_volume BIGINT NOT NULL,
            trades BIGINT NOT NULL, PRIMARY KEY (market, interval_s, start_ts))""",
        """CREATE TABLE IF NOT EXISTS ticker (
            market TEXT PRIMARY KEY, last_price BIGINT NOT NULL, last_trade_id BIGINT NOT NULL,
            last_ts BIGINT NOT NULL, seq BIGINT NOT NULL)""",
    ]


def ledger_ddl(store: Store) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS ledger (
            seq BIGINT NOT NULL, n BIGINT NOT NULL, account BIGINT NOT NULL,
            asset TEXT NOT NULL, kind TEXT NOT NULL, available_delta BIGINT NOT NULL,
            reserved_delta BIGINT NOT NULL, order_id BIGINT NOT NULL, trade_id BIGINT NOT NULL,
            ts BIGINT NOT NULL, PRIMARY KEY (account, asset, seq, n)){store.clustered}""",
    ]


def create_common(store: Store) -> None:
    with store.transaction():
        for stmt in COMMON:
            store.execute(stmt)
