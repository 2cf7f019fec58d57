"""The sandbox's card key store over SQLite (core/card_keys.py's `ProtectedKeyStore`).

One company in the sandbox. Each private key is stored only wrapped by the key-encryption key
(KEK), a file kept outside the SQLite file (`--card-kek-file`, made by `make demo` and by the
test launcher): the SQLite file alone opens no envelope. Without a KEK no key is handed out.

The table of older sandboxes (`private_pem`, unprotected unless SANDBOX_CARD_KEY_PASSPHRASE was
set) is migrated in place, once, guarded: each old key is wrapped as soon as a KEK is there,
its unprotected copy erased from the file (secure_delete + WAL checkpoint) and the key retired.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from datetime import datetime, timezone

from pos_offline_sync.core.card_keys import (
    KEY_BITS,
    CardKeyUnavailable,
    KeyEncryptionKey,
    ProtectedKeyStore,
    StoredKey,
    private_from_pem,
)

_logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS card_keys (
    id INTEGER PRIMARY KEY,
    kid TEXT UNIQUE NOT NULL,
    company_id INTEGER NOT NULL DEFAULT 1,
    spki BLOB NOT NULL,
    -- the private key, AES-256-GCM wrapped by the KEK (core/card_keys.py WRAP_PREFIX)
    wrapped TEXT,
    -- left by an older sandbox until a KEK wraps it; never used as such
    legacy_pem BLOB,
    retired INTEGER NOT NULL DEFAULT 0 CHECK (retired IN (0, 1)),
    created_at TEXT NOT NULL,
    CHECK (wrapped IS NOT NULL OR legacy_pem IS NOT NULL)
);
"""
# The table before keys were wrapped (kid TEXT PRIMARY KEY, private_pem BLOB NOT NULL, ...).
_MIGRATE_V1 = """
CREATE TABLE card_keys_v2 (
    id INTEGER PRIMARY KEY,
    kid TEXT UNIQUE NOT NULL,
    company_id INTEGER NOT NULL DEFAULT 1,
    spki BLOB NOT NULL,
    wrapped TEXT,
    legacy_pem BLOB,
    retired INTEGER NOT NULL DEFAULT 0 CHECK (retired IN (0, 1)),
    created_at TEXT NOT NULL,
    CHECK (wrapped IS NOT NULL OR legacy_pem IS NOT NULL)
);
INSERT INTO card_keys_v2 (kid, company_id, spki, legacy_pem, created_at)
    SELECT kid, company_id, spki, private_pem, created_at FROM card_keys ORDER BY rowid;
DROP TABLE card_keys;
ALTER TABLE card_keys_v2 RENAME TO card_keys;
"""


