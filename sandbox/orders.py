"""Orders in the sandbox: the SQLite `OrderSink` and the `offline_sync_orders` RPC method.

Idempotency rests on the UNIQUE uuid: `INSERT ... ON CONFLICT(uuid) DO NOTHING` and the
rowcount tell "created" from "exists" in one statement, so two concurrent sends of the same
order can never both create it (no check-then-insert race).

A batch (`sync_batch` through `prepare` + `batch`) is ONE write transaction, committed durably
once before the RPC answers, with a SAVEPOINT per order: a bad order rolls back alone. Every
order's payment state (cards: ledger outcome, process first) is decided in `prepare`, before
that transaction opens, so no SQLite write lock is held across a call to Stripe.
"""

from __future__ import annotations

import json
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone

from pos_offline_sync.core import order_identity
from pos_offline_sync.core.csv_schema import import_in_chunks
from pos_offline_sync.core.order_schema import (
    MAX_ID,
    OrderValidationError,
    check_line_total,
    no_card_reason,
    payments_cover,
    payments_without_card,
    untaxed_line_total,
)
from pos_offline_sync.core.sync_service import StoredOrder, sync_batch

from . import hooks, sessions
from .db import savepoint, write_transaction
from .rpc import RpcError, rpc_method

_logger = logging.getLogger(__name__)

MAX_BATCH = 500
_EXISTS = object()  # prepare() found the order already stored


@dataclass
class PaymentState:
    """What the card-outcome step decided for one order, before it is written."""

    state: str  # "paid" | "draft"
    payments: list[dict]
    note: str = ""
    card_failed: bool = False
    transaction_ids: dict = field(default_factory=dict)  # payment uuid -> Stripe id


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _without_envelopes(order: dict) -> dict:
    """The order as stored: card envelopes are never kept at rest once the order is synced."""
    copy = dict(order)
    copy["payments"] = [
        {**p, "card": {k: v for k, v in p["card"].items() if k != "envelope"}}
        if p.get("card")
        else p
        for p in order["payments"]
    ]
    return copy


