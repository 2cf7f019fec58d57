"""Cards captured offline, in the sandbox: the same core as Odoo, over SQLite.

- RPC `offline_card_public_key` and `offline_process_card` (CONTRACTS.md §2) for the register;
- the sync sink's card-outcome step: outcomes come from the ledger, never from the browser;
  a card never processed is processed first (same ledger), a failed one leaves the order
  unpaid (draft) without that payment, with the decline text in its note and `card_failed`;
  a CSV import's card still `unprocessed` (no card data in a CSV, no attempt in the ledger) is
  handled like a failed one (CONTRACTS §5: imported as unpaid);
- POS settings: the three offline card risk limits (columns added to pos_config here);
- back office: every attempt of an order, and "Charge new card" on a failed unpaid order.

Access (sandbox roles, no login): RPC callers are POS users of an existing POS config (an
unknown config is refused with 403). "Charge new card" is a manager action: the back office
is the manager's, and a request carrying the cookie `sandbox_role` with any other value
(e.g. `cashier`) is refused with 403. The charge form also carries a per-order token the
page signs, so only a page the server rendered can charge.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sqlite3
import threading
import uuid as uuidlib
from decimal import Decimal

from markupsafe import Markup
from werkzeug.wrappers import Response

from pos_offline_sync.core import card_errors
from pos_offline_sync.core.card_charge import (
    SUCCEEDED,
    CardChargeService,
    CardRequestError,
    OrderStanding,
    from_minor_units,
    to_minor_units,
)
from pos_offline_sync.core.card_gateway import GatewayFailure
from pos_offline_sync.core.card_keys import CardKeyUnavailable, kek_or_problem, unavailable_answer
from pos_offline_sync.core.order_schema import OrderValidationError, payments_cover
from pos_offline_sync.core.risk_limits import FIELDS as RISK_FIELDS
from pos_offline_sync.core.risk_limits import RiskLimits, refusals_at_sync
from pos_offline_sync.core.stripe_gateway import StripeGateway
from pos_offline_sync.core.sync_service import PayloadError

from . import hooks, orders
from .card_keystore import SqliteKeyStore
from .card_ledger import SqliteAttemptLedger
from .db import write_transaction
from .rpc import RpcError, rpc_method

MANAGER_ONLY = "Only accounting or POS managers can charge a new card."
CARD_BEING_CHARGED = (
    "A card is being charged for this order elsewhere (the register or another window). This "
    "page shows the result once it is done."
)
EARLIER_CARD_CHARGED = (
    "A card taken earlier for this order was charged: the order is paid; the new card was not "
    "charged."
)
CSV_ORIGIN = "csv"  # the origin sandbox.orders.import_orders gives its sink
UNPROCESSED = "unprocessed"
CSV_UNPROCESSED_NOTE = (
    "Card payment not processed at the register (imported from CSV): take the payment again."
)
RISK_LABELS = {
    "offline_card_max_amount": "Maximum per offline card payment",
    "offline_card_max_total": "Maximum total of unprocessed offline card payments",
    "offline_card_max_age_hours": "Maximum age of an unprocessed offline card (hours)",
}


# -- runtime: one ledger, key store and gateway per database -------------------------------------
class _Runtime:
    def __init__(self, ctx, db_path, stripe_config):
        conn = ctx.connect()
        try:
            migrate(conn)
        finally:
            conn.close()
        self.ledger = SqliteAttemptLedger(db_path)
        # The card keys' KEK lives in its own file, never in the SQLite file.
        self.keys = SqliteKeyStore(db_path, kek=kek_or_problem(ctx.card_kek_file))
        self.secret = os.urandom(32)  # signs the back office's charge forms (per process)
        self.gateway = None
        self.config_problem = None
        stripe_config = stripe_config or {}
        try:
            self.gateway = StripeGateway(
                stripe_config.get("secret_key"), api_base=stripe_config.get("api_base")
            )
        except GatewayFailure as exc:
            self.config_problem = exc.message


_RUNTIME_LOCK = threading.Lock()


def runtime(ctx) -> _Runtime:
    """The app's card runtime (created on first use; migrates pos_config then)."""
    with _RUNTIME_LOCK:
        rt = ctx.extras.get("cards")
        if rt is None:
            rt = ctx.extras["cards"] = _Runtime(ctx, ctx.db_path, ctx.stripe)
        return rt


