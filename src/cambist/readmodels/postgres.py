"""PostgreSQL behind the read-model :class:`~cambist.readmodels.store.Store` (psycopg 3).

Batched writes: ``executemany`` runs in psycopg's pipeline mode (one round trip per batch, not
per row) and statements repeated by every flush are prepared server-side automatically;
append-only tables (fills, trades, ledger) are loaded with ``COPY``, which skips per-row
statement overhead altogether.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from cambist.readmodels.store import Row, Store


def _pg(sql: str) -> str:
    """Our portable SQL uses ``?`` placeholders (and never a literal ``?`` or ``%``)."""
    return sql.replace("?", "%s")


class PostgresStore(Store):
    dialect = "postgres"
    pk_int = "BIGINT PRIMARY KEY"
    greatest = "GREATEST"
    least = "LEAST"

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn = psycopg.connect(url, autocommit=True)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.conn.execute(_pg(sql), params).rowcount

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(_pg(sql), rows)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self.conn.execute(_pg(sql), params).fetchall()

    def copy_rows(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        if not rows:
            return
        with (
            self.conn.cursor() as cur,
            cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.conn.transaction():
            yield

    def explain(self, sql: str, params: Sequence[Any] = ()) -> list[str]:
        return [str(r[0]) for r in self.query("EXPLAIN " + sql, params)]

    def analyze(self) -> None:
        self.conn.execute("ANALYZE")

    def reopen(self) -> PostgresStore:
        return PostgresStore(self.url)

    def close(self) -> None:
        self.conn.close()
