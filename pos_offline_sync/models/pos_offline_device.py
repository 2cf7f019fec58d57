# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import datetime, timedelta, timezone

from odoo import api, fields, models
from odoo.exceptions import ConcurrencyError
from psycopg2 import errors

from ..core import device_report


def _utc(value):
    """An aware datetime (the core's) as Odoo stores it: naive UTC."""
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value else False


class PosOfflineDevice(models.Model):
    """A browser profile running a register, as it last reported (core/device_report.py): one
    record per device and register, written only by the register's reports, never deleted by
    them. A device that stops reporting stays listed as "not reporting"."""

    _name = "pos.offline.device"
    _description = "Offline POS Device"
    _order = "waiting_count desc, last_seen desc, id"

    device_uid = fields.Char(string="Device ID", required=True, readonly=True, index=True)
    name = fields.Char(string="Device", required=True, readonly=True)
    config_id = fields.Many2one(
        "pos.config", string="Register", required=True, readonly=True, ondelete="cascade"
    )
    company_id = fields.Many2one(
        related="config_id.company_id", store=True, index=True, string="Company"
    )
    currency_id = fields.Many2one(related="config_id.currency_id", string="Currency")
    seq = fields.Integer(string="Report Number", readonly=True)
    addon_version = fields.Char(string="Addon Version", readonly=True)
    storage = fields.Selection(
        [
            ("persisted", "Kept (persisted)"),
            ("best-effort", "May be evicted (best-effort)"),
            ("unsupported", "Not supported"),
            ("unknown", "Unknown"),
        ],
        string="Storage",
        readonly=True,
        help="Whether the browser promised to keep the offline orders when disk space runs low.",
    )
    cashier_name = fields.Char(string="Last Cashier", readonly=True)
    reported_by_id = fields.Many2one("res.users", string="Reported By", readonly=True)
    waiting_count = fields.Integer(string="Waiting Orders", readonly=True)
    waiting_total = fields.Monetary(string="Waiting Total", readonly=True)
    waiting_oldest_at = fields.Datetime(string="Oldest Order", readonly=True)
    card_count = fields.Integer(string="Unprocessed Cards", readonly=True)
    card_amount = fields.Monetary(string="Unprocessed Card Amount", readonly=True)
    card_oldest_at = fields.Datetime(string="Oldest Unprocessed Card", readonly=True)
    card_deadline = fields.Datetime(
        string="Card Age Limit",
        readonly=True,
        help="When the oldest unprocessed card passes the register's age limit.",
    )
    reported_at = fields.Datetime(string="Report Time (Device Clock)", readonly=True)
    first_seen = fields.Datetime(string="First Report", readonly=True)
    last_seen = fields.Datetime(string="Last Report", readonly=True)
    is_stale = fields.Boolean(
        string="Not Reporting",
        compute="_compute_is_stale",
        search="_search_is_stale",
        help="Not heard from for a few heartbeats: the figures are as last reported.",
    )
    last_seen_text = fields.Char(string="Last Seen", compute="_compute_texts")
    waiting_oldest_text = fields.Char(string="Oldest Waiting", compute="_compute_texts")
    card_time_left_text = fields.Char(string="Card Time Left", compute="_compute_texts")

    _device_config_uniq = models.Constraint(
        "UNIQUE(device_uid, config_id)",
        "A device reports once per register.",
    )

    # -- display --------------------------------------------------------------------------------
    @api.depends("last_seen")
    def _compute_is_stale(self):
        now = datetime.now(timezone.utc)
        for device in self:
            device.is_stale = device_report.is_stale(device.last_seen or None, now)

    def _search_is_stale(self, operator, value):
        if operator not in ("=", "!="):
            return NotImplemented
        limit = fields.Datetime.now() - timedelta(seconds=device_report.STALE_AFTER_SECONDS)
        stale = (operator == "=") == bool(value)
        if stale:
            return ["|", ("last_seen", "=", False), ("last_seen", "<", limit)]
        return [("last_seen", ">=", limit)]

    def _age_words(self, seconds):
        seconds = max(0, int(seconds))
        if seconds < 60:
            return self.env._("%s s", seconds)
        minutes = seconds // 60
        if minutes < 60:
            return self.env._("%s min", minutes)
        hours, minutes = divmod(minutes, 60)
        if hours < 24:
            return self.env._("%(h)s h %(m)02d min", h=hours, m=minutes)
        days, hours = divmod(hours, 24)
        return self.env._("%(d)s d %(h)s h", d=days, h=hours)

    @api.depends("last_seen", "waiting_oldest_at", "card_deadline", "card_count")
    def _compute_texts(self):
        now = fields.Datetime.now()
        for device in self:
            seen = device.last_seen
            text = ""
            if seen:
                text = self.env._("%s ago", self._age_words((now - seen).total_seconds()))
            if seen and device.is_stale:
                text = self.env._("Not reporting, last seen %s", text)
            device.last_seen_text = text
            oldest = device.waiting_oldest_at
            device.waiting_oldest_text = (
                self.env._("%s ago", self._age_words((now - oldest).total_seconds()))
                if oldest and device.waiting_count
                else ""
            )
            left = ""
            if device.card_count and device.card_deadline:
                seconds = (device.card_deadline - now).total_seconds()
                left = (
                    self.env._("%s left", self._age_words(seconds))
                    if seconds > 0
                    else self.env._("Overdue by %s", self._age_words(-seconds))
                )
            device.card_time_left_text = left

    # -- the register's report (pos.order.offline_device_report) -------------------------------
    @api.model
    def _offline_apply_report(self, config, report):
        """Stores a checked DeviceReport of `config` (the caller's access checked before).
        Returns whether its figures replaced the stored ones (a repeated or late report only
        moves `last_seen`)."""
        now = datetime.now(timezone.utc)
        values = {
            key: (_utc(value) if isinstance(value, datetime) else value)
            for key, value in device_report.report_values(report, now).items()
        }
        if report.cashier_name:
            values["cashier_name"] = report.cashier_name  # the last one stays while logged out
        values["reported_by_id"] = self.env.uid
        Device = self.sudo()
        device = Device.search(
            [("device_uid", "=", report.device_id), ("config_id", "=", config.id)], limit=1
        )
        seen = _utc(now)
        if not device:
            try:
                with self.env.cr.savepoint():
                    Device.create(
                        {
                            **values,
                            "device_uid": report.device_id,
                            "config_id": config.id,
                            "first_seen": seen,
                            "last_seen": seen,
                        }
                    )
            except errors.UniqueViolation:
                # Another tab's first report committed meanwhile: Odoo retries the request,
                # which then finds the record.
                raise ConcurrencyError("device report raced its twin") from None
            return True
        if not device_report.should_apply(report, device.seq):
            device.last_seen = seen
            return False
        device.write({**values, "last_seen": seen})
        return True

    # -- back office -------------------------------------------------------------------------
    @api.model
    def _offline_waiting(self, configs):
        """{config id: WaitingTotals} of the given registers (devices counted once per
        register)."""
        ids = [cid for cid in configs.ids if isinstance(cid, int)]  # not new records
        rows = self.sudo().search_read(
            [("config_id", "in", ids), ("waiting_count", ">", 0)],
            ["device_uid", "config_id", "waiting_count"],
        )
        by_config = {cid: [] for cid in ids}
        for row in rows:
            by_config[row["config_id"][0]].append(
                {"device_id": row["device_uid"], "waiting_count": row["waiting_count"]}
            )
        return {cid: device_report.waiting_totals(items) for cid, items in by_config.items()}