def migrate(conn) -> None:
    """The risk-limit columns on pos_config (guarded, idempotent)."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(pos_config)")}
    for column in RISK_FIELDS:
        if column not in have:
            try:
                conn.execute(f"ALTER TABLE pos_config ADD COLUMN {column} REAL NOT NULL DEFAULT 0")
            except sqlite3.OperationalError as exc:  # another process added it first
                if "duplicate column" not in str(exc):
                    raise


def _config(conn, config_id):
    if isinstance(config_id, bool) or not isinstance(config_id, int):
        raise PayloadError("config_id must be an integer")
    row = conn.execute("SELECT * FROM pos_config WHERE id = ?", (config_id,)).fetchone()
    if row is None:
        raise RpcError(403, "forbidden", "You have no access to this Point of Sale.")
    return row


def service(ctx, config_row, *, origin="register") -> CardChargeService:
    rt = runtime(ctx)
    # The limits are for cards taken offline; a manager's back-office charge is online.
    limits = RiskLimits.from_config({k: config_row[k] for k in RISK_FIELDS})
    return CardChargeService(
        ledger=rt.ledger.with_origin(origin),
        keys=rt.keys,
        gateway=rt.gateway,
        limits=limits if origin == "register" else None,
        config_problem=rt.config_problem or _kek_problem(rt),
        order_standing=lambda order_uuid: _order_standing(ctx, order_uuid),
    )


def _order_standing(ctx, order_uuid) -> OrderStanding | None:
    """What the back office holds of that order, committed (a connection of its own): here an
    order is stored paid only with every card charged, and a failed card's line is dropped,
    so `amount_paid` is money really taken."""
    conn = ctx.connect()
    try:
        row = conn.execute(
            "SELECT id, amount_total, amount_paid, state, currency FROM orders WHERE uuid = ?",
            (order_uuid,),
        ).fetchone()
        if row is None:
            return None
        recorded = frozenset(
            r[0]
            for r in conn.execute(
                "SELECT transaction_id FROM order_payments WHERE order_id = ? "
                "AND transaction_id IS NOT NULL",
                (row["id"],),
            )
        )
    finally:
        conn.close()
    currency = row["currency"] or "USD"
    total = to_minor_units(row["amount_total"], currency)
    paid = total if row["state"] == "paid" else to_minor_units(row["amount_paid"], currency)
    return OrderStanding(total_minor=total, paid_minor=paid, recorded_intents=recorded)


# -- card keys --------------------------------------------------------------------------------
NO_KEK_HINT = "Start the sandbox with --card-kek-file PATH (make demo makes one)."


def _key_message(exc: CardKeyUnavailable) -> str:
    text = exc.message[:1].upper() + exc.message[1:] + "."
    return f"{text} {NO_KEK_HINT}" if exc.code == "no_kek" else text


def _kek_problem(rt) -> str | None:
    """Why no card can be opened at all (no usable KEK): nothing is charged, nothing written."""
    problem = rt.keys.kek_problem()
    return _key_message(problem) if problem else None


def public_key_answer(rt) -> dict:
    """The current public key, or why cards cannot be taken (never a key whose private half
    the KEK does not protect)."""
    try:
        return rt.keys.current_public().as_rpc()
    except CardKeyUnavailable as exc:
        return unavailable_answer(exc.code, _key_message(exc))


# -- RPC ---------------------------------------------------------------------------------------
@rpc_method("offline_card_public_key")
def offline_card_public_key(ctx, payload):
    if not isinstance(payload, dict) or payload.get("v") != 1:
        raise PayloadError("unsupported payload version (expected v: 1)")
    rt = runtime(ctx)
    conn = ctx.connect()
    try:
        _config(conn, payload.get("config_id"))
    finally:
        conn.close()
    return public_key_answer(rt)


@rpc_method("offline_process_card")
def offline_process_card(ctx, payload):
    if not isinstance(payload, dict):
        raise PayloadError("payload must be a JSON object")
    runtime(ctx)
    conn = ctx.connect()
    try:
        config = _config(conn, payload.get("config_id"))
    finally:
        conn.close()
    try:
        return service(ctx, config).process(payload)
    except CardRequestError as exc:
        raise PayloadError(str(exc)) from None


# -- sync: the card-outcome step ---------------------------------------------------------------
def _ledger_outcome(charge, order, index, payment, currency):
    """(attempt, outcome) of a card payment in the ledger, either None when there is none;
    an order whose card line claims another amount than the one processed is refused."""
    attempt = charge.ledger.get(order["uuid"], payment["uuid"])
    if attempt and attempt.amount_minor != to_minor_units(payment["amount"], currency):
        raise OrderValidationError(
            f"payment {index}: the amount differs from the card payment processed"
        )
    return attempt, attempt.outcome() if attempt else None


def _card_note(payment, currency, outcome, what="failed") -> str:
    card = payment.get("card") or {}
    amount = f"{Decimal(str(payment['amount'])):.2f} {currency or ''}".strip()
    who = f"{(card.get('brand') or 'card').upper()} **** {card.get('last4') or '????'}"
    return f"Card payment of {amount} ({who}) {what}: {outcome['message']}"


class CardOrderSink(orders.SqliteOrderSink):
    """The order sink, with card outcomes taken from the ledger."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._risk_refusals: dict = {}  # (order uuid, payment uuid) -> why it is not charged

    def begin(self, orders_in: list[dict], now) -> None:
        """The POS's risk limits over the cards this call brings that are not processed yet
        (no attempt in the ledger, card still sealed), on the server's clock: those over a
        limit are not charged (core/risk_limits.py refusals_at_sync)."""
        config = _config(self.conn, self.config_id)
        limits = RiskLimits.from_config({k: config[k] for k in RISK_FIELDS})
        ledger = runtime(self.ctx).ledger

        def unprocessed(order, payment):
            return bool(payment["card"].get("envelope")) and (
                ledger.get(order["uuid"], payment["uuid"]) is None
            )

        self._risk_refusals = refusals_at_sync(limits, orders_in, unprocessed=unprocessed, now=now)

    def _payment_state(self, order: dict) -> orders.PaymentState:
        if not any(p.get("card") for p in order["payments"]):
            return super()._payment_state(order)
        config = _config(self.conn, self.config_id)
        charge = service(self.ctx, config)
        payments, notes = self._without_cardless_payments(order)
        kept, tx_ids, failed = [], {}, bool(notes)
        currency = order.get("currency") or "USD"
        for index, payment in enumerate(order["payments"], start=1):
            card = payment.get("card")
            if not card:
                if any(payment is p for p in payments):
                    kept.append(payment)
                continue
            attempt, outcome = _ledger_outcome(charge, order, index, payment, currency)
            refusal = self._risk_refusals.get((order["uuid"], payment["uuid"]))
            if outcome is None and attempt is None and refusal:
                # Over a risk limit: never sent to Stripe; the order waits for another payment.
                card.update(status="failed", message=refusal, decline_code="risk_limit")
                card.pop("envelope", None)
                notes.append(_card_note(payment, order.get("currency"), card, "not charged"))
                failed = True
                continue
            if outcome is None:
                if (
                    self.origin == CSV_ORIGIN
                    and attempt is None
                    and card.get("status") == UNPROCESSED
                ):
                    # A CSV carries no card data: this payment can never be charged from
                    # here, so the order comes in unpaid without it, for "Charge new card".
                    if CSV_UNPROCESSED_NOTE not in notes:
                        notes.append(CSV_UNPROCESSED_NOTE)
                    failed = True
                    card.pop("envelope", None)
                    continue
                if not card.get("envelope"):
                    raise OrderValidationError(
                        f"payment {index}: this card payment was never processed and its card "
                        "data is gone; take the payment again"
                    )
                try:
                    outcome = charge.process(_process_payload(order, payment))
                except CardRequestError as exc:
                    raise OrderValidationError(f"payment {index}: {exc}") from None
            status = outcome["status"]
            if status == "succeeded":
                card.update(
                    status="succeeded",
                    payment_intent_id=outcome["payment_intent_id"],
                    message=outcome.get("message"),
                    brand=outcome.get("brand") or card.get("brand"),
                    last4=outcome.get("last4") or card.get("last4"),
                )
                tx_ids[payment["uuid"]] = outcome["payment_intent_id"]
                kept.append(payment)
            elif status == "failed":
                card.update(
                    status="failed",
                    payment_intent_id=outcome.get("payment_intent_id"),
                    message=outcome["message"],
                    decline_code=outcome.get("decline_code"),
                )
                notes.append(_card_note(payment, order.get("currency"), outcome))
                failed = True
            else:
                # Unknown card state: the order stays in the browser, to be sent again.
                raise OrderValidationError(f"card payment not processed yet: {outcome['message']}")
            card.pop("envelope", None)
        paid = sum(p["amount"] for p in kept)
        covered = payments_cover(order["amount_total"], paid, self.rounding)
        return orders.PaymentState(
            "paid" if covered and not failed else "draft",
            kept,
            note="\n".join(notes),
            card_failed=failed,
            transaction_ids=tx_ids,
        )

    def prepare(self, order: dict) -> None:
        super().prepare(order)
        if self._prepared.get(order["uuid"]) is orders._EXISTS:
            self._pay_draft_with_cards(order)

    def _pay_draft_with_cards(self, order: dict) -> None:
        """Stored unpaid before its card was charged (a CSV import), the order is sent again
        once the register has charged the sealed card: that charge pays it here. Answering
        "exists" alone left the money taken, the order unpaid and the card dropped by the
        browser (and "Charge new card" would charge the customer twice). Runs in `prepare`:
        it may call Stripe, so no batch transaction is open."""
        row = self.conn.execute("SELECT * FROM orders WHERE uuid = ?", (order["uuid"],)).fetchone()
        cards = [(i, p) for i, p in enumerate(order["payments"], start=1) if p.get("card")]
        if row is None or row["state"] != "draft" or not cards:
            return
        charge = service(self.ctx, _config(self.conn, self.config_id))
        currency = order.get("currency") or "USD"
        for index, payment in cards:
            attempt, outcome = _ledger_outcome(charge, order, index, payment, currency)
            if outcome is None:
                if not payment["card"].get("envelope"):
                    continue  # nothing left to charge: the order stays as it was stored
                if attempt is None and (order["uuid"], payment["uuid"]) in self._risk_refusals:
                    continue  # over a risk limit: not charged, the order stays unpaid
                try:
                    outcome = charge.process(_process_payload(order, payment))
                except CardRequestError as exc:
                    raise OrderValidationError(f"payment {index}: {exc}") from None
            if outcome["status"] == "succeeded":
                _record_card_payment(self.conn, row["id"], payment, outcome)
            elif outcome["status"] != "failed":
                raise OrderValidationError(f"card payment not processed yet: {outcome['message']}")


