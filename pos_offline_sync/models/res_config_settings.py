# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    pos_allow_offline_mode = fields.Boolean(
        related="pos_config_id.allow_offline_mode", readonly=False
    )
    pos_allow_offline_auto_detect = fields.Boolean(
        related="pos_config_id.allow_offline_auto_detect", readonly=False
    )
    pos_offline_card_max_amount = fields.Float(
        related="pos_config_id.offline_card_max_amount", readonly=False
    )
    pos_offline_card_max_total = fields.Float(
        related="pos_config_id.offline_card_max_total", readonly=False
    )
    pos_offline_card_max_age_hours = fields.Integer(
        related="pos_config_id.offline_card_max_age_hours", readonly=False
    )
