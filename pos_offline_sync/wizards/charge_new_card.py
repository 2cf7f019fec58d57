# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import json
import uuid

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from ..core import card_charge


class PosOfflineChargeCard(models.TransientModel):
    """ "Charge new card" on an offline order whose card was declined.

    The card is sealed in the browser with the company's public key (same envelope as at the
    register); the server charges it through the same ledger, so a double click never charges
    twice: the wizard's payment uuid is the ledger key.
    """

    _name = "pos.offline.charge.card"
    _description = "Charge a New Card on an Offline Order"

    order_id = fields.Many2one("pos.order", required=True, readonly=True, ondelete="cascade")
    currency_id = fields.Many2one(related="order_id.currency_id")
    amount = fields.Monetary(required=True)
    payment_uuid = fields.Char(default=lambda self: str(uuid.uuid4()), readonly=True)
    envelope = fields.Text(string="Card", help="The card, encrypted in the browser.")
    public_key = fields.Char(compute="_compute_public_key")
    state = fields.Selection(
        [("draft", "New"), ("pending", "Being Charged Elsewhere"), ("failed", "Failed")],
        default="draft",
        required=True,
    )
    result_message = fields.Char(readonly=True)

    @api.model
    def default_get(self, fields_list):
        vals = super().default_get(fields_list)
        order = self.env["pos.order"].browse(vals.get("order_id"))
        if order and "amount" in fields_list:
            vals["amount"] = order.currency_id.round(order.amount_total - order.amount_paid)
        return vals

    @api.depends("order_id")
    def _compute_public_key(self):
        for wizard in self:
            key = wizard.order_id.config_id.sudo()._offline_card_public_key()
            wizard.public_key = json.dumps(key) if key else False

    def _check_charge_access(self):
        user = self.env.user
        if not (
            user.has_group("point_of_sale.group_pos_manager")
            or user.has_group("account.group_account_manager")
        ):
            raise AccessError(
                self.env._("Only Point of Sale managers or accountants can charge a card.")
            )

    def _record_charges(self, order, service):
        """Every charge the ledger holds for the order, recorded on it once: this wizard's
        card, and one charged elsewhere (the register, another manager's window) but not
        recorded yet. Read from the ledger's committed rows, not this request's snapshot."""
        recorded = False
        for attempt in service.ledger.order_attempts(order.uuid):
            if attempt.status == card_charge.SUCCEEDED:
                amount = float(card_charge.from_minor_units(attempt.amount_minor, attempt.currency))
                recorded |= order.sudo()._offline_mark_paid_by_card(attempt.outcome(), amount)
        return recorded

    @staticmethod
    def _notify(message):
        """Close the wizard with a success notification."""
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": message,
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    def action_charge(self):
        self.ensure_one()
        self._check_charge_access()
        order = self.order_id
        if order.state != "draft":
            raise UserError(
                self.env._("Order %s is not waiting for a payment.", order.display_name)
            )
        if self.amount <= 0:
            raise UserError(self.env._("The amount to charge must be positive."))
        try:
            envelope = json.loads(self.envelope or "")
        except ValueError:
            envelope = None
        if not isinstance(envelope, dict):
            raise UserError(self.env._("Enter the new card's details first."))
        payload = {
            "v": 1,
            "config_id": order.config_id.id,
            "order_uuid": order.uuid,
            "payment_uuid": self.payment_uuid,
            "amount": self.amount,
            "currency": order.currency_id.name,
            "reference": order.pos_reference or order.name,
            "envelope": envelope,
        }
        Attempt = self.env["pos.offline.card.attempt"].sudo()
        service = Attempt._offline_service(order.config_id, back_office=True)
        try:
            # Under the order's lease: earlier cards settled first, what is due re-read from
            # committed data, at most one card charged for it whoever else is charging it.
            outcome = service.process(payload, back_office=True)
        except card_charge.CardRequestError as exc:
            raise UserError(self.env._("This card cannot be charged: %s", exc)) from None
        self._record_charges(order, service)
        status = outcome["status"]
        if status == "in_progress":
            # The wizard follows that charge and shows its result by itself (the field widget
            # polls offline_charge_status); this card stays sealed, ready if that one fails.
            self.write(
                {
                    "state": "pending",
                    "result_message": self.env._(
                        "A card is being charged for order %(order)s elsewhere (the register "
                        "or another window): %(reason)s This shows the result once it is done.",
                        order=order.display_name,
                        reason=outcome.get("message") or "",
                    ),
                }
            )
            return self._reopen()
        # Sealed, but no longer needed by anyone: do not keep it until the vacuum.
        self.envelope = False
        if status == "succeeded":
            return self._notify(self.env._("Card charged: order %s is paid.", order.display_name))
        if outcome.get("decline_code") == "order_settled" and order.state != "draft":
            return self._notify(
                self.env._(
                    "A card taken earlier for order %s was charged: the order is paid; the "
                    "new card was not charged.",
                    order.display_name,
                )
            )
        message = outcome.get("message") or status
        if status == "failed":
            order.message_post(body=self.env._("New card declined: %s", message))
            # The next card is a new payment (a new ledger row); this one is settled.
            self.payment_uuid = str(uuid.uuid4())
        self.write({"state": "failed", "result_message": message})
        return self._reopen()

    def _reopen(self):
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": self.env._("Charge New Card"),
        }

    def offline_charge_status(self):
        """For a wizard told its order is being charged elsewhere: {"paid", "charging"}, read
        from committed data. Once that charge ended without paying the order, the wizard is
        ready again, with its card still sealed."""
        self.ensure_one()
        self._check_charge_access()
        order = self.order_id
        with self.env.registry.cursor() as cr:
            cr.execute(
                SQL("SELECT state FROM pos_order WHERE id = %s", order.id),
            )
            paid = cr.fetchone()[0] != "draft"
            cr.execute(
                SQL(
                    "SELECT 1 FROM pos_offline_card_lease WHERE order_uuid = %s "
                    "AND lease_until > now()",
                    order.uuid,
                )
            )
            charging = cr.fetchone() is not None
        if not paid and not charging and self.state == "pending":
            self.write(
                {
                    "state": "draft",
                    "result_message": self.env._(
                        "The other charge ended without paying the order: you can charge this "
                        "card now."
                    ),
                }
            )
        return {"paid": paid, "charging": charging}
