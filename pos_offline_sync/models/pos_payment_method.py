# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, fields, models


class PosPaymentMethod(models.Model):
    _inherit = "pos.payment.method"

    offline_card_capture = fields.Boolean(
        string="Capture card offline (charge at sync)",
        help="While the register is offline, this method takes the card details in an "
        "encrypted form and charges them through Stripe when the order is synced.",
    )
    offline_card_problem = fields.Char(
        string="Offline Card Charging",
        compute="_compute_offline_card_problem",
        help="Why cards taken offline with this method could not be charged now.",
    )

    @api.depends("offline_card_capture", "company_id")
    def _compute_offline_card_problem(self):
        # payment_stripe is optional (offline mode works without cards): say it where the
        # flag is set, not only when the first card fails.
        Attempt = self.env["pos.offline.card.attempt"]
        for method in self:
            problem = None
            if method.offline_card_capture:
                problem = Attempt._offline_stripe_secret(method.company_id)[1]
            method.offline_card_problem = problem and self.env._(
                "Cards taken offline cannot be charged yet: %s", problem
            )

    offline_card_key_warning = fields.Char(
        string="Offline Card Key Warning",
        compute="_compute_offline_card_key_warning",
        help="Why cards cannot be taken offline with this method now (empty when they can).",
    )

    @api.depends("offline_card_capture", "company_id")
    def _compute_offline_card_key_warning(self):
        Key = self.env["pos.offline.card.key"]
        for method in self:
            company = method.company_id or self.env.company
            method.offline_card_key_warning = (
                Key._key_problem(company) if method.offline_card_capture else False
            )

    @api.model
    def _load_pos_data_fields(self, config):
        return super()._load_pos_data_fields(config) + ["offline_card_capture"]