class SqliteOrderSink:
    """Stores validated plain orders (CONTRACTS §1) into the sandbox database."""

    rounding = 0.01  # the sandbox sells in USD only

    def __init__(self, ctx, conn, config_id: int, *, origin: str = "sync"):
        self.ctx = ctx
        self.conn = conn
        self.config_id = config_id
        self.origin = origin
        self._prepared: dict = {}  # uuid -> PaymentState (or _EXISTS), between prepare and store
        self._in_batch = False
        self._grouped = False  # inside group(): store() opens no savepoint of its own
        self._products = {r["id"] for r in conn.execute("SELECT id FROM products")}
        self._methods = {r["id"] for r in conn.execute("SELECT id FROM payment_methods")}
        self._card_methods = {
            r["id"]: r["name"]
            for r in conn.execute("SELECT id, name FROM payment_methods WHERE offline_card = 1")
        }

    # -- protocol (BatchOrderSink, see pos_offline_sync/core/sync_service.py) ----------------
    def prepare(self, order: dict) -> None:
        """Host checks and the payment state, before any write transaction is open."""
        uuid = order["uuid"]
        if uuid in self._prepared:
            return  # the same uuid twice in a batch: the second store() answers "exists"
        if self._existing(self._stored_uuid(order)) is not None:
            # A fast path only: the UNIQUE insert is what guarantees "once".
            self._prepared[uuid] = _EXISTS
            return
        self._check_references(order)
        # Card processing may call Stripe: decided here, with no SQLite lock held.
        self._prepared[uuid] = self._payment_state(order)

    @contextmanager
    def batch(self):
        """One write transaction for the batch's store() calls, committed once (durably:
        synchronous FULL) on leaving; the RPC answers only after that."""
        self._in_batch = True
        try:
            with write_transaction(self.conn):
                yield self
        finally:
            self._in_batch = False
            self._prepared.clear()

    @contextmanager
    def group(self):
        """One savepoint around several store() calls of a batch (core sync_batch's groups):
        left by an exception, it undoes them all and the core stores them again one by one."""
        if not self._in_batch:
            raise RuntimeError("group() is for the store() calls of a batch")
        with savepoint(self.conn, "order_group"):
            self._grouped = True
            try:
                yield
            finally:
                self._grouped = False

    def store(self, order: dict) -> StoredOrder:
        uuid = order["uuid"]
        delay = getattr(self.ctx, "test_order_delay_s", 0)
        if delay:
            time.sleep(delay)  # the test hook of a slow server (SandboxContext)
        if self._in_batch:
            if uuid not in self._prepared:
                # Processing a card here would hold the write lock across a network call.
                raise RuntimeError("store() inside a batch needs prepare() first")
            pay = self._prepared[uuid]  # kept: the uuid may come twice in a batch
            if pay is _EXISTS:
                existing = self._existing(self._stored_uuid(order))
                if existing is None:  # orders are never deleted: a bug, not bad input
                    raise RuntimeError("an order seen stored is gone")
                return existing
            if self._grouped:
                return self._insert(order, pay)
            with savepoint(self.conn):
                return self._insert(order, pay)
        existing = self._existing(self._stored_uuid(order))
        if existing is not None:
            return existing
        self._check_references(order)
        pay = self._payment_state(order)
        with write_transaction(self.conn):
            return self._insert(order, pay)

    def _insert(self, order: dict, pay: PaymentState) -> StoredOrder:
        """INSERT ... ON CONFLICT DO NOTHING and its children, in the caller's transaction."""
        reference = order.get("reference") or order["uuid"]
        stored_uuid = self._stored_uuid(order)
        if self._existing(stored_uuid) is not None:
            # Stored before (another request, or the same uuid earlier in this batch): no
            # session chosen for it, so no rescue session made for nothing.
            return self._existing(stored_uuid)
        # Its session, or the open one, or the rescue one (core/rescue_session.py), chosen in
        # this write transaction: two batches at once make one rescue session.
        session = sessions.landing(self.conn, self.config_id, order.get("session_id"))
        cur = self.conn.execute(
            """INSERT INTO orders (uuid, config_id, session_id, reference, created_at, cashier,
                   customer, currency, amount_total, amount_paid, state, is_return, note,
                   card_failed, origin, payload, synced_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (uuid) DO NOTHING""",
            (
                stored_uuid,
                self.config_id,
                session["id"],
                reference,
                order["created_at"],
                (order.get("cashier") or {}).get("name"),
                (order.get("customer") or {}).get("name"),
                order.get("currency"),
                order["amount_total"],
                sum(p["amount"] for p in pay.payments),
                pay.state,
                int(order["is_return"]),
                pay.note,
                int(pay.card_failed),
                self.origin,
                json.dumps(_without_envelopes(order)),
                _now(),
            ),
        )
        if cur.rowcount == 0:
            # Stored before (another request, or the same uuid earlier in this batch).
            return self._existing(stored_uuid)
        self._insert_children(cur.lastrowid, order, pay)
        return StoredOrder(
            "created",
            reference,
            pay.state == "paid",
            rescue_session=session["name"] if session["rescue"] else None,
        )

    # -- the card-outcome step (extended by sandbox/cards.py) ---------------------------------
    def _payment_state(self, order: dict) -> PaymentState:
        """Paid iff the payments cover the total and none is an offline-card payment without a
        card. The cards module overrides this to take card outcomes from its ledger (never
        from the browser's claim)."""
        payments, notes = self._without_cardless_payments(order)
        paid = sum(p["amount"] for p in payments)
        covered = payments_cover(order["amount_total"], paid, self.rounding)
        return PaymentState(
            "paid" if covered and not notes else "draft",
            payments,
            note="\n".join(notes),
            card_failed=bool(notes),
        )

    def _without_cardless_payments(self, order: dict) -> tuple[list[dict], list[str]]:
        """The payments that may pay the order, and a note for each dropped one: a payment on
        an offline-card method with no card was never charged (numbered case 5: a CSV row on
        that method with empty card columns was stored Paid)."""
        missing = payments_without_card(order, self._card_methods)
        dropped = {id(payment) for _, payment in missing}
        notes = [
            no_card_reason(
                p, order.get("currency"), self.rounding, self._card_methods[p["payment_method_id"]]
            )
            for _, p in missing
        ]
        return [p for p in order["payments"] if id(p) not in dropped], notes

    # -- helpers ------------------------------------------------------------------------------
    def _stored_uuid(self, order: dict) -> str:
        """The uuid the order is stored under: its own, unless another sale is stored under
        it (core/order_identity.py). The card ledger keeps the order's own uuid."""
        row = self.conn.execute(
            "SELECT payload FROM orders WHERE uuid = ?", (order["uuid"],)
        ).fetchone()
        if row is None:
            return order["uuid"]
        sent = order_identity.identity_of(order)
        stored = order_identity.identity_of(json.loads(row["payload"]))
        if order_identity.same_sale(stored, sent, self.rounding):
            return order["uuid"]
        return order_identity.reused_uuid(order["uuid"], sent)

    def _existing(self, uuid: str) -> StoredOrder | None:
        row = self.conn.execute(
            """SELECT o.reference, o.state, s.name AS session_name, s.rescue
               FROM orders o LEFT JOIN pos_session s ON s.id = o.session_id
               WHERE o.uuid = ?""",
            (uuid,),
        ).fetchone()
        if row is None:
            return None
        rescue = row["session_name"] if row["rescue"] else None
        return StoredOrder("exists", row["reference"], row["state"] == "paid", rescue)

    def _check_references(self, order: dict) -> None:
        for index, line in enumerate(order["lines"], start=1):
            if line["product_id"] not in self._products:
                raise OrderValidationError(f"line {index}: unknown product {line['product_id']}")
            # No taxes in the sandbox: a line is its quantity x unit price less discount.
            check_line_total(line, index, untaxed_line_total(line), self.rounding)
        for index, payment in enumerate(order["payments"], start=1):
            if payment["payment_method_id"] not in self._methods:
                raise OrderValidationError(
                    f"payment {index}: unknown payment method {payment['payment_method_id']}"
                )

    def _insert_children(self, order_id: int, order: dict, pay: PaymentState) -> None:
        self.conn.executemany(
            """INSERT INTO order_lines (order_id, product_id, product_name, qty, price_unit,
                   discount, price_subtotal_incl) VALUES (?, ?, ?, ?, ?, ?, ?)""",
            [
                (
                    order_id,
                    line["product_id"],
                    line.get("product_name") or f"Product {line['product_id']}",
                    line["qty"],
                    line["price_unit"],
                    line["discount"],
                    line["price_subtotal_incl"],
                )
                for line in order["lines"]
            ],
        )
        rows = []
        for p in pay.payments:
            card = p.get("card") or {}
            rows.append(
                (
                    order_id,
                    p.get("uuid"),
                    p["payment_method_id"],
                    p.get("payment_method_name") or f"Method {p['payment_method_id']}",
                    p["amount"],
                    card.get("brand"),
                    card.get("last4"),
                    card.get("status"),
                    pay.transaction_ids.get(p.get("uuid")),
                )
            )
        self.conn.executemany(
            """INSERT INTO order_payments (order_id, uuid, payment_method_id, payment_method_name,
                   amount, card_brand, card_last4, card_status, transaction_id)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            rows,
        )


# The sink class the RPC and the CSV import use; sandbox/cards.py may set a subclass here.
SINK_CLASS = SqliteOrderSink


def make_sink(ctx, conn, config_id: int, *, origin: str = "sync"):
    return SINK_CLASS(ctx, conn, config_id, origin=origin)


def check_config(conn, config_id) -> int:
    """The register must exist: anything else is a refused caller (403)."""
    if isinstance(config_id, bool) or not isinstance(config_id, int):
        return config_id  # sync_batch reports the malformed payload with a 400
    if config_id <= 0:
        return config_id  # same: not a record id at all
    if config_id > MAX_ID:
        return config_id  # sync_batch answers 400: not a record id (and past SQLite's range)
    if conn.execute("SELECT 1 FROM pos_config WHERE id = ?", (config_id,)).fetchone() is None:
        raise RpcError(403, "forbidden", "You have no access to this Point of Sale.")
    return config_id


@rpc_method("offline_sync_orders")
def offline_sync_orders(ctx, payload):
    conn = ctx.connect()
    try:
        config_id = payload.get("config_id") if isinstance(payload, dict) else None
        check_config(conn, config_id)
        sink = make_sink(ctx, conn, config_id if isinstance(config_id, int) else 0)
        answer = sync_batch(
            payload, sink, max_batch=MAX_BATCH, time_budget_s=ctx.sync_time_budget_s
        )
    finally:
        conn.close()
    for hook in hooks.SYNC_DONE:
        try:
            hook(ctx, payload, answer)
        except Exception:  # noqa: BLE001 - bookkeeping: the orders are stored, answer them
            _logger.exception("after-sync hook %s failed", getattr(hook, "__name__", hook))
    return answer


def import_orders(ctx, orders: list[dict], config_id: int, *, on_chunk=None) -> list[dict]:
    """The CSV import path: the same sink and core as the register's sync, in chunks that each
    commit (csv_schema.import_in_chunks): a crash keeps the chunks before it, and importing
    again stores the rest. `on_chunk(done, total)` runs after each commit."""
    conn = ctx.connect()
    try:
        sink = make_sink(ctx, conn, config_id, origin="csv")

        def store_chunk(payload):
            # The register's budget too: a chunk's deferred orders go first in the next one.
            budget = ctx.sync_time_budget_s
            return sync_batch(payload, sink, max_batch=MAX_BATCH, time_budget_s=budget)["results"]

        return import_in_chunks(orders, config_id, store_chunk, on_chunk=on_chunk)
    finally:
        conn.close()


def list_orders(conn, limit: int = 500) -> list:
    return conn.execute(
        "SELECT * FROM orders ORDER BY synced_at DESC, id DESC LIMIT ?", (limit,)
    ).fetchall()


def get_order(conn, uuid: str):
    order = conn.execute("SELECT * FROM orders WHERE uuid = ?", (uuid,)).fetchone()
    if order is None:
        return None, [], []
    lines = conn.execute(
        "SELECT * FROM order_lines WHERE order_id = ? ORDER BY id", (order["id"],)
    ).fetchall()
    payments = conn.execute(
        "SELECT * FROM order_payments WHERE order_id = ? ORDER BY id", (order["id"],)
    ).fetchall()
    return order, lines, payments
