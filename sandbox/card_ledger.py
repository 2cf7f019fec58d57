"""The sandbox's card-attempt ledger over SQLite (the `AttemptLedger` of core/card_charge.py).

Every state change is its own short `BEGIN IMMEDIATE` transaction (SQLite's one write lock)
committed before the call returns; no transaction is open while Stripe is called. The order's
lease is a committed row of `card_order_leases`: `owner` (host, pid, process start, claim id)
and `lease_until`. It is taken over when its owner process on this host is gone (a crash) or
when it has expired: a lease is for liveness; a caller that lost its lease can no longer record
a PaymentIntent (the write is fenced by the lease, in the same transaction), so a takeover can
only confirm or re-read the PaymentIntent recorded before.
"""

from __future__ import annotations

import copy
import json
import os
import socket
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone

from pos_offline_sync.core.card_charge import (
    FAILED,
    PROCESSING,
    RETRYABLE,
    SUCCEEDED,
    Attempt,
    ChargeRequest,
    Claim,
    Lease,
)

# Writers of one database file in this process queue on a Python lock: SQLite's own busy
# handler sleeps in growing steps (up to 100 ms) and would stall concurrent charges.
_WRITE_LOCKS: dict = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def _write_lock(path):
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(os.path.realpath(path), threading.Lock())


# Longer than the Stripe calls one charge makes (3 x the client's 30 s timeout), so a live call
# normally ends before its lease; past it, the fence keeps a takeover safe.
LEASE_SECONDS = 120

SCHEMA = """
CREATE TABLE IF NOT EXISTS card_attempts (
    id INTEGER PRIMARY KEY,
    order_uuid TEXT NOT NULL,
    payment_uuid TEXT NOT NULL,
    attempt_no INTEGER NOT NULL DEFAULT 1,
    status TEXT NOT NULL
        CHECK (status IN ('processing', 'retryable', 'succeeded', 'failed')),
    amount_minor INTEGER NOT NULL,
    currency TEXT NOT NULL,
    reference TEXT NOT NULL DEFAULT '',
    config_id INTEGER,
    origin TEXT NOT NULL DEFAULT 'register',
    envelope TEXT,
    payment_intent_id TEXT,
    decline_code TEXT,
    message TEXT,
    brand TEXT,
    last4 TEXT,
    legacy_unknown INTEGER NOT NULL DEFAULT 0,
    owner TEXT,
    lease_until REAL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (order_uuid, payment_uuid)
);
CREATE INDEX IF NOT EXISTS card_attempts_order ON card_attempts (order_uuid);
CREATE TABLE IF NOT EXISTS card_order_leases (
    order_uuid TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    lease_until REAL NOT NULL
);
"""

_COLUMNS = (
    "id, order_uuid, payment_uuid, attempt_no, status, amount_minor, currency, reference, "
    "envelope, payment_intent_id, decline_code, message, brand, last4, owner, lease_until, "
    "origin, created_at, updated_at, legacy_unknown"
)


