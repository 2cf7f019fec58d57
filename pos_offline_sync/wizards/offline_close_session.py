# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, fields, models
from odoo.exceptions import UserError

from ..models.pos_session import CLOSE_REASON_KEY, MAX_REASON_CHARS


class PosOfflineCloseSession(models.TransientModel):
    """Shown when a session is closed while devices report offline orders of its register:
    the devices and their counts, and for a POS manager "Close Anyway" with a reason."""

    _name = "pos.offline.close.session"
    _description = "Close a Session While Offline Orders Wait"

    session_id = fields.Many2one("pos.session", required=True, readonly=True, ondelete="cascade")
    device_ids = fields.Many2many("pos.offline.device", string="Devices", readonly=True)
    message = fields.Text(compute="_compute_message")
    reason = fields.Text(
        help="Why the session is closed before these orders reach the back office; kept in "
        "the session's chatter."
    )
    is_manager = fields.Boolean(compute="_compute_is_manager")

    @api.depends("session_id", "device_ids")
    def _compute_message(self):
        for wizard in self:
            wizard.message = wizard.session_id._offline_close_message(wizard.device_ids)

    def _compute_is_manager(self):
        manager = self.env.user.has_group("point_of_sale.group_pos_manager")
        for wizard in self:
            wizard.is_manager = manager

    def action_close_anyway(self):
        self.ensure_one()
        reason = (self.reason or "").strip()
        if not reason:
            raise UserError(self.env._("Say why the session is closed before these orders sync."))
        if len(reason) > MAX_REASON_CHARS:
            raise UserError(self.env._("The reason is at most %s characters.", MAX_REASON_CHARS))
        # The session checks the manager right and writes the reason to its chatter.
        result = self.session_id.with_context(
            **{CLOSE_REASON_KEY: reason}
        ).action_pos_session_closing_control()
        return result if isinstance(result, dict) else {"type": "ir.actions.act_window_close"}
