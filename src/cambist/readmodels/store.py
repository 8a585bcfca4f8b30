"""The SQL store behind the read models: one small interface, SQLite and PostgreSQL behind it.

Projectors and queries write portable SQL with ``?`` placeholders and ``ON CONFLICT`` upserts
(both engines speak them); the few differences (placeholder style, ``max``/``GREATEST``, the
integer primary-key type, bulk loading) live here, so the conformance suite can run the same
projector code on both backends and compare the tables row for row.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

Row = tuple[Any, ...]
WAL_CHECKPOINT_PAGES = 10_000
BUSY_TIMEOUT_S = 30.0


class Store(ABC):
    """A connection to one read-model database. Not shared between threads at the same time:
    the projector runner and each query thread open their own (:meth:`reopen`)."""

    dialect: str
    pk_int: str
    """The column type of a single-column 64-bit integer primary key."""
    greatest: str
    least: str
    clustered: str
    """Appended to ``CREATE TABLE``: SQLite stores the table in its primary key's B-tree."""
    updated_in_place: str
    """Appended to ``CREATE TABLE`` of a table whose rows are updated after insertion
    (``orders``): PostgreSQL leaves room on each page for the new row versions."""
    url: str

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; return the number of rows it changed."""

    @abstractmethod
    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for each parameter row (batched by the driver)."""

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a query and return every row."""

    @abstractmethod
    def copy_rows(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        """Append rows to ``table`` as fast as the backend allows (PostgreSQL: COPY)."""

    def upsert_rows(
        self, table: str, columns: Sequence[str], key: Sequence[str], rows: Sequence[Row]
    ) -> None:
        """Insert rows or, where ``key`` exists, overwrite the other columns (PostgreSQL: one
        COPY into a temporary table and one ``INSERT ... SELECT``, not one statement per row)."""
        if rows:
            self.executemany(upsert_sql(table, columns, key), rows)

    def update_rows(
        self, table: str, columns: Sequence[str], key: str, rows: Sequence[Row]
    ) -> None:
        """Set ``columns`` of existing rows; each row is those values followed by its ``key``."""
        if rows:
            sets = ", ".join(f"{c} = ?" for c in columns)
            self.executemany(f"UPDATE {table} SET {sets} WHERE {key} = ?", rows)

    def delete_keys(self, table: str, key: str, keys: Sequence[int]) -> None:
        """Delete the rows whose integer ``key`` is one of ``keys``."""
        if keys:
            self.executemany(f"DELETE FROM {table} WHERE {key} = ?", [(k,) for k in keys])

    @abstractmethod
    def transaction(self) -> Any:
        """A context manager: everything inside commits together or not at all."""

    @abstractmethod
    def explain(self, sql: str, params: Sequence[Any] = ()) -> list[str]:
        """The query plan, one line per step (for the docs and the index tests)."""

    @abstractmethod
    def analyze(self, tables: Sequence[str] = ()) -> None:
        """Refresh the planner's statistics (so it picks the indexes the docs show) of
        ``tables``, or of every table. A projector names its own: on PostgreSQL a bare
        ``ANALYZE`` reads every table of every schema in the database."""

    @abstractmethod
    def reopen(self) -> Store:
        """A new connection to the same database (for another thread or process)."""

    @abstractmethod
    def close(self) -> None: ...

    def table_exists(self, table: str) -> bool:
        if self.dialect == "sqlite":
            sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        else:
            sql = (
                "SELECT 1 FROM information_schema.tables"
                " WHERE table_schema = current_schema() AND table_name = ?"
            )
        return bool(self.query(sql, (table,)))


class SqliteStore(Store):
    """SQLite in WAL mode: one writer and any number of readers, also across processes.

    ``synchronous=NORMAL`` under WAL cannot corrupt the database; a power loss may drop the last
    transactions, and a projector then simply re-projects them from its (equally older) mark.

    The WAL is checkpointed every :data:`WAL_CHECKPOINT_PAGES` pages rather than SQLite's 1,000:
    the projectors rewrite the same hot index pages at every commit, and a checkpoint copies
    each page once however often it changed since the last one (commit CPU per command 5.1 ->
    3.3 us in a catch-up of the load-test mix; the WAL file stays under ~40 MB).
    """

    dialect = "sqlite"
    pk_int = "INTEGER PRIMARY KEY"
    greatest = "max"
    least = "min"
    clustered = " WITHOUT ROWID"
    updated_in_place = ""

    def __init__(self, path: Path | str, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.url = str(self.path)
        self.readonly = readonly
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_S
        )
        enable_wal(self.conn, BUSY_TIMEOUT_S)
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA cache_size=-65536")
        self.conn.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        self._depth = 0
        self._lock = threading.Lock()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.conn.execute(sql, params).rowcount

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self.conn.execute(sql, params).fetchall()

    def copy_rows(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        if rows:
            marks = ", ".join("?" * len(columns))
            self.conn.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows
            )

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self.conn.execute("ROLLBACK")
            raise
        self._depth = 0
        self.conn.execute("COMMIT")

    def explain(self, sql: str, params: Sequence[Any] = ()) -> list[str]:
        return [str(r[-1]) for r in self.query("EXPLAIN QUERY PLAN " + sql, params)]

    def analyze(self, tables: Sequence[str] = ()) -> None:
        self.conn.execute("PRAGMA analysis_limit=2000")  # sampled: milliseconds, not a scan
        for table in tables or ("",):
            self.conn.execute(f"ANALYZE {table}")

    def reopen(self) -> SqliteStore:
        return SqliteStore(self.path)

    def close(self) -> None:
        self.conn.close()


def enable_wal(conn: sqlite3.Connection, budget_s: float) -> None:
    """Put the database in WAL mode, waiting out other processes converting it at the same time.

    SQLite does not run the busy handler for the conversion (it needs the file to itself), so two
    processes opening a new database at once (a projector and a reader of its marks, or two
    projectors) had one fail at once with "database is locked" whatever the busy timeout (the CI
    failure of stop 17). WAL is a property of the file: once converted, reading the mode takes no
    exclusive lock, so the usual open costs nothing more; until then retry with backoff within
    the same budget as the busy timeout.
    """
    deadline = time.monotonic() + budget_s
    pause = 0.001
    while True:
        try:
            mode = str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()
            if mode != "wal":
                mode = str(conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]).lower()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        else:
            if mode == "wal":
                return
            if time.monotonic() >= deadline:
                raise sqlite3.OperationalError(f"cannot put the database in WAL mode: it is {mode}")
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def upsert_sql(
    table: str, columns: Sequence[str], key: Sequence[str], assign: str = "", source: str = ""
) -> str:
    """``INSERT ... ON CONFLICT (key) DO UPDATE``: ``assign`` defaults to overwriting every
    non-key column; ``source`` (a ``SELECT``) replaces the ``VALUES`` placeholders."""
    values = source or f"VALUES ({', '.join('?' * len(columns))})"
    sets = assign or ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) {values}"
        f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET {sets}"
    )


def open_store(url: str) -> Store:
    """``postgresql://...`` opens PostgreSQL; anything else is a SQLite file path."""
    if url.startswith(("postgresql://", "postgres://")):
        from cambist.readmodels.postgres import PostgresStore

        return PostgresStore(url)
    return SqliteStore(url.removeprefix("sqlite:///").removeprefix("sqlite://"))