def _connect(db_path):
    conn = sqlite3.connect(db_path, timeout=30, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    # Deleted or overwritten key material is zeroed in the file, not left in free space.
    conn.execute("PRAGMA secure_delete=ON")
    return conn


def migrate(db_path) -> None:
    """Creates the table, or rebuilds an older sandbox's one (guarded, idempotent)."""
    conn = _connect(db_path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            columns = {row[1] for row in conn.execute("PRAGMA table_info(card_keys)")}
            if "private_pem" in columns:
                for statement in _MIGRATE_V1.split(";"):
                    if statement.strip():
                        conn.execute(statement)
            elif not columns:
                conn.execute(SCHEMA)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()


class SqliteKeyRows:
    """core.card_keys.KeyRows over the `card_keys` table."""

    def __init__(self, db_path, company_id=1):
        self.db_path = str(db_path)
        self.company_id = company_id

    def _query(self, sql, args=()):
        conn = _connect(self.db_path)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    @staticmethod
    def _stored(row):
        if row is None:
            return None
        kid, spki, wrapped, legacy = row
        return StoredKey(kid, bytes(spki), wrapped, bytes(legacy) if legacy is not None else None)

    def current(self):
        rows = self._query(
            "SELECT kid, spki, wrapped, legacy_pem FROM card_keys "
            "WHERE company_id = ? AND retired = 0 ORDER BY id DESC LIMIT 1",
            (self.company_id,),
        )
        return self._stored(rows[0] if rows else None)

    def get(self, kid):
        rows = self._query(
            "SELECT kid, spki, wrapped, legacy_pem FROM card_keys WHERE kid = ? AND company_id = ?",
            (kid, self.company_id),
        )
        return self._stored(rows[0] if rows else None)

    def add(self, stored, *, only_if_none=False):
        conn = _connect(self.db_path)
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                current = conn.execute(
                    "SELECT kid, spki, wrapped, legacy_pem FROM card_keys "
                    "WHERE company_id = ? AND retired = 0 ORDER BY id DESC LIMIT 1",
                    (self.company_id,),
                ).fetchone()
                if only_if_none and current is not None:
                    conn.execute("COMMIT")
                    return self._stored(current)
                conn.execute(
                    "INSERT INTO card_keys (kid, company_id, spki, wrapped, created_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (
                        stored.kid,
                        self.company_id,
                        stored.spki_der,
                        stored.wrapped,
                        datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    ),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        finally:
            conn.close()
        return stored

    def legacy(self):
        rows = self._query(
            "SELECT kid, spki, wrapped, legacy_pem FROM card_keys "
            "WHERE company_id = ? AND wrapped IS NULL AND legacy_pem IS NOT NULL ORDER BY id",
            (self.company_id,),
        )
        return [self._stored(row) for row in rows]

    def protect(self, kid, wrapped):
        conn = _connect(self.db_path)
        try:
            conn.execute(
                "UPDATE card_keys SET wrapped = ?, legacy_pem = NULL, retired = 1 "
                "WHERE kid = ? AND company_id = ?",
                (wrapped, kid, self.company_id),
            )
        finally:
            conn.close()

    def scrub(self) -> None:
        """Moves the WAL into the main file and empties it, so the pages that held an
        unprotected key are overwritten (they were zeroed by secure_delete)."""
        conn = _connect(self.db_path)
        try:
            busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        finally:
            conn.close()
        if busy:
            _logger.warning("card keys: the WAL could not be emptied yet (busy)")

    def kids(self) -> list[str]:
        rows = self._query(
            "SELECT kid FROM card_keys WHERE company_id = ? ORDER BY id", (self.company_id,)
        )
        return [r[0] for r in rows]


class SqliteKeyStore(ProtectedKeyStore):
    """The sandbox's KeyStore. `kek`: the KEK, or the CardKeyUnavailable saying why there is
    none (then no card key is handed out or opened)."""

    def __init__(
        self,
        db_path,
        *,
        kek: KeyEncryptionKey | CardKeyUnavailable | None = None,
        company_id=1,
        bits=KEY_BITS,
    ):
        migrate(db_path)
        # Only an older sandbox's keys were ever PEM (encrypted when this was set).
        passphrase = os.environ.get("SANDBOX_CARD_KEY_PASSPHRASE")
        super().__init__(
            SqliteKeyRows(db_path, company_id),
            kek if kek is not None else CardKeyUnavailable("no_kek"),
            bits=bits,
            legacy_loader=lambda pem: private_from_pem(
                pem, passphrase.encode() if passphrase else None
            ),
        )
        self.db_path = str(db_path)
        if self.kek_problem() is None:
            self.protect_legacy()
        elif self.rows.legacy():
            _logger.warning(
                "card keys: %d key(s) are still stored unprotected and will not be used until "
                "a key-encryption key is configured (--card-kek-file)",
                len(self.rows.legacy()),
            )

    def protect_legacy(self) -> int:
        done = super().protect_legacy()
        if done:
            self.rows.scrub()
            _logger.warning("card keys: %d unprotected key(s) wrapped by the KEK and retired", done)
        return done

    def kids(self) -> list[str]:
        return self.rows.kids()
