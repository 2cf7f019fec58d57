# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, fields, models


class PosPaymentMethod(models.Model):
    _inherit = "pos.payment.method"

    offline_card_capture = fields.Boolean(
        string="Capture card offline (charge at sync)",
        help="While the register is offline, this method takes the card details in an "
        "encrypted form and charges them through Stripe when the order is synced.",
    )

    @api.model
    def _load_pos_data_fields(self, config):
        return super()._load_pos_data_fields(config) + ["offline_card_capture"]
