"""The sandbox's SQLite database: schema, seed data and connections.

One connection per request (SQLite connections are cheap and must not cross threads), in
autocommit mode so every write transaction is an explicit, short `BEGIN IMMEDIATE ... COMMIT`.
WAL lets the back-office pages read while the register writes; `synchronous = FULL` makes each
COMMIT durable (synced to disk) before it returns, which the sync answer relies on. A batch of
orders is one such transaction with a SAVEPOINT per order (see `savepoint`).
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS pos_config (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    allow_offline_mode INTEGER NOT NULL DEFAULT 0 CHECK (allow_offline_mode IN (0, 1)),
    allow_offline_auto_detect INTEGER NOT NULL DEFAULT 0
        CHECK (allow_offline_auto_detect IN (0, 1)),
    offline_auto_sync INTEGER NOT NULL DEFAULT 0 CHECK (offline_auto_sync IN (0, 1)),
    currency TEXT NOT NULL DEFAULT 'USD'
);
CREATE TABLE IF NOT EXISTS products (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    price REAL NOT NULL,
    active INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS payment_methods (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    is_cash INTEGER NOT NULL DEFAULT 0,
    offline_card INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS cashiers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL
);
-- A register's sessions (sandbox/sessions.py): an order whose session was closed lands in
-- the open one, or in the register's rescue session (issue 9).
CREATE TABLE IF NOT EXISTS pos_session (
    id INTEGER PRIMARY KEY,
    config_id INTEGER NOT NULL REFERENCES pos_config (id),
    name TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('opened', 'closed')),
    rescue INTEGER NOT NULL DEFAULT 0 CHECK (rescue IN (0, 1)),
    opened_at TEXT NOT NULL,
    closed_at TEXT
);
-- One open session and one open rescue session per register at a time.
CREATE UNIQUE INDEX IF NOT EXISTS pos_session_one_open
    ON pos_session (config_id, rescue) WHERE state = 'opened';
-- The uuid is the order's identity: UNIQUE makes every insert path idempotent by itself.
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY,
    uuid TEXT UNIQUE NOT NULL,
    config_id INTEGER NOT NULL REFERENCES pos_config (id),
    session_id INTEGER REFERENCES pos_session (id),
    reference TEXT NOT NULL,
    created_at TEXT NOT NULL,
    cashier TEXT,
    customer TEXT,
    currency TEXT,
    amount_total REAL NOT NULL,
    amount_paid REAL NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('paid', 'draft')),
    is_return INTEGER NOT NULL DEFAULT 0,
    note TEXT NOT NULL DEFAULT '',
    card_failed INTEGER NOT NULL DEFAULT 0,
    origin TEXT NOT NULL DEFAULT 'sync',
    payload TEXT NOT NULL,
    synced_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_synced_at ON orders (synced_at);
CREATE TABLE IF NOT EXISTS order_lines (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_id INTEGER NOT NULL REFERENCES products (id),
    product_name TEXT NOT NULL,
    qty REAL NOT NULL,
    price_unit REAL NOT NULL,
    discount REAL NOT NULL DEFAULT 0,
    price_subtotal_incl REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS order_lines_order ON order_lines (order_id);
CREATE TABLE IF NOT EXISTS order_payments (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    uuid TEXT,
    payment_method_id INTEGER NOT NULL REFERENCES payment_methods (id),
    payment_method_name TEXT NOT NULL,
    amount REAL NOT NULL,
    card_brand TEXT,
    card_last4 TEXT,
    card_status TEXT,
    transaction_id TEXT
);
CREATE INDEX IF NOT EXISTS order_payments_order ON order_payments (order_id);
"""