def _record_card_payment(conn, order_id, payment, outcome):
    """A card payment of the order itself, charged after the order was stored unpaid: once per
    payment uuid; the order is Paid when its payments cover the total."""
    with write_transaction(conn):
        if conn.execute(
            "SELECT 1 FROM order_payments WHERE order_id = ? AND uuid = ?",
            (order_id, payment["uuid"]),
        ).fetchone():
            return
        conn.execute(
            "INSERT INTO order_payments (order_id, uuid, payment_method_id, payment_method_name, "
            "amount, card_brand, card_last4, card_status, transaction_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 'succeeded', ?)",
            (
                order_id,
                payment["uuid"],
                payment["payment_method_id"],
                payment.get("payment_method_name") or f"Method {payment['payment_method_id']}",
                payment["amount"],
                outcome.get("brand") or payment["card"].get("brand"),
                outcome.get("last4") or payment["card"].get("last4"),
                outcome.get("payment_intent_id"),
            ),
        )
        conn.execute(
            "UPDATE orders SET amount_paid = amount_paid + ? WHERE id = ?",
            (payment["amount"], order_id),
        )
        conn.execute(
            "UPDATE orders SET state = 'paid', card_failed = 0 WHERE id = ? "
            "AND round(amount_paid - amount_total, 6) >= 0",
            (order_id,),
        )