def _now_iso():
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _process_start(pid):
    """Start time of a process (Linux /proc), so a reused pid is not taken for the owner."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return "?"


_HOST = socket.gethostname()
_PID = os.getpid()


def _owner_token():
    pid = os.getpid()  # after a fork the child is another owner
    return f"{_HOST}|{pid}|{_process_start(pid)}|{uuid.uuid4().hex}"


def owner_alive(owner: str | None) -> bool | None:
    """True/False when the owner runs on this host; None when that cannot be known."""
    try:
        host, pid, start, _claim = (owner or "").split("|")
        pid = int(pid)
    except ValueError:
        return None
    if host != _HOST:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return start == "?" or _process_start(pid) == start


def _migrate(conn) -> None:
    """A ledger of the earlier protocol (no `legacy_unknown` column): its attempts without an
    outcome may have confirmed a PaymentIntent whose id was never recorded; they are marked so
    that Stripe is searched for it before anything is created. Idempotent."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(card_attempts)")}
    if not columns or "legacy_unknown" in columns:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(card_attempts)")}
        if "legacy_unknown" not in columns:
            conn.execute(
                "ALTER TABLE card_attempts ADD COLUMN legacy_unknown INTEGER NOT NULL DEFAULT 0"
            )
            conn.execute(
                "UPDATE card_attempts SET legacy_unknown = 1 WHERE payment_intent_id IS NULL "
                "AND status IN ('processing', 'retryable')"
            )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class SqliteAttemptLedger:
    def __init__(self, db_path, *, lease_seconds: float = LEASE_SECONDS, origin="register"):
        self.db_path = str(db_path)
        self.lease_seconds = lease_seconds
        self.origin = origin
        self._local = threading.local()  # one connection per thread, reused
        self._lock = _write_lock(self.db_path)
        conn = self._conn()
        conn.execute("PRAGMA journal_mode=WAL")
        with self._lock:
            _migrate(conn)
            conn.executescript(SCHEMA)

    def with_origin(self, origin):
        """The same ledger (and connections), marking the rows it creates ("backoffice")."""
        other = copy.copy(self)
        other.origin = origin
        return other

    def _conn(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
        return conn

    @contextmanager
    def _tx(self, durable=False):
        """One short BEGIN IMMEDIATE ... COMMIT. Only the claim must survive a power cut (it
        precedes the Stripe call): FULL syncs its commit to disk. A later write lost to a power
        cut does no harm (the next claim finds the payment at Stripe), and a process crash
        loses no committed write in WAL mode."""
        conn = self._conn()
        conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        with self._lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @staticmethod
    def _attempt(row) -> Attempt:
        return Attempt(
            id=row["id"],
            order_uuid=row["order_uuid"],
            payment_uuid=row["payment_uuid"],
            attempt_no=row["attempt_no"],
            status=row["status"],
            amount_minor=row["amount_minor"],
            currency=row["currency"],
            reference=row["reference"],
            envelope=json.loads(row["envelope"]) if row["envelope"] else None,
            payment_intent_id=row["payment_intent_id"],
            decline_code=row["decline_code"],
            message=row["message"],
            brand=row["brand"],
            last4=row["last4"],
            legacy_unknown=bool(row["legacy_unknown"]),
            created_at=datetime.fromisoformat(row["created_at"]).timestamp(),
        )

    # -- the order's lease --------------------------------------------------------------------
    def lock_order(self, order_uuid) -> Lease | None:
        owner = _owner_token()
        now = time.time()
        with self._tx(durable=True) as conn:
            row = conn.execute(
                "SELECT owner, lease_until FROM card_order_leases WHERE order_uuid = ?",
                (order_uuid,),
            ).fetchone()
            if row is not None and not self._abandoned(row, now):
                return None
            conn.execute(
                "INSERT INTO card_order_leases (order_uuid, owner, lease_until) VALUES (?, ?, ?) "
                "ON CONFLICT (order_uuid) DO UPDATE SET owner = excluded.owner, "
                "lease_until = excluded.lease_until",
                (order_uuid, owner, now + self.lease_seconds),
            )
        return Lease(order_uuid, owner)

    def unlock_order(self, lease: Lease) -> None:
        with self._tx() as conn:
            conn.execute(
                "DELETE FROM card_order_leases WHERE order_uuid = ? AND owner = ?",
                (lease.order_uuid, lease.owner),
            )

    @staticmethod
    def _abandoned(row, now) -> bool:
        if owner_alive(row["owner"]) is False:
            return True  # its process is gone: no need to wait for the lease
        return row["lease_until"] < now

    @staticmethod
    def _holds(conn, lease) -> bool:
        return (
            conn.execute(
                "SELECT 1 FROM card_order_leases WHERE order_uuid = ? AND owner = ?",
                (lease.order_uuid, lease.owner),
            ).fetchone()
            is not None
        )

    # -- attempts -----------------------------------------------------------------------------
    def claim(self, request: ChargeRequest, lease: Lease) -> Claim:
        with self._tx(durable=True) as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM card_attempts WHERE order_uuid = ? AND payment_uuid = ?",  # noqa: S608
                (request.order_uuid, request.payment_uuid),
            ).fetchone()
            if row is None:
                cur = conn.execute(
                    "INSERT INTO card_attempts (order_uuid, payment_uuid, attempt_no, status, "
                    "amount_minor, currency, reference, config_id, origin, envelope, owner, "
                    "created_at, updated_at) "
                    "VALUES (?, ?, 1, 'processing', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        request.order_uuid,
                        request.payment_uuid,
                        request.amount_minor,
                        request.currency,
                        request.reference,
                        request.config_id,
                        self.origin,
                        json.dumps(request.envelope) if request.envelope else None,
                        lease.owner,
                        _now_iso(),
                        _now_iso(),
                    ),
                )
                state, row_id = "new", cur.lastrowid
            elif row["status"] in (SUCCEEDED, FAILED):
                return Claim("done", self._attempt(row))
            else:
                conn.execute(
                    "UPDATE card_attempts SET status = 'processing', attempt_no = attempt_no + 1, "
                    "owner = ?, updated_at = ? WHERE id = ?",
                    (lease.owner, _now_iso(), row["id"]),
                )
                state, row_id = "resume", row["id"]
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM card_attempts WHERE id = ?",  # noqa: S608
                (row_id,),
            ).fetchone()
        return Claim(state, self._attempt(row))

    def record_intent(self, attempt, lease, payment_intent_id, brand=None, last4=None):
        with self._tx(durable=True) as conn:
            if not self._holds(conn, lease):
                return None
            conn.execute(
                "UPDATE card_attempts SET payment_intent_id = ?, envelope = NULL, "
                "legacy_unknown = 0, brand = COALESCE(brand, ?), last4 = COALESCE(last4, ?), "
                "updated_at = ? WHERE id = ? AND payment_intent_id IS NULL",
                (payment_intent_id, brand, last4, _now_iso(), attempt.id),
            )
            row = conn.execute(
                "SELECT payment_intent_id FROM card_attempts WHERE id = ?", (attempt.id,)
            ).fetchone()
        return row["payment_intent_id"]

    def clear_legacy(self, attempt, lease) -> bool:
        with self._tx(durable=True) as conn:
            if not self._holds(conn, lease):
                return False
            conn.execute(
                "UPDATE card_attempts SET legacy_unknown = 0, updated_at = ? WHERE id = ?",
                (_now_iso(), attempt.id),
            )
        return True

    def settle(self, attempt: Attempt, outcome: dict) -> None:
        status = outcome["status"]
        if status not in (SUCCEEDED, FAILED):
            raise ValueError(f"not a final card outcome: {status}")
        with self._tx() as conn:
            conn.execute(
                "UPDATE card_attempts SET status = ?, "
                "payment_intent_id = COALESCE(payment_intent_id, ?), decline_code = ?, "
                "message = ?, brand = COALESCE(?, brand), last4 = COALESCE(?, last4), "
                "envelope = NULL, owner = NULL, lease_until = NULL, updated_at = ? "
                "WHERE id = ? AND status NOT IN ('succeeded', 'failed')",
                (
                    status,
                    outcome.get("payment_intent_id"),
                    outcome.get("decline_code"),
                    outcome.get("message"),
                    outcome.get("brand"),
                    outcome.get("last4"),
                    _now_iso(),
                    attempt.id,
                ),
            )

    def release(self, attempt: Attempt, message: str) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE card_attempts SET status = ?, message = ?, owner = NULL, "
                "lease_until = NULL, updated_at = ? WHERE id = ? AND status = ?",
                (RETRYABLE, message, _now_iso(), attempt.id, PROCESSING),
            )

    def order_attempts(self, order_uuid) -> list[Attempt]:
        rows = (
            self._conn()
            .execute(
                f"SELECT {_COLUMNS} FROM card_attempts WHERE order_uuid = ? ORDER BY id",  # noqa: S608
                (order_uuid,),
            )
            .fetchall()
        )
        return [self._attempt(r) for r in rows]

    def get(self, order_uuid, payment_uuid) -> Attempt | None:
        row = (
            self._conn()
            .execute(
                f"SELECT {_COLUMNS} FROM card_attempts WHERE order_uuid = ? AND payment_uuid = ?",  # noqa: S608
                (order_uuid, payment_uuid),
            )
            .fetchone()
        )
        return self._attempt(row) if row else None

    def for_order(self, order_uuid) -> list[dict]:
        """Every attempt of an order, oldest first, for the back office (no envelope)."""
        rows = (
            self._conn()
            .execute(
                f"SELECT {_COLUMNS} FROM card_attempts WHERE order_uuid = ? ORDER BY id",  # noqa: S608
                (order_uuid,),
            )
            .fetchall()
        )
        return [{k: r[k] for k in r.keys() if k not in ("envelope", "owner")} for r in rows]