SEED_CONFIG = (1, "Shop", 0, 0, "USD")
SEED_PRODUCTS = [
    (1, "Desk Pad", 3.5),
    (2, "Whiteboard Pen", 1.2),
    (3, "Desk Organizer", 5.1),
    (4, "Letter Tray", 4.8),
    (5, "Office Chair", 120.0),
    (6, "Monitor Stand", 25.0),
    (7, "LED Lamp", 19.9),
    (8, "Magnetic Board", 13.75),
]
SEED_PAYMENT_METHODS = [(1, "Cash", 1, 0), (2, "Card (offline)", 0, 1)]
SEED_CASHIERS = [(1, "Mitchell Admin"), (2, "Marc Demo")]


def connect(db_path) -> sqlite3.Connection:
    """A new connection in autocommit mode: callers open their own short transactions."""
    conn = sqlite3.connect(str(db_path), timeout=30, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 30000")
    # The browser deletes an order once we answer: the COMMIT before that must be on disk.
    conn.execute("PRAGMA synchronous = FULL")
    return conn


@contextmanager
def write_transaction(conn: sqlite3.Connection):
    """BEGIN IMMEDIATE (takes the write lock at once, so no upgrade deadlock) ... COMMIT."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        # Also when COMMIT itself failed (disk full, I/O error): nothing stays half-open.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


@contextmanager
def savepoint(conn: sqlite3.Connection, name: str = "one_order"):
    """A nested unit inside an open transaction: on error only its own writes are undone
    (ROLLBACK TO), the transaction and the other units' writes stay."""
    conn.execute(f"SAVEPOINT {name}")
    try:
        yield conn
    except BaseException:
        conn.execute(f"ROLLBACK TO {name}")
        conn.execute(f"RELEASE {name}")
        raise
    conn.execute(f"RELEASE {name}")


def _add_orders_session_id(conn) -> None:
    have = {row[1] for row in conn.execute("PRAGMA table_info(orders)")}
    if have and "session_id" not in have:
        try:
            conn.execute(
                "ALTER TABLE orders ADD COLUMN session_id INTEGER REFERENCES pos_session (id)"
            )
        except sqlite3.OperationalError as exc:  # another process added it first
            if "duplicate column" not in str(exc):
                raise


def _add_auto_sync_column(conn) -> None:
    """A database made before auto-sync (issue 11) gets its column, off."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(pos_config)")}
    if "offline_auto_sync" not in have:
        try:
            conn.execute(
                "ALTER TABLE pos_config ADD COLUMN offline_auto_sync INTEGER NOT NULL DEFAULT 0 "
                "CHECK (offline_auto_sync IN (0, 1))"
            )
        except sqlite3.OperationalError as exc:  # another process added it first
            if "duplicate column" not in str(exc):
                raise


def init_db(db_path) -> None:
    """Creates the schema and seeds a fresh database (idempotent)."""
    path = Path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = connect(path)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        _add_orders_session_id(conn)  # a database made before sessions
        conn.executescript(SCHEMA)
        _add_auto_sync_column(conn)
        with write_transaction(conn):
            conn.execute(
                "INSERT OR IGNORE INTO pos_config "
                "(id, name, allow_offline_mode, allow_offline_auto_detect, currency) "
                "VALUES (?, ?, ?, ?, ?)",
                SEED_CONFIG,
            )
            conn.executemany(
                "INSERT OR IGNORE INTO products (id, name, price) VALUES (?, ?, ?)",
                SEED_PRODUCTS,
            )
            conn.executemany(
                "INSERT OR IGNORE INTO payment_methods VALUES (?, ?, ?, ?)", SEED_PAYMENT_METHODS
            )
            conn.executemany("INSERT OR IGNORE INTO cashiers VALUES (?, ?)", SEED_CASHIERS)
            # A first open session for a register that never had one.
            conn.execute(
                "INSERT INTO pos_session (config_id, name, state, rescue, opened_at) "
                "SELECT id, name || '/00001', 'opened', 0, strftime('%Y-%m-%dT%H:%M:%S+00:00') "
                "FROM pos_config WHERE id NOT IN (SELECT config_id FROM pos_session)"
            )
    finally:
        conn.close()
