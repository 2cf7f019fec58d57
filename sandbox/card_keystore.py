"""The sandbox's card key store over SQLite (the `KeyStore` of core/card_keys.py).

One company in the sandbox, so one row per key; the newest is current and older ones stay
while envelopes may need them. Private keys are stored as PKCS#8 PEM, encrypted when the
sandbox is given a passphrase (`SANDBOX_CARD_KEY_PASSPHRASE`); they never leave the server.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from datetime import datetime, timezone

from pos_offline_sync.core.card_keys import (
    KEY_BITS,
    PublicKeyInfo,
    generate_private_key,
    private_from_pem,
    private_to_pem,
    public_info,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS card_keys (
    kid TEXT PRIMARY KEY,
    company_id INTEGER NOT NULL DEFAULT 1,
    private_pem BLOB NOT NULL,
    spki BLOB NOT NULL,
    created_at TEXT NOT NULL
);
"""


class SqliteKeyStore:
    def __init__(self, db_path, *, company_id=1, passphrase=None, bits=KEY_BITS):
        self.db_path = str(db_path)
        self.company_id = company_id
        env = os.environ.get("SANDBOX_CARD_KEY_PASSPHRASE")
        self.passphrase = passphrase or (env.encode() if env else None)
        self.bits = bits
        self._cache = {}  # kid -> loaded private key (loading checks the key: slow)
        self._lock = threading.Lock()
        with self._connect() as conn:
            conn.executescript(SCHEMA)

    def _connect(self):
        conn = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    def current_public(self) -> PublicKeyInfo:
        conn = self._connect()
        try:
            row = self._current(conn)
            if row is None:
                with self._lock:
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        row = self._current(conn)
                        if row is None:
                            row = self._insert(conn, generate_private_key(self.bits))
                        conn.execute("COMMIT")
                    except BaseException:
                        conn.execute("ROLLBACK")
                        raise
            return PublicKeyInfo(kid=row[0], spki_der=bytes(row[1]))
        finally:
            conn.close()

    def rotate(self) -> PublicKeyInfo:
        key = generate_private_key(self.bits)
        conn = self._connect()
        try:
            kid, spki = self._insert(conn, key)
            return PublicKeyInfo(kid=kid, spki_der=spki)
        finally:
            conn.close()

    def get_private(self, kid):
        key = self._cache.get(kid)
        if key is not None:
            return key
        conn = self._connect()
        try:
            row = conn.execute(
                "SELECT private_pem FROM card_keys WHERE kid = ? AND company_id = ?",
                (kid, self.company_id),
            ).fetchone()
        finally:
            conn.close()
        if row is None:
            return None
        key = private_from_pem(bytes(row[0]), self.passphrase)
        self._cache[kid] = key
        return key

    def kids(self) -> list[str]:
        conn = self._connect()
        try:
            rows = conn.execute(
                "SELECT kid FROM card_keys WHERE company_id = ? ORDER BY rowid",
                (self.company_id,),
            ).fetchall()
        finally:
            conn.close()
        return [r[0] for r in rows]

    def _current(self, conn):
        return conn.execute(
            "SELECT kid, spki FROM card_keys WHERE company_id = ? ORDER BY rowid DESC LIMIT 1",
            (self.company_id,),
        ).fetchone()

    def _insert(self, conn, key):
        info = public_info(key)
        conn.execute(
            "INSERT INTO card_keys (kid, company_id, private_pem, spki, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                info.kid,
                self.company_id,
                private_to_pem(key, self.passphrase),
                info.spki_der,
                datetime.now(timezone.utc).isoformat(timespec="seconds"),
            ),
        )
        self._cache[info.kid] = key
        return info.kid, info.spki_der
