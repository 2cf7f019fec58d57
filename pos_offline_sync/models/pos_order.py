# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import logging
import random
import time
from contextlib import contextmanager

import odoo.modules.module
from markupsafe import Markup
from odoo import api, fields, models, tools
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL
from psycopg2 import errors as pg_errors

from ..core import device_report, order_identity, sync_service
from ..core.order_schema import MAX_ID
from .offline_create_ahead import CREATE_AHEAD_MODULES, CreateAhead, extending_modules
from .offline_order_sink import (
    CHATTER_LATER_KEY,
    CREATE_AHEAD_KEY,
    DEFER_PICKING_KEY,
    IDENTITY_CHECKED_KEY,
    NO_READ_BACK_KEY,
    RETRYABLE,
    ChatterLater,
    OdooOrderSink,
)

_logger = logging.getLogger(__name__)
# What makes mail.thread's create leave out the creator's following or the creation note.
CALLER_CHATTER_KEYS = ("tracking_disable", "mail_create_nolog", "mail_create_nosubscribe")
SYNC_TIME_BUDGET_PARAM = "pos_offline_sync.sync_time_budget_s"
# pg_advisory_xact_lock(namespace, config id): one offline sync of a register's config at a time.
SYNC_TURN_LOCK = 0x504F5331  # "POS1"
SYNC_TURN_WAIT = "20s"  # then LockNotAvailable, and Odoo replays the request
PICKING_CRON_XMLID = "pos_offline_sync.ir_cron_offline_pickings"
# At most this many orders per committed chunk, and no more than CHUNK_SECONDS of work: a
# chunk's row locks (which make a session's closing refuse) last a few seconds, a worker killed
# loses that little, and the commits cost little.
PICKING_CHUNK = 25
CHUNK_SECONDS = 3.0
# More pending than this for one session and its closing refuses, leaving them to the cron,
# rather than make them all in its own request, which the worker limits could kill.
CLOSE_MAX_PENDING = 100
# Landing first: the cron makes no picking while a register's sync (or a CSV chunk) holds its
# turn, and starts a run only once none has for LANDING_QUIET_S (polled every LANDING_POLL_S):
# pickings made during a landing take the CPU (and, in a threaded Odoo, the GIL) that the
# orders still waiting in the browsers need; each one is made afterwards all the same.
LANDING_QUIET_S = 1.0
LANDING_POLL_S = 0.2
# The sets of modules that turned the create ahead off, said once a process.
_CREATE_AHEAD_OFF_SAID = set()