def _process_payload(order, payment) -> dict:
    return {
        "v": 1,
        "config_id": order.get("config_id"),
        "order_uuid": order["uuid"],
        "payment_uuid": payment["uuid"],
        "amount": payment["amount"],
        "currency": order.get("currency") or "USD",
        "reference": order.get("reference") or "",
        "envelope": (payment.get("card") or {}).get("envelope"),
    }


orders.SINK_CLASS = CardOrderSink


# -- pages: POS data, settings, order page, charge new card ------------------------------------
def _pos_data(ctx, conn, data):
    rt = runtime(ctx)
    config = conn.execute(
        "SELECT * FROM pos_config WHERE id = ?", (data["config"]["id"],)
    ).fetchone()
    for field in RISK_FIELDS:
        data["config"][field] = config[field]
    # Delivered with the POS data so the register can cache it for offline use.
    data["card_public_key"] = public_key_answer(rt)


def _settings_render(ctx, conn):
    rt = runtime(ctx)
    problem = rt.keys.problem()
    warning = (
        Markup(
            '<p class="flash error" id="card-key-warning" role="alert">Cards cannot be taken '
            "offline: {message}</p>"
        ).format(message=_key_message(problem))
        if problem
        else Markup("")
    )
    config = conn.execute("SELECT * FROM pos_config ORDER BY id LIMIT 1").fetchone()
    rows = Markup("").join(
        Markup(
            '<label for="{f}">{label} <input type="number" min="0" step="any" id="{f}" '
            'name="{f}" value="{value:g}"></label>'
        ).format(f=field, label=RISK_LABELS[field], value=config[field] or 0)
        for field in RISK_FIELDS
    )
    return Markup(
        '<fieldset id="card-limits"><legend>Offline card risk limits</legend>{warning}{rows}'
        '<p class="muted">0 means no limit.</p></fieldset>'
    ).format(warning=warning, rows=rows)


