# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import json

import psycopg2.errors
from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..core import card_charge, risk_limits
from ..core.card_gateway import GatewayFailure
from ..core.risk_limits import RiskLimits
from ..core.stripe_gateway import StripeGateway
from .pos_offline_card_key import OdooKeyStore


class PosOfflineCardAttempt(models.Model):
    """The card-attempt ledger: one row per (order uuid, payment uuid), written through its own
    cursor so it survives a rollback of the request that charged the card."""

    _name = "pos.offline.card.attempt"
    _description = "Offline Card Attempt"
    _order = "id desc"
    _rec_name = "order_reference"

    order_uuid = fields.Char(required=True, index=True, readonly=True)
    payment_uuid = fields.Char(required=True, readonly=True)
    order_reference = fields.Char(string="Order", readonly=True)
    attempt_no = fields.Integer(string="Attempt", default=1, readonly=True)
    state = fields.Selection(
        [
            ("processing", "Processing"),
            ("retryable", "To Retry"),
            ("succeeded", "Succeeded"),
            ("failed", "Failed"),
        ],
        default="processing",
        required=True,
        readonly=True,
    )
    payment_intent_id = fields.Char(string="PaymentIntent", readonly=True)
    decline_code = fields.Char(readonly=True)
    message = fields.Char(readonly=True)
    amount = fields.Float(readonly=True)
    currency = fields.Char(readonly=True)
    card_brand = fields.Char(string="Brand", readonly=True)
    card_last4 = fields.Char(string="Last 4", readonly=True)
    envelope = fields.Text(
        readonly=True,
        groups="base.group_system",
        copy=False,
        help="The encrypted card, kept only until the attempt has an outcome.",
    )
    company_id = fields.Many2one("res.company", required=True, index=True, readonly=True)
    config_id = fields.Many2one("pos.config", readonly=True, index=True)

    _unique_order_payment = models.Constraint(
        "unique (order_uuid, payment_uuid)",
        "A card payment of an order has one ledger entry.",
    )

    @api.model
    def _offline_find(self, order_uuid, payment_uuid, company):
        return self.search(
            [
                ("order_uuid", "=", order_uuid),
                ("payment_uuid", "=", payment_uuid),
                ("company_id", "=", company.id),
            ],
            limit=1,
        )

    # -- the charge path ---------------------------------------------------------------------
    @api.model
    def _offline_process(self, config, payload, back_office=False):
        """`offline_process_card` for a register whose access was checked by the caller, or
        (back_office) a manager's "Charge new card"."""
        try:
            return self._offline_service(config, back_office=back_office).process(payload)
        except card_charge.CardRequestError as exc:
            raise UserError(self.env._("Malformed card request: %s", exc)) from None

    @api.model
    def _offline_order_settled(self, order_uuid, payment_uuid):
        """True when the back office holds that order, no longer waiting for a payment, and
        not waiting for this one either (a line Odoo's own sync stored for the card, not
        charged yet). Not scoped to the company on purpose: whatever company holds that uuid,
        a settled order must not be charged again."""
        order = self.env["pos.order"].sudo().search([("uuid", "=", order_uuid)], limit=1)
        if not order or order.state == "draft":
            return False
        return not order.payment_ids.filtered(
            lambda line: line.uuid == payment_uuid and not line.transaction_id
        )

    @api.model
    def _offline_service(self, config, back_office=False):
        company = config.company_id
        secret, problem = self._offline_stripe_secret(company)
        gateway = None
        if secret:
            try:
                gateway = StripeGateway(secret, api_base=self._offline_stripe_api_base())
            except GatewayFailure as failure:
                problem = failure.message
        keys = OdooKeyStore(self.env, company)
        return card_charge.CardChargeService(
            ledger=OdooAttemptLedger(self.env, config),
            keys=keys,
            gateway=gateway,
            # The limits are for cards taken offline; a manager's back-office charge is online.
            limits=None
            if back_office
            else RiskLimits.from_config({f: config[f] for f in risk_limits.FIELDS}),
            # Without a KEK no card can be opened: nothing is written, the card is kept.
            config_problem=problem or keys.kek_problem_message(),
            order_settled=self._offline_order_settled,
        )

    @api.model
    def _offline_stripe_secret(self, company):
        """(secret, problem): the Stripe secret of the company's Stripe payment provider.

        payment_stripe is not a dependency: without it, cards are simply not configured."""
        if "payment.provider" not in self.env or (
            "stripe_secret_key" not in self.env["payment.provider"]._fields
        ):
            return None, self.env._("install the Stripe payment provider (payment_stripe).")
        providers = (
            self.env["payment.provider"]
            .sudo()
            .search([("code", "=", "stripe"), ("company_id", "=", company.id)])
            .filtered("stripe_secret_key")
        )
        # Prefer a provider in use; Odoo copies disabled providers into every company.
        provider = providers.filtered(lambda p: p.state != "disabled")[:1] or providers[:1]
        if not provider:
            return None, self.env._("set the secret key of the Stripe payment provider.")
        return provider.stripe_secret_key, None

    @api.model
    def _offline_stripe_api_base(self):
        # Only for test and demo hosts (localstripe); production talks to Stripe itself.
        return self.env["ir.config_parameter"].sudo().get_param("pos_offline_sync.stripe_api_base")


