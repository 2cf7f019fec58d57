# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import logging
import time
from contextlib import contextmanager

import odoo.modules.module
from markupsafe import Markup
from odoo import api, fields, models, tools
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from ..core import device_report, sync_service
from ..core.order_schema import MAX_ID
from .offline_order_sink import OdooOrderSink

_logger = logging.getLogger(__name__)
SYNC_TIME_BUDGET_PARAM = "pos_offline_sync.sync_time_budget_s"
# pg_advisory_xact_lock(namespace, config id): one offline sync of a register's config at a time.
SYNC_TURN_LOCK = 0x504F5331  # "POS1"
SYNC_TURN_WAIT = "20s"  # then LockNotAvailable, and Odoo replays the request


class PosOrder(models.Model):
    _inherit = "pos.order"

    offline_synced = fields.Boolean(
        string="Synced from Offline",
        readonly=True,
        copy=False,
        help="Captured by the register while offline and synced later.",
    )
    offline_card_failed = fields.Boolean(
        string="Card Payment Failed",
        readonly=True,
        copy=False,
        index=True,
        help="A card taken offline could not be charged: the order waits for another payment.",
    )
    # Not internal_note: Odoo's POS reads that one as its JSON list of kitchen notes.
    offline_card_failure = fields.Text(
        string="Card Payment Failure",
        readonly=True,
        copy=False,
        help="Why the cards taken offline for this order did not pay it; kept once it is paid.",
    )
    offline_card_attempt_ids = fields.One2many(
        "pos.offline.card.attempt",
        compute="_compute_offline_card_attempt_ids",
        string="Card Attempts",
    )

    @api.depends("uuid")
    def _compute_offline_card_attempt_ids(self):
        Attempt = self.env["pos.offline.card.attempt"]
        for order in self:
            order.offline_card_attempt_ids = (
                Attempt.search([("order_uuid", "=", order.uuid)]) if order.uuid else Attempt
            )

    @api.model
    def _get_valid_session(self, order):
        """An order whose session is closed (or closing) while no session of its register is
        open lands in the register's rescue session instead of being refused (issue 9); with
        a session open, Odoo's own choice stays."""
        closed = self.env["pos.session"].sudo().browse(order.get("session_id")).exists()
        config = closed.config_id
        if not config or config._offline_open_sessions():
            return super()._get_valid_session(order)
        _logger.warning(
            "Session %s (ID: %s) was closed but received order %s: no session of %s is open, "
            "the order goes to its rescue session",
            closed.name,
            closed.id,
            order.get("uuid"),
            config.name,
        )
        return config._offline_rescue_session(closed)

    @api.model
    def _load_pos_data_fields(self, config):
        fields_ = super()._load_pos_data_fields(config)
        # An empty list means every field (ours included): adding one would load only it.
        return fields_ + ["offline_card_failure"] if fields_ else fields_

    # -- entry points called by the register (CONTRACTS §2) ---------------------------------
    @api.model
    def offline_sync_orders(self, payload):
        config = self._offline_check_access(payload)
        with self._offline_sync_turn(config) as env:
            config = config.with_env(env)
            self.with_env(env)._offline_prepare_landing(config, payload)
            sink = OdooOrderSink(env, config)
            try:
                answer = sync_service.sync_batch(
                    payload,
                    sink,
                    time_budget_s=self._offline_sync_time_budget(),
                    clock=self._offline_sync_clock,
                )
            except sync_service.PayloadError as exc:
                raise UserError(self.env._("Malformed offline payload: %s", exc)) from None
            env["pos.offline.sync.log"]._offline_log(config, payload, answer)
        return answer

    @contextmanager
    def _offline_sync_turn(self, config):
        """The environment a sync of `config` stores in, once it is that register's turn.

        Every order of a config draws its name from the config's no-gap sequence, whose row
        stays locked (NOWAIT) until the transaction that drew from it ends: a sync's batch
        holds it for seconds, and other registers' syncs of the same config fail on it at
        once, more times than Odoo replays a request (bench/odoo_concurrent.py). So the syncs
        of one config take turns: each waits for an advisory lock held until its request ends,
        then stores in a transaction of its own, begun after the previous turn committed (one
        begun before the wait would see the sequence's row as changed under it, a
        serialization failure). Committed on a clean exit, before the answer: if the answer is
        lost, the register sends the orders again and gets "exists". A conflict with anything
        else (another kind of request) leaves as it is, and Odoo replays the request.
        In Odoo's tests the request's own cursor is used: their data is not committed."""
        cr = self.env.cr
        cr.execute(SQL("SET LOCAL lock_timeout = %s", SYNC_TURN_WAIT))
        cr.execute(SQL("SELECT pg_advisory_xact_lock(%s, %s)", SYNC_TURN_LOCK, config.id))
        cr.execute(SQL("SET LOCAL lock_timeout = 0"))
        if odoo.modules.module.current_test:
            yield self.env
            return
        with self.env.registry.cursor() as turn_cr:
            yield self.env(cr=turn_cr)

    @api.model
    def _offline_prepare_landing(self, config, payload):
        """With no session of the register open, a batch bringing new orders needs the rescue
        session: it is found or made here, before the core handles the orders one by one,
        so that a concurrent batch making it too fails this request as a whole and Odoo runs
        it again (see pos.config._offline_rescue_session), rather than failing one order."""
        orders = payload.get("orders") if isinstance(payload, dict) else None
        if not isinstance(orders, list) or not orders or config._offline_open_sessions():
            return
        uuids = {o.get("uuid") for o in orders if isinstance(o, dict)}
        uuids = [u for u in uuids if isinstance(u, str) and len(u) <= 128][: sync_service.MAX_BATCH]
        if not uuids:
            return
        if self.sudo().search_count([("uuid", "in", uuids)]) == len(uuids):
            return  # all stored already: no session is needed
        # Named after the session the first order came from, when it is one of this register.
        session_ids = [
            o.get("session_id")
            for o in orders
            if isinstance(o, dict)
            and isinstance(o.get("session_id"), int)
            and 0 < o["session_id"] <= MAX_ID
        ][:1]
        origin = self.env["pos.session"].sudo().browse(session_ids).exists()
        config._offline_rescue_session(origin.filtered(lambda s: s.config_id == config) or None)

    @api.model
    def _offline_sync_time_budget(self):
        """Seconds one sync request (or CSV import chunk) may spend on its orders before the
        rest are answered deferred (CONTRACTS §2): the system parameter, 10 by default, and
        at most half of the worker's limit_time_cpu and limit_time_real (past either the
        worker is killed and the request rolled back whole)."""
        raw = self.env["ir.config_parameter"].sudo().get_param(SYNC_TIME_BUDGET_PARAM)
        budget = sync_service.DEFAULT_TIME_BUDGET_S
        if raw:
            try:
                value = float(raw)
            except ValueError:
                value = 0.0
            if value > 0 and value != float("inf"):
                budget = value
            else:
                _logger.warning(
                    "%s is %r, not a positive number of seconds: %ss used",
                    SYNC_TIME_BUDGET_PARAM,
                    raw,
                    budget,
                )
        for limit in ("limit_time_cpu", "limit_time_real"):
            seconds = tools.config.get(limit) or 0
            if seconds > 0:
                budget = min(budget, seconds / 2)
        return budget

    @api.model
    def _offline_sync_clock(self):
        """The monotonic clock the sync's time budget is measured on (tests replace it)."""
        return time.monotonic()

    @api.model
    def offline_process_card(self, payload):
        config = self._offline_check_access(payload)
        return self.env["pos.offline.card.attempt"]._offline_process(config, payload)

    @api.model
    def offline_card_public_key(self, payload):
        config = self._offline_check_access(payload)
        key = config._offline_card_public_key()
        if not key:
            raise UserError(
                self.env._("No payment method of this register captures cards offline.")
            )
        return key

    @api.model
    def offline_register_settings(self, payload):
        """The register's offline settings as they are now. Odoo's POS reloads its data only
        when opened from the back office (a refresh or a new login reuses the browser's copy),
        so the register asks for these few on every load."""
        config = self._offline_check_access(payload)
        methods = config.payment_method_ids
        return {
            "v": 1,
            "allow_offline_mode": config.allow_offline_mode,
            "allow_offline_auto_detect": config.allow_offline_auto_detect,
            "offline_auto_sync": config.offline_auto_sync,
            "offline_card_max_amount": config.offline_card_max_amount,
            "offline_card_max_total": config.offline_card_max_total,
            "offline_card_max_age_hours": config.offline_card_max_age_hours,
            "offline_card_capture": {str(m.id): m.offline_card_capture for m in methods},
            # As with the POS data: the key only when offline mode is on.
            "card_public_key": config.allow_offline_mode and config._offline_card_public_key(),
        }

    @api.model
    def offline_device_report(self, payload):
        """What the calling browser profile still holds for the register (CONTRACTS §2)."""
        config = self._offline_check_access(payload)
        try:
            report = device_report.parse_report(payload)
        except device_report.DeviceReportError as exc:
            raise UserError(self.env._("Malformed device report: %s", exc.reason)) from None
        applied = self.env["pos.offline.device"]._offline_apply_report(config, report)
        return {"v": 1, "applied": applied, "heartbeat_s": device_report.HEARTBEAT_SECONDS}

    @api.model
    def _offline_check_access(self, payload):
        """The caller must be a POS user allowed in the register's company; returns the
        register. Every method the POS calls goes through here first."""
        if not self.env.user.has_group("point_of_sale.group_pos_user"):
            raise AccessError(self.env._("Only Point of Sale users can sync offline orders."))
        if not isinstance(payload, dict) or payload.get("v") != 1:
            raise UserError(self.env._("Malformed offline payload: expected a version 1 object."))
        config_id = payload.get("config_id")
        if not isinstance(config_id, int) or isinstance(config_id, bool):
            raise UserError(
                self.env._("Malformed offline payload: config_id must be a register id.")
            )
        if not 0 < config_id <= MAX_ID:
            # Past PostgreSQL's integer the query itself would fail (NumericValueOutOfRange).
            raise UserError(
                self.env._(
                    "Malformed offline payload: config_id is not a register id (ids are 1 to %s).",
                    MAX_ID,
                )
            )
        config = self.env["pos.config"].sudo().browse(config_id).exists()
        if not config or config.company_id not in self.env.user.company_ids:
            raise AccessError(self.env._("You have no access to this Point of Sale."))
        return config.sudo(False).with_company(config.company_id)

    # -- after Odoo stored an offline order --------------------------------------------------
    def _offline_after_sync(self, card_failures):
        self.ensure_one()
        vals = {"offline_synced": True}
        if card_failures:
            text = self.env._("Card payment failed: %s", "; ".join(card_failures))
            vals["offline_card_failed"] = True
            reasons = [self.offline_card_failure, text]
            vals["offline_card_failure"] = "\n".join(filter(None, reasons))
            self.message_post(body=Markup("<p>%s</p>") % text)
        self.write(vals)

    def action_pos_order_paid(self):
        res = super().action_pos_order_paid()
        # However it was paid since (Odoo's Payment button, the register, a new card), the
        # order no longer waits: the flag goes, the reason stays on the order.
        if self.offline_card_failed and self.state != "draft":
            self.offline_card_failed = False
        return res

    def _offline_mark_paid_by_card(self, outcome, amount):
        """A card charged through the ledger pays the order: add its payment (once per
        PaymentIntent), finish the order when paid. Returns whether it was added.

        Takes the charge's outcome, not the ledger row: the row was committed by the ledger's
        own cursor after this transaction's snapshot was taken, so it is not visible here.
        The order's row is locked first: two requests recording the same charge at once (two
        managers, a manager and the register's sync) then serialise, and the later one, which
        Odoo retries on the serialization failure, finds the payment already there."""
        self.ensure_one()
        self.env.cr.execute(
            SQL("SELECT id FROM pos_order WHERE id = %s FOR NO KEY UPDATE", self.id)
        )
        if outcome["payment_intent_id"] in self.payment_ids.mapped("transaction_id"):
            return False  # a second click on the same wizard: already recorded
        method = self._offline_card_payment_method()
        self.add_payment(
            {
                "pos_order_id": self.id,
                "amount": amount,
                "payment_date": fields.Datetime.now(),
                "payment_method_id": method.id,
                "transaction_id": outcome["payment_intent_id"],
                "card_brand": outcome.get("brand"),
                "card_no": outcome.get("last4"),
                "payment_status": "done",
            }
        )
        if self._is_pos_order_paid():
            self.write({"offline_card_failed": False})
            self._process_saved_order(False)
        self.message_post(
            body=self.env._(
                "New card %(brand)s **** %(last4)s charged: %(pi)s",
                brand=(outcome.get("brand") or "").upper(),
                last4=outcome.get("last4") or "",
                pi=outcome["payment_intent_id"],
            )
        )
        return True

    def _offline_card_payment_method(self):
        methods = self.session_id.payment_method_ids or self.config_id.payment_method_ids
        method = methods.filtered("offline_card_capture")[:1]
        if not method:
            raise UserError(self.env._("This register has no payment method that captures cards."))
        return method

    def action_offline_charge_new_card(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Charge New Card"),
            "res_model": "pos.offline.charge.card",
            "view_mode": "form",
            "target": "new",
            "context": {"default_order_id": self.id},
        }