def _settings_save(ctx, conn, form):
    runtime(ctx)
    values = {}
    for field in RISK_FIELDS:
        raw = (form.get(field) or "0").strip()
        try:
            value = float(raw)
        except ValueError:
            return f"{RISK_LABELS[field]}: enter a number (0 for no limit)."
        if not value >= 0 or value == float("inf"):
            return f"{RISK_LABELS[field]}: enter zero or a positive number."
        values[field] = value
    with write_transaction(conn):
        conn.execute(
            "UPDATE pos_config SET offline_card_max_amount = ?, offline_card_max_total = ?, "
            "offline_card_max_age_hours = ? WHERE id = (SELECT id FROM pos_config ORDER BY id "
            "LIMIT 1)",
            [values[f] for f in RISK_FIELDS],
        )
    return None


def _token(ctx, order_uuid: str, payment_uuid: str) -> str:
    msg = f"{order_uuid}|{payment_uuid}".encode()
    return hmac.new(runtime(ctx).secret, msg, hashlib.sha256).hexdigest()


def _attempts_html(attempts, currency) -> Markup:
    if not attempts:
        return Markup("")
    rows = Markup("").join(
        Markup(
            '<tr class="card-attempt" data-status="{status}" data-payment="{payment}">'
            '<td>{id}</td><td>{origin}</td><td>{tries}</td><td class="num">{amount}</td>'
            "<td>{status}</td><td>{card}</td><td>{pi}</td><td>{message}</td><td>{when}</td></tr>"
        ).format(
            status=a["status"],
            payment=a["payment_uuid"],
            id=a["id"],
            origin=a["origin"],
            tries=a["attempt_no"],
            amount=f"{a['amount_minor'] / 100:,.2f} {currency or ''}",
            card=f"{(a['brand'] or '').upper()} **** {a['last4']}" if a["last4"] else "",
            pi=a["payment_intent_id"] or "",
            message=a["message"] or "",
            when=a["updated_at"],
        )
        for a in attempts
    )
    return Markup(
        '<h2>Card attempts</h2><table id="card-attempts"><thead><tr><th>#</th><th>From</th>'
        '<th>Tries</th><th class="num">Amount</th><th>Status</th><th>Card</th>'
        "<th>PaymentIntent</th><th>Message</th><th>Updated</th></tr></thead>"
        "<tbody>{rows}</tbody></table>"
    ).format(rows=rows)


