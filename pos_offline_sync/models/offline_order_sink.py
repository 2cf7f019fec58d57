# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The Odoo side of the core's OrderSink protocol: one offline order into pos.order.

Each order is stored through Odoo's own ``sync_from_ui`` inside its own savepoint, or in one
savepoint with the others of its group (core sync_batch: undone whole and stored again one by
one when one fails), so a bad order rolls back alone and the rest of the batch goes on. The
core has validated the plain order (at this currency's rounding); its `odoo` part is checked
against this register before Odoo sees it (offline_ui_order.py), and the paid state is the
server's: a card pays only with a success in the ledger, a payment on an offline-card method
without a card never pays, and a card over the POS's risk limits is not charged
(docs/CONTRACTS.md §6).
"""

import copy
import logging
from contextlib import contextmanager, nullcontext
from datetime import datetime, timezone

from odoo import Command, fields
from odoo.exceptions import ConcurrencyError, UserError, ValidationError
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
from odoo.tools import float_round

from ..core import order_identity, risk_limits
from ..core.order_schema import (
    TAXED,
    OrderValidationError,
    check_line_total,
    no_card_reason,
    odoo_change,
    payments_without_card,
)
from ..core.risk_limits import RiskLimits, refusals_at_sync
from ..core.sync_service import StoredOrder
from .offline_create_ahead import CreateAhead, CreateAheadMiss
from .offline_ui_order import UiOrderCheck

# Set around Odoo's sync_from_ui: the order's stock picking is made after the landing, by the
# cron of pos_order.py (README "Performance", deferred pickings).
DEFER_PICKING_KEY = "pos_offline_defer_picking"
# Set around Odoo's sync_from_ui too: its answer (the order read back whole for the register,
# a third of its time) is not used here; pos.order.read_pos_data then names the orders only.
NO_READ_BACK_KEY = "pos_offline_no_read_back"
# Set (to a ChatterLater) while a group stores its orders: pos.order.create then leaves out
# the creator's following and the creation note, and lists the orders, for which group() adds
# them at once (pos.order._offline_log_creation): in production a fifth of an order's time.
CHATTER_LATER_KEY = "pos_offline_chatter_later"
# And this one: the sink has told a reused uuid apart already (store() below), so
# pos.order.sync_from_ui does not look the uuid up again.
IDENTITY_CHECKED_KEY = "pos_offline_identity_checked"
# And to a NotifyLater: Odoo's sync_from_ui tells the register's devices, once per order, that
# orders changed (pos.config.notify_synchronisation), and every device but the one it names
# reads the register's open orders again: a landing of 50 made 50 such reads from each
# register of the config, the sender's own included (its calls named no device), and a
# second-long task on its page. The sink tells them once, at the call's end (end()).
NOTIFY_LATER_KEY = "pos_offline_notify_later"
# And to a CreateAhead, for the orders a group prepared together (prepare_group()): the first
# one's pos.order.create makes them all (offline_create_ahead.py).
CREATE_AHEAD_KEY = "pos_offline_create_ahead"
# Odoo's device identifiers are a few characters; a longer one is not put in a notice.
MAX_DEVICE_IDENTIFIER = 64

_logger = logging.getLogger(__name__)

_PAID_STATES = ("paid", "done", "invoiced")
# What Odoo's request retry (odoo.service.model.retrying) replays the whole request for.
RETRYABLE = (*PG_CONCURRENCY_EXCEPTIONS_TO_RETRY, ConcurrencyError)

# Odoo's sync_from_ui pformats every order it gets for a debug line, even when that logger
# prints no debug line: about 1 ms an order of 5 lines (QuietUiOrder).
_ODOO_ORDER_LOGGER = logging.getLogger("odoo.addons.point_of_sale.models.pos_order")


class QuietUiOrder(dict):
    """The order dict handed to Odoo's sync_from_ui, whose repr is its whole content only when
    Odoo's logger would print it at debug level (pprint.pformat calls a dict subclass's own
    repr instead of walking the dict)."""

    def __repr__(self):
        if _ODOO_ORDER_LOGGER.isEnabledFor(logging.DEBUG):
            return dict.__repr__(self)
        return f"<offline order {self.get('uuid')}>"


class ChatterLater:
    """The orders one group created without their creation chatter. Compared by identity: Odoo
    reuses an environment whose context compares equal, and a list (equal to any other empty
    list) would let a group's creates be listed in an earlier group's, their chatter lost."""

    __slots__ = ("ids",)

    def __init__(self):
        self.ids = []


class NotifyLater:
    """The devices' notifications a call's orders asked for, each (config id, session id,
    device) once, in order. Compared by identity, as ChatterLater."""

    __slots__ = ("calls",)

    def __init__(self):
        self.calls = {}

    def add(self, config, session_id, device_identifier):
        """False when it cannot be kept for later (the caller notifies at once). The device
        comes from the caller's context: anything but a short string or a number names
        none (Odoo's default, 0)."""
        if not isinstance(session_id, int | bool):
            return False
        device = device_identifier
        if not isinstance(device, int | str) or len(str(device)) > MAX_DEVICE_IDENTIFIER:
            device = 0
        self.calls[(config.id, session_id, device)] = True
        return True


class OdooOrderSink:
    """Stores plain offline orders (CONTRACTS §1) as pos.order records."""

    def __init__(self, env, config):
        self.env = env
        self.config = config
        self.PosOrder = env["pos.order"]
        self.rounding = config.currency_id.rounding  # the core judges amounts at it
        self._risk_refusals = {}  # (order uuid, payment uuid) -> why that card is not charged
        self._pickings_deferred = False
        self._ui_order_check = UiOrderCheck(env, config)  # one for the call: it keeps what it read
        self._chatter_later = None  # inside group() only: a ChatterLater
        self._notify_later = NotifyLater()  # sent once, by end()
        self._ahead = None  # inside group() only: the group's CreateAhead, if it prepared one
        self._prepared = {}  # uuid -> ui order prepared by prepare_group(), until its store()
        self._ahead_off = False  # a miss turns the create ahead off for the rest of the call

    def rounded_total(self, order):
        """The total Odoo counts the order paid at (pos.order._get_rounded_amount): rounded by
        the register's cash rounding when it has one, and only when cash is used if it rounds
        cash only (a change line is cash). The register gives change from it."""
        config = self.config
        total = order["amount_total"]
        if config.cash_rounding and config.rounding_method:
            cash = config.payment_method_ids.filtered("is_cash_count").ids
            uses_cash = bool(order.get("amount_return")) or any(
                p.get("payment_method_id") in cash for p in order.get("payments") or ()
            )
            if not config.only_round_cash_method or uses_cash:
                method = config.rounding_method
                total = float_round(
                    total,
                    precision_rounding=method.rounding,
                    rounding_method=method.rounding_method,
                )
        return config.currency_id.round(total)

    def begin(self, orders, now):
        """The POS's risk limits over the cards of this call not processed yet (no attempt in
        the ledger, card still sealed), on the server's clock (core refusals_at_sync)."""
        limits = RiskLimits.from_config({f: self.config[f] for f in risk_limits.FIELDS})
        Attempt = self.env["pos.offline.card.attempt"].sudo()

        def unprocessed(order, payment):
            return bool(payment["card"].get("envelope")) and not Attempt._offline_find(
                order["uuid"], payment["uuid"], self.config.company_id
            )

        self._risk_refusals = refusals_at_sync(limits, orders, unprocessed=unprocessed, now=now)

    def end(self):
        """Once per call, after its last order: the register's devices are told that orders
        changed (once, not once per order), and the cron that makes the deferred pickings is
        triggered (one trigger row per call, not one per order)."""
        Config = self.env["pos.config"]
        for config_id, session_id, device in self._notify_later.calls:
            try:
                with self.env.cr.savepoint():
                    Config.browse(config_id).notify_synchronisation(session_id, device)
            except RETRYABLE:
                raise  # the host replays the whole call
            except Exception:  # noqa: BLE001 - the orders are stored: they must not fail for it
                # The devices see the orders at their next read of the open orders.
                _logger.exception("the register's devices could not be told of the sync")
        if not self._pickings_deferred:
            return
        try:
            with self.env.cr.savepoint(flush=False):  # each store() flushed its own order
                self.PosOrder._offline_trigger_picking_cron()
        except RETRYABLE:
            raise  # the host replays the whole call
        except Exception:  # noqa: BLE001 - the orders are stored: they must not be failed for it
            # The cron's hourly run makes their pickings all the same.
            _logger.exception("the deferred pickings' cron could not be triggered")

    # -- protocol ---------------------------------------------------------------------------
    @staticmethod
    def is_retryable(exc):
        """Another register's request holds what this order needs (the config's no-gap order
        sequence, a row both write): the error leaves the call so that Odoo replays the whole
        request, rather than this order failing at the cashier's."""
        return isinstance(exc, RETRYABLE)

    @contextmanager
    def group(self):
        """One savepoint around several store() calls (core sync_batch): one flush, one run of
        the precommit hooks and one subtransaction for them instead of one each (about a tenth
        of an order's time). Left by an exception, it undoes them all (the core then stores
        them again, the failed one alone). The creation chatter of its new orders is added
        once, at its end (CHATTER_LATER_KEY)."""
        with self.env.cr.savepoint():
            self._chatter_later = ChatterLater()
            try:
                yield
                if self._ahead is not None and self._ahead.unclaimed():
                    # Made ahead for orders the time budget deferred: undone with the group,
                    # which the core stores again one by one (nothing kept unanswered).
                    self._ahead_off = True
                    raise CreateAheadMiss("orders made ahead were not stored on their turn")
                self.PosOrder.browse(self._chatter_later.ids)._offline_log_creation()
            finally:
                if self._ahead is not None and self._ahead.missed and not self._ahead_off:
                    _logger.warning(
                        "offline sync: an order's create differed from the one made ahead for "
                        "it; its group is stored again and the rest of the call order by order"
                    )
                if self._ahead is not None and (self._ahead.missed or self._ahead.failed):
                    self._ahead_off = True  # not tried again in this call
                self._chatter_later = None
                self._ahead = None
                self._prepared = {}

    def prepare_group(self, orders):
        """Called by the core inside group(), after its first store(), with the next orders
        the time budget expects to store; returns how many it prepared. The new ones at its
        head are checked and their lines named now (one draw of the line sequence for all),
        and made by one create when the first of them is (offline_create_ahead.py). An order
        found bad, existing already or paid by card ends the head: it and those after it are
        stored as usual, where a bad one is reported."""
        if self._ahead is not None:
            if self._ahead.unclaimed():
                raise CreateAheadMiss("orders made ahead were not stored on their turn")
            if self._ahead.failed:
                self._ahead_off = True  # not tried again in this call
        self._ahead, self._prepared = None, {}
        if self._ahead_off or len(orders) < 2 or not self.PosOrder._offline_may_create_ahead():
            return 0
        uuids = [order["uuid"] for order in orders]
        existing = set(self.PosOrder.search([("uuid", "in", uuids)]).mapped("uuid"))
        empty = self.PosOrder.browse()
        prepared = {}
        for order in orders:
            uuid = order["uuid"]
            if uuid in existing or uuid in prepared:
                break
            try:
                ui_order, card_failures = self._ui_order(order, empty)
                card_failures += self._apply_card_outcomes(order, ui_order)
            except (OrderValidationError, UserError, ValidationError):
                break  # reported on its own turn
            if card_failures or ui_order.get("state") == "draft":
                break  # a note of its own after its creation note; a draft's own payments
            change = ui_order.get("amount_return") or 0.0
            if not isinstance(change, int | float):
                break
            ui_order["uuid"] = uuid
            prepared[uuid] = ui_order
            if not self.config.currency_id.is_zero(change):
                # Its change line is made on its turn, after its payments: the next orders'
                # payments must come after it, as in Odoo's path.
                break
        if len(prepared) < 2:
            return 0
        self._name_new_lines(*prepared.values())
        self._prepared = prepared
        self._ahead = CreateAhead(prepared, RETRYABLE)
        return len(prepared)

    @property
    def _grouped(self):
        """Inside group(): store() opens no savepoint of its own."""
        return self._chatter_later is not None

    @staticmethod
    def may_group(order):
        """An order to invoice is stored alone: its invoice may be sent as it is posted
        (e-invoicing), and a group undone would do that again."""
        odoo = order.get("odoo")
        return not (isinstance(odoo, dict) and odoo.get("to_invoice"))

    def store(self, order):
        uuid = order["uuid"]
        try:
            # Everything that queries is inside the savepoint (its own, or its group's): a
            # failed query outside it would abort the request's transaction, failing the rest
            # of the batch and undoing at commit the orders already answered ok.
            with nullcontext() if self._grouped else self.env.cr.savepoint():
                prepared = self._prepared.pop(uuid, None)
                if prepared is not None:
                    # New, checked and named by prepare_group(); made by its group's create.
                    existing, stored_as = self.PosOrder.browse(), uuid
                    ui_order, card_failures = prepared, []
                else:
                    existing, stored_as = self._existing(order)
                    if existing and (existing.state != "draft" or existing.offline_synced):
                        if not existing.offline_synced:
                            self._settle_cards_of(existing, order)
                        elif existing.state == "draft":
                            self._pay_draft_with_cards(existing, order)
                        return self._stored("exists", existing)
                    ui_order, card_failures = self._ui_order(order, existing)
                    card_failures += self._apply_card_outcomes(order, ui_order)
                # The chatter of a new order waits for its group's end, unless the addon has
                # a note of its own to post on it (after its creation note, as in Odoo).
                chatter_later = self._grouped and not card_failures and stored_as == uuid
                ui_order["uuid"] = stored_as
                if not existing and prepared is None:
                    # A draft's lines may come again as creates, which Odoo turns into updates
                    # of the lines it has (_process_order): named by Odoo, one by one.
                    self._name_new_lines(ui_order)
                # Its stock picking is made after the landing (pos_order.py, deferred pickings).
                context = {
                    DEFER_PICKING_KEY: True,
                    NO_READ_BACK_KEY: True,
                    IDENTITY_CHECKED_KEY: True,
                    NOTIFY_LATER_KEY: self._notify_later,
                }
                if chatter_later:
                    context[CHATTER_LATER_KEY] = self._chatter_later
                if prepared is not None:
                    context[CREATE_AHEAD_KEY] = self._ahead
                answer = self.PosOrder.with_context(**context).sync_from_ui(
                    [QuietUiOrder(ui_order)]
                )
                stored = self._answered(answer, stored_as)
                if not stored:
                    raise OrderValidationError("the server did not store the order")
                stored._offline_after_sync(card_failures)
                self._pickings_deferred |= stored.offline_picking_pending
                if stored_as != uuid:
                    stored._offline_note_reused_uuid(uuid)
        except (UserError, ValidationError) as exc:
            raise OrderValidationError(str(exc.args[0] if exc.args else exc)) from exc
        return self._stored("created", stored)

    # -- helpers ----------------------------------------------------------------------------
    def _answered(self, answer, stored_as):
        """The order sync_from_ui stored as `stored_as`: named by its answer (read_pos_data
        under NO_READ_BACK_KEY gives each order's id and uuid), else looked up."""
        records = answer.get("pos.order") if isinstance(answer, dict) else None
        for record in records if isinstance(records, list) else ():
            if isinstance(record, dict) and record.get("uuid") == stored_as and record.get("id"):
                return self.PosOrder.browse(record["id"])
        return self.PosOrder._get_open_order({"uuid": stored_as})

    def _another_sale(self, existing, order):
        """True when `order` is another sale than the order stored under its uuid, finished
        or stored unpaid by the addon (a declined card: the resend's card must pay that sale,
        not another). Odoo's own drafts (restaurant) are Odoo's to update."""
        if existing.state == "cancel" or (
            existing.state == "draft" and not existing.offline_synced
        ):
            return False
        rounding = self.config.currency_id.rounding or 0.01
        return not order_identity.same_sale(
            existing._offline_identity(), order_identity.identity_of(order), rounding
        )

    def _existing(self, order):
        """(the stored order this one is, or an empty recordset; the uuid it is stored as)."""
        uuid = order["uuid"]
        existing = self.PosOrder._get_open_order({"uuid": uuid})
        if existing and self._another_sale(existing, order):
            # The register rang another sale under a uuid already stored
            # (core/order_identity.py): it is stored under its own derived uuid, once whatever
            # the resends, which then meet that order.
            stored_as = order_identity.reused_uuid(uuid, order_identity.identity_of(order))
            return self.PosOrder._get_open_order({"uuid": stored_as}), stored_as
        return existing, uuid

    def _name_new_lines(self, *ui_orders):
        """The names Odoo gives new lines (pos.order.line.create: one draw of the register's
        no-gap line sequence per line), drawn for these orders' lines at once, in order."""
        sequence = self.config.sudo().order_line_seq_id
        unnamed = [
            command[2]
            for ui_order in ui_orders
            for command in ui_order.get("lines") or []
            if command[0] == Command.CREATE and not command[2].get("name")
        ]
        if sequence and len(unnamed) > 1:
            for vals, name in zip(unnamed, sequence._offline_next_many(len(unnamed)), strict=True):
                vals["name"] = name

    def _stored(self, status, pos_order):
        session = pos_order.sudo().session_id
        return StoredOrder(
            status=status,
            reference=pos_order.pos_reference or pos_order.name,
            paid=pos_order.state in _PAID_STATES,
            rescue_session=session.name if session.rescue else None,
        )

    def _ui_order(self, order, existing):
        """(the dict sync_from_ui expects, reasons a payment does not pay): the browser's
        serializeForORM() when it came with the order, checked against this register, else
        one built from the plain order (CSV import)."""
        odoo = order.get("odoo")
        if odoo:
            # A copy: the check's cleaned values, and the line names drawn into them, must not
            # stay in the order, which a group undone stores again (and draws them again).
            ui_order = self._ui_order_check.check(copy.deepcopy(odoo), order, existing)
            ui_order["uuid"] = order["uuid"]
            return ui_order, []
        return self._ui_order_from_plain(order)

    def _session(self, order):
        """Its own session when it takes orders, else the open one, else the register's rescue
        session (core/rescue_session.py): an order whose session was closed is never refused."""
        own = self.env["pos.session"].sudo().browse(order.get("session_id") or 0)
        return self.config._offline_landing_session(own)

    def _ui_order_from_plain(self, order):
        session = self._session(order)
        fiscal_position = self.config.default_fiscal_position_id
        products = self.env["product.product"]
        currency = self.config.currency_id
        lines = []
        company = self.config.company_id
        for index, line in enumerate(order["lines"], start=1):
            product = products.browse(int(line["product_id"])).exists()
            if (
                not product
                or not product.available_in_pos
                or not product.filtered_domain(product._check_company_domain(company))
            ):
                raise OrderValidationError(
                    f"line {index}: product {line['product_id']} is not sold in the POS"
                )
            taxes = product.taxes_id.filtered_domain(
                self.env["account.tax"]._check_company_domain(self.config.company_id)
            )
            taxes = fiscal_position.map_tax(taxes) if fiscal_position else taxes
            qty = float(line["qty"])
            price = float(line["price_unit"]) * (1 - float(line.get("discount") or 0) / 100.0)
            totals = taxes.compute_all(price, currency, qty, product=product)
            # What the register's line says must be what Odoo stores for it.
            check_line_total(
                line,
                index,
                totals["total_included"],
                currency.rounding,
                tolerance=len(taxes) + 1,
                how=TAXED,
            )
            lines.append(
                Command.create(
                    {
                        "product_id": product.id,
                        "full_product_name": line.get("product_name") or product.display_name,
                        "qty": qty,
                        "price_unit": float(line["price_unit"]),
                        "discount": float(line.get("discount") or 0),
                        "tax_ids": [Command.set(taxes.ids)],
                        "price_subtotal": totals["total_excluded"],
                        "price_subtotal_incl": totals["total_included"],
                    }
                )
            )
        methods = self.config.payment_method_ids
        payments = []
        cardless = payments_without_card(order, methods.filtered("offline_card_capture").ids)
        failures = [
            no_card_reason(
                p, currency.name, currency.rounding, methods.browse(p["payment_method_id"]).name
            )
            for _, p in cardless
        ]
        for payment in order["payments"]:
            if any(payment is p for _, p in cardless):
                continue  # never charged: it does not pay (numbered case 5)
            method = methods.filtered(lambda m, p=payment: m.id == int(p["payment_method_id"]))
            if not method:
                raise OrderValidationError(
                    f"payment method {payment['payment_method_id']} is not used by this register"
                )
            vals = {
                "payment_method_id": method.id,
                "amount": float(payment["amount"]),
                # Paid when it was sold (as the register's own data says), not when it lands.
                "payment_date": _odoo_datetime(order.get("created_at")),
            }
            if payment.get("uuid"):
                vals["uuid"] = payment["uuid"]
            payments.append(Command.create(vals))
        total = sum(cmd[2]["price_subtotal_incl"] for cmd in lines)
        untaxed = sum(cmd[2]["price_subtotal"] for cmd in lines)
        partner = self._customer(order)
        paid = sum(cmd[2]["amount"] for cmd in payments)
        fully_paid = float_round(paid - total, precision_rounding=currency.rounding) >= 0
        ui_order = {
            "uuid": order["uuid"],
            "name": order.get("reference") or "/",
            "pos_reference": order.get("reference") or False,
            "session_id": session.id,
            "date_order": _odoo_datetime(order.get("created_at")),
            "user_id": self.env.uid,
            "partner_id": partner.id or False,
            "pricelist_id": self.config.pricelist_id.id,
            "fiscal_position_id": fiscal_position.id,
            "lines": lines,
            "payment_ids": payments,
            "amount_total": total,
            "amount_tax": total - untaxed,
            "amount_paid": paid,
            # Signed as Odoo's register signs it: Odoo books it as a payment of that amount.
            "amount_return": odoo_change(order),
            "last_order_preparation_change": "{}",
            "state": "paid" if fully_paid and lines and not failures else "draft",
        }
        return ui_order, failures

    def _customer(self, order):
        """The plain order's customer: none if deleted since (as Odoo's own sync does), refused
        if it is not a customer of this company."""
        partner_id = (order.get("customer") or {}).get("id")
        Partner = self.env["res.partner"]
        if not partner_id or not Partner.sudo().browse(partner_id).exists():
            return Partner
        domain = [("id", "=", partner_id), *Partner._check_company_domain(self.config.company_id)]
        partner = Partner.search(domain, limit=1)
        if not partner:
            raise OrderValidationError(
                f"customer id: customer {partner_id} is not a customer of this company"
            )
        return partner

    def _apply_card_outcomes(self, order, ui_order):
        """Keep a card payment line only when the ledger holds its success; otherwise drop it,
        save the order as draft and return why (for the note and chatter)."""
        failures = []
        card_payments = {p["uuid"]: p for p in order.get("payments", []) if p.get("card")}
        methods = self.config.payment_method_ids
        cardless = {
            p["uuid"]: p
            for _, p in payments_without_card(order, methods.filtered("offline_card_capture").ids)
            if p.get("uuid")
        }
        if not card_payments and not cardless:
            return failures
        currency = self.config.currency_id
        kept = []
        for command in ui_order.get("payment_ids") or []:
            vals = command[2] if len(command) > 2 and isinstance(command[2], dict) else {}
            if vals.get("uuid") in cardless:
                # An offline-card method's line with no card: nothing was charged for it.
                payment = cardless[vals["uuid"]]
                method = methods.browse(payment["payment_method_id"])
                failures.append(
                    no_card_reason(payment, currency.name, currency.rounding, method.name)
                )
                continue
            payment = card_payments.get(vals.get("uuid"))
            if not payment:
                kept.append(command)
                continue
            outcome = self._card_outcome(order, payment)
            card = payment["card"]
            label = _card_label(card)
            if outcome["status"] == "succeeded":
                if self.config.currency_id.compare_amounts(
                    outcome["amount"], vals.get("amount") or 0
                ):
                    # The ledger is the truth of what the card paid: a line saying otherwise
                    # would pay the order with money never charged (as the sandbox refuses).
                    raise OrderValidationError(
                        f"card {label}: the amount differs from the card payment processed"
                    )
                vals.update(_charged_line_vals(outcome, card))
                kept.append(command)
                continue
            failures.append(_why_unpaid(label, outcome))
        if failures:
            ui_order["payment_ids"] = kept
            ui_order["state"] = "draft"
        return failures

    def _settle_cards_of(self, existing, order):
        """The order reached Odoo through its own sync first (e.g. a reload before the offline
        store opened), with the offline card's line but no charge: confirming it as it is
        would let the browser drop the only copy of the sealed card. Charge it through the
        ledger now and record the charge on its line, or flag the order for the back office."""
        lines = {line.uuid: line for line in existing.payment_ids if line.uuid}
        failures = []
        for payment in order.get("payments") or []:
            line = lines.get(payment["uuid"]) if payment.get("card") else None
            if not line or line.transaction_id:
                continue  # not a line the card was taken for, or already recorded
            card = payment["card"]
            label = _card_label(card)
            outcome = self._card_outcome(order, payment)
            if outcome["status"] == "succeeded":
                if self.config.currency_id.compare_amounts(outcome["amount"], line.amount):
                    failures.append(f"{label}: charged {outcome['amount']}, not {line.amount}")
                line.write(_charged_line_vals(outcome, card))
            else:
                failures.append(_why_unpaid(label, outcome))
        if failures:
            existing._offline_after_sync(failures)

    def _pay_draft_with_cards(self, existing, order):
        """Stored unpaid before its card was charged (a CSV import, or a sync before the card
        was processed), the order is sent again once the card has an outcome: a charge made
        since must pay it here, or the money is taken while the back office shows it unpaid
        (and a "Charge new card" would charge the customer twice)."""
        recorded = set(existing.payment_ids.mapped("transaction_id"))
        for payment in order.get("payments") or []:
            if not payment.get("card"):
                continue
            outcome = self._card_outcome(order, payment)
            status = outcome["status"]
            if status == "succeeded" and outcome.get("payment_intent_id") not in recorded:
                existing._offline_mark_paid_by_card(outcome, outcome["amount"])
            elif status not in ("succeeded", "failed", "unprocessed", "refused"):
                raise OrderValidationError(
                    f"card {_card_label(payment['card'])} could not be processed now "
                    f"({outcome.get('message')}); the order was kept, sync it again"
                )

    def _card_outcome(self, order, payment):
        """The ledger's outcome of one card payment. A card never processed but still sealed is
        processed now, through the same ledger (so never charged twice). Read from the service's
        answer, not the ledger row: that row is committed by the ledger's own cursor, after this
        transaction's snapshot."""
        Attempt = self.env["pos.offline.card.attempt"]
        attempt = Attempt.sudo()._offline_find(
            order["uuid"], payment["uuid"], self.config.company_id
        )
        if attempt and attempt.state in ("succeeded", "failed"):
            return {
                "status": attempt.state,
                "payment_intent_id": attempt.payment_intent_id,
                "brand": attempt.card_brand,
                "last4": attempt.card_last4,
                "message": attempt.message,
                "decline_code": attempt.decline_code,
                "amount": attempt.amount,
            }
        envelope = payment["card"].get("envelope")
        if not envelope:
            return {"status": "unprocessed"}
        refusal = self._risk_refusals.get((order["uuid"], payment["uuid"]))
        if refusal and not attempt:
            return {"status": "refused", "message": refusal}  # never sent to Stripe
        try:
            # The service refuses an amount other than the ledger's, so this one was charged.
            return {"amount": payment["amount"]} | Attempt._offline_process(
                self.config,
                {
                    "v": 1,
                    "config_id": self.config.id,
                    "order_uuid": order["uuid"],
                    "payment_uuid": payment["uuid"],
                    "amount": payment["amount"],
                    "currency": order.get("currency") or self.config.currency_id.name,
                    "reference": order.get("reference") or order["uuid"],
                    "envelope": envelope,
                },
            )
        except UserError as exc:
            raise OrderValidationError(str(exc.args[0] if exc.args else exc)) from exc


def _card_label(card):
    return f"{(card.get('brand') or 'card').upper()} **** {card.get('last4') or '????'}"


def _charged_line_vals(outcome, card):
    """A card payment line's values once the ledger holds its success."""
    return {
        "transaction_id": outcome.get("payment_intent_id"),
        "card_brand": outcome.get("brand") or card.get("brand"),
        "card_no": outcome.get("last4") or card.get("last4"),
        "payment_status": "done",
    }


def _why_unpaid(label, outcome):
    """The back office's reason for a card that did not pay (failed or never processed).
    Any other state (in_progress, retry, config_error) leaves the card's fate unknown: the
    order stays in the browser rather than reach the back office half-known."""
    if outcome["status"] == "failed":
        return f"{label}: {outcome.get('message') or outcome.get('decline_code')}"
    if outcome["status"] == "unprocessed":
        return f"{label}: the card was not processed before the sync"
    if outcome["status"] == "refused":
        return f"{label}: not charged: {outcome['message']}"
    raise OrderValidationError(
        f"card {label} could not be processed now ({outcome.get('message')}); "
        "the order was kept, sync it again"
    )


def _odoo_datetime(value):
    """ISO 8601 UTC string -> Odoo's naive UTC datetime string."""
    if not value:
        return fields.Datetime.to_string(fields.Datetime.now())
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise OrderValidationError(f"created_at {value!r} is not an ISO 8601 date") from exc
    if parsed.tzinfo:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return fields.Datetime.to_string(parsed)
