# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import json
import uuid

import psycopg2.errors
from odoo import SUPERUSER_ID, api, fields, models
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
    legacy_unknown = fields.Boolean(
        string="Checked at Stripe First",
        readonly=True,
        copy=False,
        help="Left without an outcome by an earlier version, which confirmed its PaymentIntent "
        "at once without recording it: Stripe is searched for it before anything is charged.",
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
            return self._offline_service(config, back_office=back_office).process(
                payload, back_office=back_office
            )
        except card_charge.CardRequestError as exc:
            raise UserError(self.env._("Malformed card request: %s", exc)) from None

    @api.model
    def _offline_order_standing(self, order_uuid):
        """The core's OrderStanding of an order, or None when Odoo does not hold it yet. Read
        from committed data (a cursor of its own: the request's snapshot may predate another
        caller's payment) and from this request's view; the more paid of the two counts.
        Not scoped to the company on purpose: whatever company holds that uuid, a settled
        order is settled."""
        standings = []
        with self.env.registry.cursor() as cr:
            committed = api.Environment(cr, SUPERUSER_ID, {})
            standings.append(_standing(committed["pos.order"].search([("uuid", "=", order_uuid)])))
        here = self.env["pos.order"].sudo().search([("uuid", "=", order_uuid)])
        standings.append(_standing(here))
        standings = [s for s in standings if s is not None]
        if not standings:
            return None
        return card_charge.OrderStanding(
            total_minor=max(s.total_minor for s in standings),
            paid_minor=max(s.paid_minor for s in standings),
            recorded_intents=frozenset().union(*(s.recorded_intents for s in standings)),
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
            order_standing=self._offline_order_standing,
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


def _standing(orders):
    """OrderStanding of a pos.order (None for none). Money taken is every payment line but an
    offline card line without its charge (a line Odoo's own sync stored for the card, not
    charged yet)."""
    if not orders:
        return None
    order = orders[:1]
    currency = order.currency_id.name
    taken = order.payment_ids.filtered(
        lambda line: line.transaction_id or not line.payment_method_id.offline_card_capture
    )
    return card_charge.OrderStanding(
        total_minor=card_charge.to_minor_units(order.amount_total, currency),
        paid_minor=sum(card_charge.to_minor_units(line.amount, currency) for line in taken),
        recorded_intents=frozenset(filter(None, taken.mapped("transaction_id"))),
    )


class OdooAttemptLedger:
    """The core's AttemptLedger over pos_offline_card_attempt and pos_offline_card_lease.

    Every call is one short transaction on a cursor of its own, committed when it returns
    (`with registry.cursor()` commits on a clean exit): the ledger survives a rollback of the
    request around it, sees other callers' committed rows rather than the request's snapshot,
    and no transaction is left idle while Stripe is called. The order's lease is a committed
    row with an expiry in the database's clock; recording a PaymentIntent takes a share lock
    on the caller's own lease row in the same transaction, so a takeover (which updates that
    row) and a late record by the caller it replaced cannot both succeed.
    """

    LEASE_SECONDS = 120  # > the three Stripe calls of one charge at the client's 30 s timeout

    _COLUMNS = (
        "id, order_uuid, payment_uuid, attempt_no, state, amount, currency, "
        "order_reference, envelope, payment_intent_id, decline_code, message, "
        "card_brand, card_last4, legacy_unknown, extract(epoch from create_date)"
    )

    def __init__(self, env, config, lease_seconds=None):
        self.env = env
        # Read once: the ledger's own calls touch no record of the request's environment.
        self.config_id, self.company_id = config.id, config.company_id.id
        self.uid = env.uid
        self.lease_seconds = self.LEASE_SECONDS if lease_seconds is None else lease_seconds

    def _cursor(self):
        return self.env.registry.cursor()

    # -- the order's lease ------------------------------------------------------------------
    def lock_order(self, order_uuid):
        owner = uuid.uuid4().hex
        query = SQL(
            "INSERT INTO pos_offline_card_lease (order_uuid, owner, lease_until, "
            "create_uid, write_uid, create_date, write_date) "
            "VALUES (%s, %s, now() + make_interval(secs => %s), %s, %s, now(), now()) "
            "ON CONFLICT (order_uuid) DO UPDATE SET owner = EXCLUDED.owner, "
            "lease_until = EXCLUDED.lease_until, write_date = now() "
            "WHERE pos_offline_card_lease.lease_until < now() RETURNING owner",
            order_uuid,
            owner,
            self.lease_seconds,
            self.uid,
            self.uid,
        )
        with self._cursor() as cr:
            try:
                # Another caller taking the same lease at this moment: ours is then the
                # REPEATABLE READ transaction that meets its row, which is a plain "busy".
                with cr.savepoint(flush=False):
                    cr.execute(query, log_exceptions=False)
                    row = cr.fetchone()
            except psycopg2.errors.SerializationFailure:
                return None
        return card_charge.Lease(order_uuid, owner) if row and row[0] == owner else None

    def unlock_order(self, lease):
        with self._cursor() as cr:
            cr.execute(
                SQL(
                    "DELETE FROM pos_offline_card_lease WHERE order_uuid = %s AND owner = %s",
                    lease.order_uuid,
                    lease.owner,
                )
            )

    # -- attempts ---------------------------------------------------------------------------
    def claim(self, request, lease):
        with self._cursor() as cr:
            cr.execute(
                SQL(
                    "INSERT INTO pos_offline_card_attempt (order_uuid, payment_uuid, "
                    "order_reference, attempt_no, state, amount, currency, envelope, "
                    "company_id, config_id, create_uid, write_uid, create_date, write_date) "
                    "VALUES (%s, %s, %s, 1, %s, %s, %s, %s, %s, %s, %s, %s, now(), now()) "
                    "ON CONFLICT (order_uuid, payment_uuid) DO NOTHING",
                    request.order_uuid,
                    request.payment_uuid,
                    request.reference,
                    card_charge.PROCESSING,
                    float(request.amount),
                    request.currency,
                    json.dumps(request.envelope) if request.envelope else None,
                    self.company_id,
                    self.config_id,
                    self.uid,
                    self.uid,
                )
            )
            inserted = cr.rowcount == 1
            if not inserted:
                self._check_company(cr, request.order_uuid, request.payment_uuid)
            row = self._select(cr, request.order_uuid, request.payment_uuid)
            attempt = self._attempt(row)
            if inserted:
                return card_charge.Claim("new", attempt)
            if attempt.status in card_charge.FINAL:
                return card_charge.Claim("done", attempt)
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
        return card_charge.Claim("resume", attempt)

    @staticmethod
    def _holds(cr, lease):
        """Whether `lease` still holds its order; the share lock keeps a takeover (which
        updates that row) out until this transaction ends."""
        cr.execute(
            SQL(
                "SELECT 1 FROM pos_offline_card_lease WHERE order_uuid = %s AND owner = %s "
                "FOR SHARE",
                lease.order_uuid,
                lease.owner,
            )
        )
        return cr.fetchone() is not None

    def record_intent(self, attempt, lease, payment_intent_id, brand=None, last4=None):
        with self._cursor() as cr:
            if not self._holds(cr, lease):
                return None
            cr.execute(
                SQL(
                    "UPDATE pos_offline_card_attempt SET payment_intent_id = %s, envelope = NULL, "
                    "legacy_unknown = false, card_brand = COALESCE(card_brand, %s), "
                    "card_last4 = COALESCE(card_last4, %s), write_date = now() "
                    "WHERE id = %s AND payment_intent_id IS NULL",
                    payment_intent_id,
                    brand,
                    last4,
                    attempt.id,
                )
            )
            cr.execute(
                SQL(
                    "SELECT payment_intent_id FROM pos_offline_card_attempt WHERE id = %s",
                    attempt.id,
                )
            )
            return cr.fetchone()[0]

    def clear_legacy(self, attempt, lease):
        with self._cursor() as cr:
            if not self._holds(cr, lease):
                return False
            cr.execute(
                SQL(
                    "UPDATE pos_offline_card_attempt SET legacy_unknown = false, "
                    "write_date = now() WHERE id = %s",
                    attempt.id,
                )
            )
        return True

    def settle(self, attempt, outcome):
        with self._cursor() as cr:
            cr.execute(
                SQL(
                    "UPDATE pos_offline_card_attempt SET state = %s, "
                    "payment_intent_id = COALESCE(payment_intent_id, %s), decline_code = %s, "
                    "message = %s, card_brand = COALESCE(%s, card_brand), "
                    "card_last4 = COALESCE(%s, card_last4), envelope = NULL, write_date = now() "
                    "WHERE id = %s AND state NOT IN %s",
                    outcome["status"],
                    outcome.get("payment_intent_id"),
                    outcome.get("decline_code"),
                    outcome.get("message"),
                    outcome.get("brand"),
                    outcome.get("last4"),
                    attempt.id,
                    card_charge.FINAL,
                )
            )

    def release(self, attempt, message):
        with self._cursor() as cr:
            cr.execute(
                SQL(
                    "UPDATE pos_offline_card_attempt SET state = %s, message = %s, "
                    "write_date = now() WHERE id = %s AND state = %s",
                    card_charge.RETRYABLE,
                    message,
                    attempt.id,
                    card_charge.PROCESSING,
                )
            )

    def get(self, order_uuid, payment_uuid):
        with self._cursor() as cr:
            self._check_company(cr, order_uuid, payment_uuid)
            row = self._select(cr, order_uuid, payment_uuid)
        return self._attempt(row) if row else None

    def order_attempts(self, order_uuid):
        with self._cursor() as cr:
            cr.execute(
                SQL(
                    "SELECT %s FROM pos_offline_card_attempt WHERE order_uuid = %s "
                    "AND company_id = %s ORDER BY id",
                    SQL(self._COLUMNS),
                    order_uuid,
                    self.company_id,
                )
            )
            rows = cr.fetchall()
        return [self._attempt(row) for row in rows]

    # -- helpers ----------------------------------------------------------------------------
    def _select(self, cr, order_uuid, payment_uuid):
        cr.execute(
            SQL(
                "SELECT %s FROM pos_offline_card_attempt WHERE order_uuid = %s "
                "AND payment_uuid = %s",
                SQL(self._COLUMNS),
                order_uuid,
                payment_uuid,
            )
        )
        return cr.fetchone()

    def _check_company(self, cr, order_uuid, payment_uuid):
        """The ledger is keyed on uuids alone: a payment of another company's register is
        neither shown (its PaymentIntent, card) nor resumed with this company's Stripe key."""
        cr.execute(
            SQL(
                "SELECT company_id FROM pos_offline_card_attempt WHERE order_uuid = %s "
                "AND payment_uuid = %s",
                order_uuid,
                payment_uuid,
            )
        )
        row = cr.fetchone()
        if row and row[0] != self.company_id:
            raise card_charge.CardRequestError("this payment belongs to another company")

    @staticmethod
    def _attempt(row):
        (rid, order_uuid, payment_uuid, attempt_no, state, amount, currency, reference,
         envelope, pi, decline_code, message, brand, last4, legacy, created) = row  # fmt: skip
        return card_charge.Attempt(
            id=rid,
            order_uuid=order_uuid,
            payment_uuid=payment_uuid,
            attempt_no=attempt_no,
            status=state,
            amount_minor=card_charge.to_minor_units(amount, currency),
            currency=currency,
            reference=reference or "",
            envelope=json.loads(envelope) if envelope else None,
            payment_intent_id=pi,
            decline_code=decline_code,
            message=message,
            brand=brand,
            last4=last4,
            legacy_unknown=bool(legacy),
            created_at=float(created) if created is not None else None,
        )