class OdooAttemptLedger:
    """The core's AttemptLedger over pos_offline_card_attempt, through cursors of its own.

    A claimed row stays locked (FOR UPDATE NOWAIT) by its cursor from claim to settle/release;
    a second caller meets the lock and is told "in progress". Each state change is committed
    at once on that cursor, so the ledger survives a rollback of the request around it.
    """

    _COLUMNS = (
        "id, order_uuid, payment_uuid, attempt_no, state, amount, currency, "
        "order_reference, envelope, payment_intent_id, decline_code, message, "
        "card_brand, card_last4"
    )

    def __init__(self, env, config):
        self.env = env
        self.config = config
        self._cursors = {}

    # -- protocol ---------------------------------------------------------------------------
    def claim(self, request):
        cr = self.env.registry.cursor()
        try:
            inserted = self._insert(cr, request)
            if inserted:
                # Durable before Stripe is called: a crash from here on leaves a trace.
                cr.commit()  # pylint: disable=invalid-commit
            else:
                self._check_company(cr, request)
            row = self._lock(cr, request.order_uuid, request.payment_uuid)
            if row is None:
                cr.rollback()
                cr.close()
                return card_charge.Claim("busy")
            attempt = self._attempt(row, request)
            if attempt.status in card_charge.FINAL:
                cr.rollback()
                cr.close()
                return card_charge.Claim("done", attempt)
            if inserted:
                state = "new"
            else:
                # Left processing by a dead caller, or retryable: a new attempt number.
                attempt.attempt_no += 1
                attempt.status = card_charge.PROCESSING
                cr.execute(
                    SQL(
                        "UPDATE pos_offline_card_attempt SET attempt_no = %s, state = %s, "
                        "write_date = now() WHERE id = %s",
                        attempt.attempt_no,
                        card_charge.PROCESSING,
                        attempt.id,
                    )
                )
                # The takeover must be durable before Stripe is asked again.
                cr.commit()  # pylint: disable=invalid-commit
                if self._lock(cr, request.order_uuid, request.payment_uuid) is None:
                    cr.close()
                    return card_charge.Claim("busy")
                state = "resume"
            attempt.owner = str(id(cr))
            self._cursors[attempt.owner] = cr
            return card_charge.Claim(state, attempt)
        except Exception:
            cr.rollback()
            cr.close()
            raise

    def settle(self, attempt, outcome):
        self._finish(
            attempt,
            SQL(
                "UPDATE pos_offline_card_attempt SET state = %s, payment_intent_id = %s, "
                "decline_code = %s, message = %s, card_brand = COALESCE(%s, card_brand), "
                "card_last4 = COALESCE(%s, card_last4), envelope = NULL, write_date = now() "
                "WHERE id = %s",
                outcome["status"],
                outcome.get("payment_intent_id"),
                outcome.get("decline_code"),
                outcome.get("message"),
                outcome.get("brand"),
                outcome.get("last4"),
                attempt.id,
            ),
        )

    def release(self, attempt, message):
        self._finish(
            attempt,
            SQL(
                "UPDATE pos_offline_card_attempt SET state = %s, message = %s, "
                "write_date = now() WHERE id = %s",
                card_charge.RETRYABLE,
                message,
                attempt.id,
            ),
        )

    def get(self, order_uuid, payment_uuid):
        self.env.cr.execute(
            SQL(
                "SELECT %s FROM pos_offline_card_attempt WHERE order_uuid = %s "
                "AND payment_uuid = %s",
                SQL(self._COLUMNS),
                order_uuid,
                payment_uuid,
            )
        )
        row = self.env.cr.fetchone()
        return self._attempt(row) if row else None

    # -- helpers ----------------------------------------------------------------------------
    def _finish(self, attempt, query):
        cr = self._cursors.pop(attempt.owner)
        try:
            cr.execute(query)
            # The outcome must outlive whatever the request does next.
            cr.commit()  # pylint: disable=invalid-commit
        finally:
            cr.close()

    def _insert(self, cr, request):
        cr.execute(
            SQL(
                "INSERT INTO pos_offline_card_attempt (order_uuid, payment_uuid, "
                "order_reference, attempt_no, state, amount, currency, envelope, company_id, "
                "config_id, create_uid, write_uid, create_date, write_date) "
                "VALUES (%s, %s, %s, 1, %s, %s, %s, %s, %s, %s, %s, %s, now(), now()) "
                "ON CONFLICT (order_uuid, payment_uuid) DO NOTHING",
                request.order_uuid,
                request.payment_uuid,
                request.reference,
                card_charge.PROCESSING,
                float(request.amount),
                request.currency,
                json.dumps(request.envelope) if request.envelope else None,
                self.config.company_id.id,
                self.config.id,
                self.env.uid,
                self.env.uid,
            )
        )
        return cr.rowcount == 1

    def _check_company(self, cr, request):
        """The ledger is keyed on uuids alone: a payment of another company's register is
        neither shown (its PaymentIntent, card) nor resumed with this company's Stripe key."""
        cr.execute(
            SQL(
                "SELECT company_id FROM pos_offline_card_attempt WHERE order_uuid = %s "
                "AND payment_uuid = %s",
                request.order_uuid,
                request.payment_uuid,
            )
        )
        row = cr.fetchone()
        if row and row[0] != self.config.company_id.id:
            raise card_charge.CardRequestError("this payment belongs to another company")

    def _lock(self, cr, order_uuid, payment_uuid):
        try:
            with cr.savepoint(flush=False):
                cr.execute(
                    SQL(
                        "SELECT %s FROM pos_offline_card_attempt WHERE order_uuid = %s "
                        "AND payment_uuid = %s FOR UPDATE NOWAIT",
                        SQL(self._COLUMNS),
                        order_uuid,
                        payment_uuid,
                    ),
                    # A held lock is an expected answer ("in progress"), not a bad query.
                    log_exceptions=False,
                )
                return cr.fetchone()
        except psycopg2.errors.LockNotAvailable:
            return None

    def _attempt(self, row, request=None):
        (rid, order_uuid, payment_uuid, attempt_no, state, amount, currency, reference,
         envelope, pi, decline_code, message, brand, last4) = row  # fmt: skip
        envelope = json.loads(envelope) if envelope else None
        if envelope is None and request is not None and state not in card_charge.FINAL:
            envelope = request.envelope
        return card_charge.Attempt(
            id=rid,
            order_uuid=order_uuid,
            payment_uuid=payment_uuid,
            attempt_no=attempt_no,
            status=state,
            amount_minor=card_charge.to_minor_units(amount, currency),
            currency=currency,
            reference=reference or "",
            envelope=envelope,
            payment_intent_id=pi,
            decline_code=decline_code,
            message=message,
            brand=brand,
            last4=last4,
        )