CHARGE_FORM = """
<h2>Charge new card</h2>
<form id="charge-new-card" data-order="{order}" data-payment="{payment}" data-token="{token}"
      data-config="{config}" data-amount="{amount}" data-currency="{currency}" autocomplete="off">
  <p>Amount due: <strong id="charge-amount">{amount_text}</strong></p>
  <label>Card number <input id="cc-number" inputmode="numeric" autocomplete="off"></label>
  <span class="note" data-error="number"></span>
  <label>Expiry (MM/YY) <input id="cc-expiry" autocomplete="off"></label>
  <span class="note" data-error="expiry"></span>
  <label>CVC <input id="cc-cvc" inputmode="numeric" autocomplete="off"></label>
  <span class="note" data-error="cvc"></span>
  <label>Cardholder name <input id="cc-name" autocomplete="off"></label>
  <span class="note" data-error="name"></span>
  <p><button type="submit" id="charge-submit">Charge new card</button></p>
  <p id="charge-result" role="status"></p>
</form>
<script type="module" src="/sandbox-static/cards_backoffice.js"></script>
"""


def _order_section(ctx, conn, order) -> Markup:
    rt = runtime(ctx)
    html = _attempts_html(rt.ledger.for_order(order["uuid"]), order["currency"])
    due = round(order["amount_total"] - order["amount_paid"], 2)
    if order["state"] == "draft" and order["card_failed"] and due > 0:
        payment_uuid = str(uuidlib.uuid4())  # one per rendering: a double submit is one charge
        html += Markup(CHARGE_FORM).format(  # noqa: S704 - a constant template
            order=order["uuid"],
            payment=payment_uuid,
            token=_token(ctx, order["uuid"], payment_uuid),
            config=order["config_id"],
            amount=f"{due:.2f}",
            currency=order["currency"] or "USD",
            amount_text=f"{due:,.2f} {order['currency'] or ''}",
        )
    return html


def _json(status, body):
    return Response(json.dumps(body), status=status, mimetype="application/json")


def charge_new_card(ctx, request, uuid):
    """POST /backoffice/order/<uuid>/charge: {payment_uuid, token, envelope} -> card outcome."""
    if request.cookies.get("sandbox_role", "manager") != "manager":
        return _json(403, {"error": {"code": "forbidden", "message": MANAGER_ONLY}})
    try:
        body = json.loads(request.get_data(as_text=True) or "null")
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("payment_uuid"), str):
        return _json(
            400,
            {
                "error": {
                    "code": "bad_request",
                    "message": "expected JSON with payment_uuid, token and envelope",
                }
            },
        )
    expected = _token(ctx, uuid, body["payment_uuid"])
    if not hmac.compare_digest(expected, str(body.get("token") or "")):
        return _json(
            403,
            {
                "error": {
                    "code": "forbidden",
                    "message": "This form has expired: reload the order page.",
                }
            },
        )
    conn = ctx.connect()
    try:
        order = conn.execute("SELECT * FROM orders WHERE uuid = ?", (uuid,)).fetchone()
        if order is None:
            return _json(404, {"error": {"code": "not_found", "message": "No such order."}})
        due = round(order["amount_total"] - order["amount_paid"], 2)
        if order["state"] == "paid" or due <= 0:
            return _json(
                200,
                {
                    "result": {
                        "v": 1,
                        "status": "succeeded",
                        "message": "This order is already paid.",
                    }
                },
            )
        config = _config(conn, order["config_id"])
        payload = {
            "v": 1,
            "config_id": order["config_id"],
            "order_uuid": uuid,
            "payment_uuid": body["payment_uuid"],
            "amount": due,
            "currency": order["currency"] or "USD",
            "reference": order["reference"],
            "envelope": body.get("envelope"),
        }
        charge = service(ctx, config, origin="backoffice")
        try:
            # Under the order's lease: earlier cards settled first, the due re-read, at most
            # one card charged for it, whoever else is charging this order at this moment.
            outcome = charge.process(payload, back_office=True)
        except CardRequestError as exc:
            return _json(400, {"error": {"code": "bad_request", "message": str(exc)}})
        _record_charges(conn, charge, order)
        if outcome["status"] == "in_progress":
            message = outcome["message"]
            if outcome["message"] != card_errors.EARLIER_PENDING:
                message = CARD_BEING_CHARGED
            return _json(409, {"error": {"code": "card_pending", "message": message}})
        if outcome["status"] == "succeeded":
            return _json(200, {"result": outcome})
        if outcome.get("decline_code") == "order_settled":
            paid = conn.execute("SELECT state FROM orders WHERE id = ?", (order["id"],)).fetchone()
            if paid["state"] == "paid":
                return _json(
                    200,
                    {"result": dict(outcome, status="succeeded", message=EARLIER_CARD_CHARGED)},
                )
        if outcome["status"] == "failed":
            # That payment has its outcome; another card is another payment.
            fresh = str(uuidlib.uuid4())
            outcome = dict(outcome, next={"payment_uuid": fresh, "token": _token(ctx, uuid, fresh)})
        return _json(200, {"result": outcome})
    finally:
        conn.close()


