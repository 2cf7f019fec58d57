# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models


class PosOfflineCsvImportLine(models.TransientModel):
    _name = "pos.offline.csv.import.line"
    _description = "Offline CSV Import: one order or one bad line"
    _order = "status desc, line_no, id"

    wizard_id = fields.Many2one("pos.offline.csv.import", required=True, ondelete="cascade")
    line_no = fields.Integer(string="CSV Line")
    order_uuid = fields.Char(string="Order UUID")
    reference = fields.Char()
    amount_total = fields.Float(string="Total")
    status = fields.Selection(
        [
            ("new", "New"),
            ("created", "Created"),
            ("exists", "Already Synced"),
            ("error", "Error"),
        ],
        required=True,
    )
    message = fields.Char()