class PosOrder(models.Model):
    _inherit = "pos.order"

    offline_synced = fields.Boolean(
        string="Synced from Offline",
        readonly=True,
        copy=False,
        help="Captured by the register while offline and synced later.",
    )
    offline_register_line_uuids = fields.Boolean(
        string="Lines Named by the Register",
        readonly=True,
        copy=False,
        help="Its lines carry the uuids the register gave them (not an order made from a CSV "
        "row): another sale sent under its uuid is told apart by them.",
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
    # Deferred pickings. Picking creation is most of sync_from_ui's time, so an offline order
    # lands without it and a cron makes it right after, with Odoo's own _create_order_picking
    # (the same moves and valuation as the per-order path). The flag is written in the order's
    # transaction and cleared in the picking's: whatever dies in between, each order gets its
    # picking exactly once.
    offline_picking_pending = fields.Boolean(
        string="Picking Pending",
        readonly=True,
        copy=False,
        index=True,
        help="Synced from offline: its stock picking is being created in the background, at "
        "the latest when its session closes.",
    )
    offline_picking_error = fields.Text(
        string="Picking Error",
        readonly=True,
        copy=False,
        help="Why the background creation of this order's picking failed; closing the session "
        "tries again and refuses with this reason if it fails again.",
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

    @api.model_create_multi
    def create(self, vals_list):
        later = self.env.context.get(CHATTER_LATER_KEY)
        # Stored in a sync's group (offline_order_sink.py): their creator's following and
        # creation note are added with the group's others at once (_offline_log_creation),
        # unless the caller asked for less chatter (then Odoo's create gives what it asked).
        chatter_later = isinstance(later, ChatterLater) and not any(
            self.env.context.get(key) for key in CALLER_CHATTER_KEYS
        )
        maker = (
            self.with_context(mail_create_nolog=True, mail_create_nosubscribe=True)
            if chatter_later
            else self
        )
        make = super(PosOrder, maker).create
        ahead = self.env.context.get(CREATE_AHEAD_KEY)
        orders = None
        if isinstance(ahead, CreateAhead):
            # The group's new orders made by the first one's create (offline_create_ahead.py).
            orders = ahead.make_or_claim(make, vals_list, self.env.cr.savepoint)
        if orders is None:
            orders = make(vals_list)
        # The records go on in this environment: what the order makes next (an invoice) gets
        # its own chatter as usual.
        orders = orders.with_env(self.env)
        if chatter_later:
            later.ids.extend(orders.ids)
        return orders

    @api.model
    def _offline_may_create_ahead(self):
        """One create for a group's new orders only while no module but the ones read for it
        extends the orders, their lines and payments (offline_create_ahead.py)."""
        unread = frozenset(extending_modules(self.env) - CREATE_AHEAD_MODULES)
        if unread and unread not in _CREATE_AHEAD_OFF_SAID:
            _CREATE_AHEAD_OFF_SAID.add(unread)
            _logger.info(
                "offline sync: each order created alone (these modules extend the orders: %s)",
                ", ".join(sorted(unread)),
            )
        return not unread

    def _get_open_order(self, order):
        ahead = self.env.context.get(CREATE_AHEAD_KEY)
        if (
            isinstance(ahead, CreateAhead)
            and isinstance(order, dict)
            and ahead.holds(order.get("uuid"))
        ):
            # Made ahead by its group's first create, it is created on its own turn: until
            # then it does not exist for Odoo's sync, as in Odoo's path.
            return self.browse()
        return super()._get_open_order(order)

    def _offline_log_creation(self):
        """What mail.thread's create adds to each new record, for these orders at once (a
        batch of messages instead of one each, the same records): the creating user follows
        them, and each gets its creation note."""
        if not self:
            return
        user = self.env.user
        if user.active and not user.share:
            self.env["mail.followers"]._insert_followers(
                self._name,
                self.ids,
                user.partner_id.ids,
                subtypes=None,
                customer_ids=[],
                check_existing=True,
            )
        plain = self.filtered(lambda order: not order._creation_subtype())
        for order in self - plain:
            order.sudo().message_post(
                subtype_id=order._creation_subtype().id,
                author_id=user.partner_id.id,
                body=Markup('<div summary="o_mail_notification"><p>%s</p></div>')
                % order._creation_message(),
            )
        if plain:
            plain._message_log_batch(
                bodies={order.id: order._creation_message() for order in plain}
            )

    # -- one uuid, two sales (core/order_identity.py) ---------------------------------------
    @api.model
    def sync_from_ui(self, orders):
        # Odoo answers an order whose uuid is stored and paid with "sync ignored": a sale rung
        # into a stale copy of a paid order (Odoo's IndexedDB after a quick reload) would be
        # lost, money taken. With offline mode on, it is stored as the new sale it is.
        notes, answer_uuids = {}, {}
        checked = self.env.context.get(IDENTITY_CHECKED_KEY)
        for order in orders:
            if not isinstance(order, dict):
                continue
            if self._offline_has_register_line_uuids(order):
                order["offline_register_line_uuids"] = True
            if not checked and self._offline_reuses_uuid(order):
                old = order["uuid"]
                new = self._offline_renumber(order)
                answer_uuids[new] = old
                # Stored now: said once (a resend of that sale is Odoo's "sync ignored").
                if not self.sudo().search_count([("uuid", "=", new)]):
                    notes[new] = old
        result = super().sync_from_ui(orders)
        for new, old in notes.items():
            self.search([("uuid", "=", new)], limit=1)._offline_note_reused_uuid(old)
        # The register knows the order by the uuid it sent: the answer names it so, and the
        # register's copy becomes the stored order (not one it would send again forever).
        for record in result.get("pos.order", []) if isinstance(result, dict) else []:
            if isinstance(record, dict) and record.get("uuid") in answer_uuids:
                record["uuid"] = answer_uuids[record["uuid"]]
        return result

    def read_pos_data(self, data, config):
        if self.env.context.get(NO_READ_BACK_KEY):
            # The addon's sync reads nothing of the answer; Odoo's own overrides of
            # sync_from_ui (pos_sale, pos_self_order) read the orders' ids from it.
            empty = (
                "pos.session",
                "pos.payment",
                "pos.order.line",
                "pos.pack.operation.lot",
                "product.attribute.custom.value",
                "account.move",
            )
            answer = {key: [] for key in empty}
            answer["pos.order"] = [{"id": order.id, "uuid": order.uuid} for order in self]
            return answer
        return super().read_pos_data(data, config)

    @api.model
    def _offline_has_register_line_uuids(self, ui_order):
        lines = [c for c in ui_order.get("lines") or [] if isinstance(c, (list, tuple))]
        return bool(lines) and all(
            len(c) > 2 and isinstance(c[2], dict) and c[2].get("uuid") for c in lines
        )

    @api.model
    def _offline_ui_identity(self, ui_order):
        """The identity (core/order_identity.py) of Odoo's UI order data."""

        def created(commands):
            return [c[2] for c in commands or [] if isinstance(c, (list, tuple)) and len(c) > 2]

        lines = [v for v in created(ui_order.get("lines")) if isinstance(v, dict)]
        payments = [v for v in created(ui_order.get("payment_ids")) if isinstance(v, dict)]
        return order_identity.SaleIdentity.of(
            payment_uuids=[p.get("uuid") for p in payments],
            line_uuids=[line.get("uuid") for line in lines],
            lines=[(line.get("product_id") or 0, line.get("qty") or 0) for line in lines],
            total=ui_order.get("amount_total") or 0.0,
        )

    def _offline_identity(self):
        """The identity of this stored order."""
        self.ensure_one()
        return order_identity.SaleIdentity.of(
            payment_uuids=self.payment_ids.mapped("uuid"),
            # Lines made from a CSV row got random uuids: they name nothing the register knows.
            line_uuids=self.lines.mapped("uuid") if self.offline_register_line_uuids else (),
            lines=[(line.product_id.id, line.qty) for line in self.lines],
            total=self.amount_total,
        )

    @api.model
    def _offline_reuses_uuid(self, ui_order):
        """True when `ui_order` is another sale than the finished order stored under its
        uuid, on a register with offline mode on (else Odoo's own answer stays)."""
        order_uuid = ui_order.get("uuid")
        # Without a state Odoo stores the order as finished too (_process_order).
        if not isinstance(order_uuid, str) or ui_order.get("state") in ("draft", "cancel"):
            return False
        stored = self.sudo().search([("uuid", "=", order_uuid)], limit=1)
        if not stored or stored.state in ("draft", "cancel"):
            return False
        if not stored.config_id.allow_offline_mode:
            return False
        rounding = stored.currency_id.rounding or 0.01
        return not order_identity.same_sale(
            stored._offline_identity(), self._offline_ui_identity(ui_order), rounding
        )

    @api.model
    def _offline_renumber(self, ui_order):
        """Gives `ui_order` (in place) the uuid another sale sent under its uuid is stored
        under; returns it."""
        new = order_identity.reused_uuid(ui_order["uuid"], self._offline_ui_identity(ui_order))
        _logger.warning(
            "POS order %s is another sale than the order stored under that uuid: stored as %s",
            ui_order["uuid"],
            new,
        )
        ui_order["uuid"] = new
        return new

    def _offline_note_reused_uuid(self, old_uuid):
        for order in self:
            order.message_post(
                body=self.env._(
                    "This sale reached the server under the number (uuid %(uuid)s) of another "
                    "order, already stored (the register reused it, e.g. after a reload). It "
                    "was stored as this new order instead of being dropped.",
                    uuid=old_uuid,
                )
            )

    @api.model
    def _load_pos_data_fields(self, config):
        fields_ = super()._load_pos_data_fields(config)
        # An empty list means every field (ours included): adding one would load only it.
        return fields_ + ["offline_card_failure"] if fields_ else fields_

    # -- entry points called by the register (CONTRACTS §2) ---------------------------------
    @api.model
    def offline_sync_orders(self, payload):
        config = self._offline_check_access(payload)
        started = self._offline_sync_clock()
        with self._offline_sync_turn(config) as env:
            # with_env drops the context: the register's company is set again.
            config = config.with_env(env).with_company(config.company_id)
            self.with_env(env)._offline_prepare_landing(config, payload)
            sink = OdooOrderSink(env, config)
            try:
                answer = sync_service.sync_batch(
                    payload,
                    sink,
                    # The wait for the turn counts: the worker limits run from the request's
                    # start, not from the turn's.
                    time_budget_s=self._offline_sync_time_budget(since=started),
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
        self._offline_wait_turn(self.env.cr, config.id)
        if self._offline_turn_in_request_cursor():
            yield self.env
            return
        with self.env.registry.cursor() as turn_cr:
            yield self.env(cr=turn_cr)

    @api.model
    def _offline_wait_turn(self, cr, config_id):
        """Waits for the turn of the offline syncs of config `config_id` (the register's sync
        and the CSV import alike), held by `cr`'s transaction until it ends; past
        SYNC_TURN_WAIT, LockNotAvailable. Store in a transaction begun after this returns: one
        begun before saw the previous turn's writes as changes under it."""
        cr.execute(SQL("SET LOCAL lock_timeout = %s", SYNC_TURN_WAIT))
        # Not logged as a bad query when it times out: the caller (Odoo's request replay, the
        # CSV chunk's retry) answers it.
        cr.execute(
            SQL("SELECT pg_advisory_xact_lock(%s, %s)", SYNC_TURN_LOCK, config_id),
            log_exceptions=False,
        )
        cr.execute(SQL("SET LOCAL lock_timeout = 0"))

    @api.model
    def _offline_turn_in_request_cursor(self):
        """In Odoo's tests a sync stores in the request's cursor (nothing committed); the
        tests of concurrent turns answer False to run the production path."""
        return bool(odoo.modules.module.current_test)

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
    def _offline_sync_time_budget(self, since=None):
        """Seconds one sync request (or CSV import chunk) may spend on its orders before the
        rest are answered deferred (CONTRACTS §2): the system parameter, 10 by default, and
        at most half of the worker's limit_time_cpu and limit_time_real (past either the
        worker is killed and the request rolled back whole); less what was spent since
        `since` (on _offline_sync_clock), waiting for the register's turn. At 0 the core
        still stores the batch's first order."""
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
        if since is not None:
            budget = max(0.0, budget - (self._offline_sync_clock() - since))
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

    # -- deferred pickings --------------------------------------------------------------------
    def _create_order_picking(self):
        if self.env.context.get(DEFER_PICKING_KEY) and self._offline_may_defer_picking():
            # In the order's own transaction: an order never lands without its flag. The sink
            # that set the key triggers the cron once its call has stored every order.
            self.offline_picking_pending = True
            return None
        return super()._create_order_picking()

    def _offline_may_defer_picking(self):
        """Only the plain real-time case. With "update the stock at the session closing" Odoo
        makes no per-order picking and nothing changes; an order to invoice (its anglo-saxon
        entries read the moves) or to ship later keeps Odoo's path."""
        self.ensure_one()
        return (
            not self.shipping_date
            and not self.to_invoice
            and not self.session_id.update_stock_at_closing
            and not self.picking_ids
        )

    def _compute_total_cost_in_real_time(self):
        # Odoo computes the lines' cost right after the picking, from its moves (FIFO/AVCO)
        # and only once: a pending order's is computed when its picking is made.
        return super(
            PosOrder, self.filtered(lambda o: not o.offline_picking_pending)
        )._compute_total_cost_in_real_time()

    @api.model
    def _offline_trigger_picking_cron(self):
        cron = self.env.ref(PICKING_CRON_XMLID, raise_if_not_found=False)
        if cron:
            cron.sudo()._trigger()

    def _offline_create_pending_picking(self):
        """Odoo's own picking (and the line costs it feeds) for one pending order, then the flag
        cleared, in one savepoint: a failure leaves the order pending with its reason.
        Returns whether the picking was made. The caller holds the order's row lock."""
        self.ensure_one()
        if not self.offline_picking_pending:
            return False  # made meanwhile by whoever held the lock before us
        order = self.with_company(self.company_id).with_context(**{DEFER_PICKING_KEY: False})
        try:
            with self.env.cr.savepoint():
                order._create_order_picking()
                order.write({"offline_picking_pending": False, "offline_picking_error": False})
                order._compute_total_cost_in_real_time()
                self.env.flush_all()
        except RETRYABLE:
            raise  # another worker holds what this needs: the caller retries the whole chunk
        except Exception as exc:  # noqa: BLE001 - one order's picking must not stop the backlog
            # Any failure (Odoo's UserError, a RedirectWarning, a constraint of stock or
            # account) is kept on the order with its reason, so the cron goes on with the
            # next orders and the closing says why, instead of failing on it again and again.
            reason = str(exc.args[0] if exc.args else exc) or type(exc).__name__
            _logger.warning("Deferred picking of POS order %s failed: %s", self.id, reason)
            self.env.invalidate_all()  # the cache may hold what the savepoint rolled back
            self.offline_picking_error = reason
            return False
        return True

    def action_pos_order_invoice(self):
        # Odoo invoices as if the picking existed (real-time stock) and reads the invoice's
        # cost of goods from its moves: a picking still pending is made first, else those
        # cost lines would be 0.
        for order in self.filtered("offline_picking_pending"):
            locked = order._offline_lock_pending_or_refuse(
                SQL("id = %s", order.id),
                self.env._(
                    "The stock picking of this order is being created right now: "
                    "invoice it again in a moment."
                ),
            )
            if locked and not locked._offline_create_pending_picking():
                raise UserError(
                    self.env._(
                        "The stock picking of this order could not be created, so it cannot be "
                        "invoiced yet: %s",
                        locked.offline_picking_error,
                    )
                )
        return super().action_pos_order_invoice()

    @api.model
    def _offline_lock_pending(self, where, limit=None, skip_locked=True):
        """Pending orders matching `where` (SQL), locked for this transaction. SKIP LOCKED lets
        parallel workers share the backlog: each takes rows no other holds; NOWAIT raises
        LockNotAvailable (not logged: the caller answers it) when another holds one."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "SELECT id FROM pos_order WHERE offline_picking_pending AND %s ORDER BY id %s %s",
                where,
                SQL("LIMIT %s", limit) if limit else SQL(),
                SQL("FOR UPDATE SKIP LOCKED") if skip_locked else SQL("FOR UPDATE NOWAIT"),
            ),
            log_exceptions=False,
        )
        orders = self.browse([row[0] for row in self.env.cr.fetchall()])
        # The flags as they are now under the lock, not as this transaction last read them.
        orders.invalidate_recordset(["offline_picking_pending", "offline_picking_error"])
        return orders

    @api.model
    def _offline_lock_pending_or_refuse(self, where, busy_message):
        """_offline_lock_pending without skipping: the caller (the invoice, the closing) needs
        every order it names, so one a worker holds mid-chunk refuses with `busy_message`."""
        try:
            with self.env.cr.savepoint(flush=False):
                return self._offline_lock_pending(where, skip_locked=False)
        except pg_errors.LockNotAvailable:
            raise UserError(busy_message) from None

    @api.model
    def _offline_pickings_chunk(self, limit=PICKING_CHUNK, seconds=None):
        """One chunk of the backlog (no commit here): the pending orders it made the pickings
        of, at least one, stopping once `seconds` are spent (the rest of the rows it locked
        are left pending, unlocked at the commit)."""
        orders = self._offline_lock_pending(SQL("offline_picking_error IS NULL"), limit)
        deadline = time.monotonic() + seconds if seconds else None
        done = self.browse()
        for order in orders:
            order._offline_create_pending_picking()
            done |= order
            if deadline and time.monotonic() >= deadline:
                break
        return done

    @api.model
    def _offline_landing_now(self):
        """Whether another connection holds a register's sync turn: an offline sync or a CSV
        chunk is storing orders right now (pos.order._offline_wait_turn)."""
        self.env.cr.execute(
            SQL(
                """SELECT 1 FROM pg_locks
                    WHERE locktype = 'advisory' AND granted AND classid = %s AND objsubid = 2
                      AND database = (SELECT oid FROM pg_database
                                       WHERE datname = current_database())
                      AND pid <> pg_backend_pid()
                    LIMIT 1""",
                SYNC_TURN_LOCK,
            )
        )
        return bool(self.env.cr.fetchone())

    @api.model
    def _offline_wait_for_landings(self, quiet, end):
        """Waits until no landing has been seen for `quiet` seconds (none now, if 0); False
        if the monotonic time `end` came first. Having waited, it commits the cron's progress
        (nothing done): the chunk after it then reads in a new snapshot, which holds the
        orders landed meanwhile."""
        quiet_since = time.monotonic()
        waited = quiet_now = False
        while True:
            now = time.monotonic()
            if self._offline_landing_now():
                quiet_since = now
            elif now - quiet_since >= quiet:
                quiet_now = True
                break
            if now >= end:
                break
            waited = True
            time.sleep(LANDING_POLL_S)
        if waited:
            self.env["ir.cron"]._commit_progress()
        return quiet_now

    @api.model
    def _offline_pending_count(self):
        return self.search_count(
            [("offline_picking_pending", "=", True), ("offline_picking_error", "=", False)]
        )

    @api.model
    def _offline_run_pending_pickings(self, chunk=PICKING_CHUNK):
        """The cron: chunks of pending pickings, each committed, until none is left or the
        cron's time is up. ir.cron calls this again and again for a run of at least 10 s and
        10 calls; past its end time a call does nothing but say how many remain, which ends
        the run and triggers the job again. So a cron worker's run lasts about 10 s and a
        chunk, far from the worker limits that would kill it (and lose its chunk)."""
        Cron = self.env["ir.cron"]
        end = self.env.context.get("cron_end_time")
        # Called again past its end, a run's call only says what remains (below).
        first_call = end is None or time.monotonic() < end
        quiet = LANDING_QUIET_S
        conflicts = chunks = 0
        while True:
            landings_quiet = end is None or self._offline_wait_for_landings(quiet, end)
            if not landings_quiet and not (first_call and chunks == 0):
                remaining = self._offline_pending_count()
                if remaining:
                    # Rescheduled "as soon as possible", the job would still wait for a cron
                    # worker's next poll, up to a minute; a trigger's notification wakes one
                    # now.
                    self._offline_trigger_picking_cron()
                Cron._commit_progress(remaining=remaining)
                return
            # A run that waited its whole time for landings (a long CSV import, registers
            # syncing back to back) still makes one chunk: the pickings are never starved.
            quiet = 0.0  # between chunks: wait only while a landing is seen
            try:
                orders = self._offline_pickings_chunk(chunk, CHUNK_SECONDS)
            except pg_errors.SerializationFailure:
                # Another worker committed a row this chunk read (an order, or a product's
                # quant: parallel pickings of the same goods serialise there, as Odoo's own
                # requests do). Nothing of this chunk is kept: roll back (the chunk's whole
                # transaction, flags with pickings) and take a new snapshot after a pause.
                self.env.cr.rollback()
                self.env.invalidate_all()
                conflicts += 1
                if conflicts > 5:
                    raise
                time.sleep(random.uniform(0.05, 0.25) * conflicts)  # noqa: S311 - a jitter
                continue
            conflicts = 0
            chunks += 1
            if not orders:
                Cron._commit_progress(remaining=0)
                return
            remaining = self._offline_pending_count()
            # Commit (as queue_job commits each job): the chunk's pickings and its orders'
            # cleared flags become durable together and the row locks are released for the
            # session's closing; a worker killed before this line loses both, never one.
            if Cron._commit_progress(len(orders), remaining=remaining) <= 0:
                return

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
