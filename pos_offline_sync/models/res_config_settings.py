# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    pos_allow_offline_mode = fields.Boolean(
        related="pos_config_id.allow_offline_mode", readonly=False
    )
    pos_allow_offline_auto_detect = fields.Boolean(
        related="pos_config_id.allow_offline_auto_detect", readonly=False
    )
    pos_offline_auto_sync = fields.Boolean(
        related="pos_config_id.offline_auto_sync", readonly=False
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
    pos_offline_card_key_warning = fields.Char(
        string="Offline Card Key Warning", compute="_compute_pos_offline_card_key_warning"
    )

    @api.depends("pos_config_id")
    def _compute_pos_offline_card_key_warning(self):
        Key = self.env["pos.offline.card.key"]
        for settings in self:
            company = settings.pos_config_id.company_id or self.env.company
            settings.pos_offline_card_key_warning = Key._key_problem(company)