def order_charge_state(ctx, request, uuid):
    """GET /backoffice/order/<uuid>/charge-state: {state, charging}, for a page that was told
    a card is being charged elsewhere to show the result by itself."""
    conn = ctx.connect()
    try:
        order = conn.execute("SELECT state FROM orders WHERE uuid = ?", (uuid,)).fetchone()
        if order is None:
            return _json(404, {"error": {"code": "not_found", "message": "No such order."}})
        charging = conn.execute(
            "SELECT 1 FROM card_order_leases WHERE order_uuid = ?", (uuid,)
        ).fetchone()
    finally:
        conn.close()
    return _json(200, {"result": {"state": order["state"], "charging": charging is not None}})


def _record_charges(conn, charge, order) -> list:
    """Every charge the ledger holds for the order, recorded on it once (by payment uuid):
    this form's card, and a card charged earlier elsewhere (the register, another window)
    that was not recorded yet. Returns the payment uuids recorded now."""
    recorded = []
    for attempt in charge.ledger.order_attempts(order["uuid"]):
        if attempt.status != SUCCEEDED:
            continue
        amount = float(from_minor_units(attempt.amount_minor, attempt.currency))
        if _add_card_payment(conn, order, attempt.payment_uuid, amount, attempt.outcome()):
            recorded.append(attempt.payment_uuid)
    return recorded


def _add_card_payment(conn, order, payment_uuid, amount, outcome):
    """The order becomes Paid with the new card's payment (once, whatever the retries)."""
    method = (
        conn.execute(
            "SELECT id, name FROM payment_methods WHERE offline_card = 1 ORDER BY id LIMIT 1"
        ).fetchone()
        or conn.execute("SELECT id, name FROM payment_methods ORDER BY id").fetchone()
    )
    with write_transaction(conn):
        exists = conn.execute(
            "SELECT 1 FROM order_payments WHERE order_id = ? AND uuid = ?",
            (order["id"], payment_uuid),
        ).fetchone()
        if exists:
            return False
        conn.execute(
            "INSERT INTO order_payments (order_id, uuid, payment_method_id, payment_method_name, "
            "amount, card_brand, card_last4, card_status, transaction_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 'succeeded', ?)",
            (
                order["id"],
                payment_uuid,
                method["id"],
                method["name"],
                amount,
                outcome.get("brand"),
                outcome.get("last4"),
                outcome.get("payment_intent_id"),
            ),
        )
        line = (
            f"Paid by card ({(outcome.get('brand') or 'card').upper()} **** "
            f"{outcome.get('last4')}), {outcome.get('payment_intent_id')}."
        )
        conn.execute(
            "UPDATE orders SET amount_paid = amount_paid + ?, "
            "note = CASE WHEN note = '' THEN ? ELSE note || char(10) || ? END WHERE id = ?",
            (amount, line, line, order["id"]),
        )
        conn.execute(
            "UPDATE orders SET state = 'paid', card_failed = 0 WHERE id = ? "
            "AND round(amount_paid - amount_total, 6) >= 0",
            (order["id"],),
        )
    return True


hooks.APP_INIT.append(runtime)  # migrates pos_config before the first request
hooks.POS_DATA.append(_pos_data)
hooks.SETTINGS_SECTIONS.append((_settings_render, _settings_save))
hooks.ORDER_SECTIONS.append(_order_section)
hooks.ROUTES.append(
    ("/backoffice/order/<uuid>/charge", "charge_new_card", charge_new_card, ["POST"])
)
hooks.ROUTES.append(
    ("/backoffice/order/<uuid>/charge-state", "order_charge_state", order_charge_state, ["GET"])
)
