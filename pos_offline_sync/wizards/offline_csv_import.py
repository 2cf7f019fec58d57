# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import base64

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..core import csv_schema, sync_service
from ..models.offline_order_sink import OdooOrderSink

_BATCH = 500  # sync_batch's own limit


class PosOfflineCsvImport(models.TransientModel):
    """Import the CSV a register exported of its offline orders: preview, then import.

    Goes through the same sink as the register's sync, so it is idempotent on the order uuid:
    a file imported twice, or whose orders were synced since, creates nothing twice.
    """

    _name = "pos.offline.csv.import"
    _description = "Import Offline POS Orders (CSV)"

    config_id = fields.Many2one(
        "pos.config",
        string="Point of Sale",
        required=True,
        domain="[('company_id', 'in', allowed_company_ids)]",
    )
    csv_file = fields.Binary(string="CSV File", required=True)
    csv_filename = fields.Char()
    state = fields.Selection(
        [("upload", "Upload"), ("preview", "Preview"), ("done", "Done")],
        default="upload",
        required=True,
    )
    line_ids = fields.One2many("pos.offline.csv.import.line", "wizard_id", string="Orders")
    summary = fields.Char(readonly=True)

    @api.model
    def default_get(self, fields_list):
        vals = super().default_get(fields_list)
        if "config_id" in fields_list and not vals.get("config_id"):
            config = self.env["pos.config"].search(
                [("company_id", "=", self.env.company.id)], limit=1
            )
            vals["config_id"] = config.id
        return vals

    def _parse(self):
        self.ensure_one()
        try:
            text = base64.b64decode(self.csv_file or b"").decode("utf-8-sig")
        except (ValueError, UnicodeDecodeError) as exc:
            raise UserError(self.env._("The file is not a UTF-8 CSV file.")) from exc
        if not text.strip():
            raise UserError(self.env._("The file is empty."))
        return csv_schema.parse_offline_csv(text)

    def _order_status(self, order):
        existing = self.env["pos.order"]._get_open_order({"uuid": order["uuid"]})
        if existing and (existing.state != "draft" or existing.offline_synced):
            return "exists"
        return "new"

    def action_preview(self):
        self.ensure_one()
        parsed = self._parse()
        lines = [
            fields.Command.create(
                {
                    "order_uuid": order["uuid"],
                    "reference": order.get("reference"),
                    "amount_total": order.get("amount_total") or 0.0,
                    "status": self._order_status(order),
                }
            )
            for order in parsed.orders
        ]
        lines += [
            fields.Command.create(
                {"line_no": error.line, "status": "error", "message": error.reason}
            )
            for error in parsed.errors
        ]
        self.line_ids = [fields.Command.clear()] + lines
        self.state = "preview"
        self.summary = self.env._(
            "%(orders)s order(s) read, %(new)s new, %(errors)s line error(s).",
            orders=len(parsed.orders),
            new=len(self.line_ids.filtered(lambda line: line.status == "new")),
            errors=len(parsed.errors),
        )
        return self._reopen()

    def action_import(self):
        self.ensure_one()
        parsed = self._parse()
        sink = OdooOrderSink(self.env, self.config_id.with_company(self.config_id.company_id))
        results = []
        for start in range(0, len(parsed.orders), _BATCH):
            payload = {
                "v": 1,
                "config_id": self.config_id.id,
                "orders": parsed.orders[start : start + _BATCH],
            }
            results += sync_service.sync_batch(payload, sink)["results"]
        lines = [
            fields.Command.create(
                {
                    "order_uuid": result.get("uuid"),
                    "reference": result.get("reference") or order.get("reference"),
                    "amount_total": order.get("amount_total") or 0.0,
                    "status": result["status"] if result["ok"] else "error",
                    "message": result.get("reason")
                    or (self.env._("Paid") if result.get("paid") else self.env._("Unpaid")),
                }
            )
            for order, result in zip(parsed.orders, results, strict=True)
        ]
        lines += [
            fields.Command.create(
                {"line_no": error.line, "status": "error", "message": error.reason}
            )
            for error in parsed.errors
        ]
        self.line_ids = [fields.Command.clear()] + lines
        created = sum(1 for r in results if r["ok"] and r["status"] == "created")
        self.state = "done"
        self.summary = self.env._(
            "%(created)s order(s) created, %(exists)s already in the back office, "
            "%(errors)s error(s).",
            created=created,
            exists=sum(1 for r in results if r["ok"] and r["status"] == "exists"),
            errors=sum(1 for r in results if not r["ok"]) + len(parsed.errors),
        )
        return self._reopen()

    def _reopen(self):
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": self.env._("Import Offline Orders"),
        }


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
