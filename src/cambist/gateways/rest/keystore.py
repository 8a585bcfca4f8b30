"""API keys, account names and idempotency records, in a small SQLite file in the data directory.

Why not the command log: the engine's command set (``cambist.domain.commands``) has no place for
keys or secrets, and secrets do not belong in a log that replicas and projectors read. So the
gateway keeps them here, each write committed before the request that made it is answered. A
SIGKILL loses nothing committed (WAL pages are in the OS before ``commit`` returns; only power
loss could drop the last transactions, with ``synchronous=NORMAL``).

Idempotency records are written twice: *pending* before the command is submitted (with the
client order id the command carries, and the log position before it), and *answered* with the
exact first answer before that answer is sent. A retry after a crash between the two finds the
pending record and recovers the order from the log by its client order id (see
``docs/api.md``).
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

ROLES = ("trader", "read_only", "admin")
IDEM_CACHE = 100_000


@dataclass(slots=True)
class ApiKey:
    api_key: str
    secret: bytes
    account: int
    role: str


@dataclass(slots=True)
class IdemRecord:
    account: int
    key: str
    body_hash: bytes
    client_order_id: str
    min_seq: int
    status: int = 0
    """HTTP status of the first answer; 0 while the command is in flight (pending)."""
    answer: bytes = b""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    api_key TEXT PRIMARY KEY, secret TEXT NOT NULL, account INTEGER NOT NULL,
    role TEXT NOT NULL, created_ns INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (account INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (
    account INTEGER NOT NULL, key TEXT NOT NULL, body_hash BLOB NOT NULL,
    client_order_id TEXT NOT NULL, min_seq INTEGER NOT NULL, status INTEGER NOT NULL,
    answer BLOB NOT NULL, PRIMARY KEY (account, key));
"""


class KeyStore:
    """Keys cached in memory (every request needs one); idempotency records loaded on demand."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        self.keys: dict[str, ApiKey] = {}
        for api_key, secret, account, role in self.db.execute(
            "SELECT api_key, secret, account, role FROM api_keys"
        ):
            self.keys[api_key] = ApiKey(api_key, secret.encode(), account, role)
        self.names: dict[int, str] = dict(self.db.execute("SELECT account, name FROM accounts"))
        self.idem: dict[tuple[int, str], IdemRecord] = {}

    def close(self) -> None:
        self.db.close()

    # -- keys and accounts ------------------------------------------------------------------

    def create_key(self, account: int, role: str) -> ApiKey:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        key = ApiKey(
            "ck_" + secrets.token_hex(12), secrets.token_urlsafe(32).encode(), account, role
        )
        self.db.execute(
            "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?)",
            (key.api_key, key.secret.decode(), account, role, time.time_ns()),
        )
        self.keys[key.api_key] = key
        return key

    def keys_of(self, account: int) -> list[ApiKey]:
        return [k for k in self.keys.values() if k.account == account]

    def set_name(self, account: int, name: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO accounts VALUES (?, ?)", (account, name))
        self.names[account] = name

    # -- idempotency --------------------------------------------------------------------------

    def idem_get(self, account: int, key: str) -> IdemRecord | None:
        rec = self.idem.get((account, key))
        if rec is None:
            row = self.db.execute(
                "SELECT body_hash, client_order_id, min_seq, status, answer FROM idempotency "
                "WHERE account = ? AND key = ?",
                (account, key),
            ).fetchone()
            if row is not None:
                rec = IdemRecord(account, key, row[0], row[1], row[2], row[3], row[4])
                self._cache(rec)
        return rec

    def _cache(self, rec: IdemRecord) -> None:
        """Keep the newest records in memory; older ones are read back from the file."""
        self.idem[(rec.account, rec.key)] = rec
        if len(self.idem) > IDEM_CACHE:
            del self.idem[next(iter(self.idem))]

    def idem_pending(self, records: list[IdemRecord]) -> None:
        """Record commands about to be submitted (one transaction for a batch)."""
        self.db.execute("BEGIN")
        self.db.executemany(
            "INSERT OR REPLACE INTO idempotency VALUES (?, ?, ?, ?, ?, 0, x'')",
            [(r.account, r.key, r.body_hash, r.client_order_id, r.min_seq) for r in records],
        )
        self.db.execute("COMMIT")
        for r in records:
            self._cache(r)

    def idem_answered(self, records: list[IdemRecord]) -> None:
        """Record first answers (one transaction for a batch), before they are sent."""
        self.db.execute("BEGIN")
        self.db.executemany(
            "UPDATE idempotency SET status = ?, answer = ? WHERE account = ? AND key = ?",
            [(r.status, r.answer, r.account, r.key) for r in records],
        )
        self.db.execute("COMMIT")
