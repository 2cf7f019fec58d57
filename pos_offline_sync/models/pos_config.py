# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, fields, models

from .pos_offline_card_key import OdooKeyStore


class PosConfig(models.Model):
    _inherit = "pos.config"

    allow_offline_mode = fields.Boolean(
        string="Allow Offline Mode",
        default=False,
        help="Sales can be captured in the browser without a connection and synced to the "
        "back office later, order by order.",
    )
    allow_offline_auto_detect = fields.Boolean(
        string="Allow Auto-Detect Online-Offline",
        default=False,
        help="The register goes offline and back online by itself when the server cannot be "
        "reached; without it, only the cashier's offline button switches modes.",
    )
    offline_auto_sync = fields.Boolean(
        string="Sync automatically when back online",
        default=False,
        help="A few seconds after the connection comes back, the register sends every waiting "
        "offline order by itself (cards processed first), retrying with growing pauses while "
        "the server does not answer; without it, the cashier chooses what to send.",
    )
    offline_card_max_amount = fields.Float(
        string="Max Offline Card Payment",
        default=0.0,
        help="Largest single card payment accepted while offline (0: no limit).",
    )
    offline_card_max_total = fields.Float(
        string="Max Unprocessed Offline Card Total",
        default=0.0,
        help="Largest total of offline card payments not yet processed on this register "
        "(0: no limit).",
    )
    offline_card_max_age_hours = fields.Integer(
        string="Max Offline Card Age (hours)",
        default=24,
        help="After this many hours an unprocessed offline card payment is flagged on the Sync "
        "icon (0: no limit).",
    )

    offline_waiting_order_count = fields.Integer(
        string="Orders Waiting Offline",
        compute="_compute_offline_waiting",
        help="Offline orders the register's devices report as still waiting to be synced.",
    )
    offline_waiting_device_count = fields.Integer(
        string="Devices Holding Orders",
        compute="_compute_offline_waiting",
    )

    def _compute_offline_waiting(self):
        totals = self.env["pos.offline.device"]._offline_waiting(self)
        for config in self:
            waiting = totals.get(config.id)
            config.offline_waiting_order_count = waiting.orders if waiting else 0
            config.offline_waiting_device_count = waiting.devices if waiting else 0

    def action_offline_devices(self):
        """The register's Devices list (the dashboard card's link)."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "pos_offline_sync.action_pos_offline_device"
        )
        # Every device of the register (holding ones first): one that syncs stays listed, at 0.
        action["domain"] = [("config_id", "=", self.id)]
        action["display_name"] = self.env._("Devices of %s", self.name)
        return action

    @api.model
    def _load_pos_data_read(self, records, config):
        read_records = super()._load_pos_data_read(records, config)
        if read_records and config.allow_offline_mode:
            # The register caches the public key so it can encrypt cards while offline.
            read_records[0]["_offline_card_public_key"] = config._offline_card_public_key()
        return read_records

    def _offline_card_public_key(self):
        """Public half of the company's card key ({v, kid, spki}), its refusal
        ({v, unavailable: {code, message}}: no KEK protects the private half), or False when
        cards are off."""
        self.ensure_one()
        if not self.payment_method_ids.filtered("offline_card_capture"):
            return False
        return OdooKeyStore(self.env, self.company_id).public_answer()
