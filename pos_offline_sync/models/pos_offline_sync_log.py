# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import logging

from odoo import api, fields, models

from ..core import sync_log
from .offline_order_sink import RETRYABLE

_logger = logging.getLogger(__name__)


class PosOfflineSyncLog(models.Model):
    """One row per sync a register ran (core/sync_log.py): its batches added up by the sync's
    id, with the device, the cashier, when, how many orders were sent, stored and refused,
    and why. Written by offline_sync_orders after each batch; bookkeeping only."""

    _name = "pos.offline.sync.log"
    _description = "Offline Sync Log"
    _order = "ended_at desc, id desc"
    _rec_name = "started_at"

    sync_uid = fields.Char(string="Sync ID", readonly=True, index=True)
    config_id = fields.Many2one(
        "pos.config", string="Register", required=True, readonly=True, ondelete="cascade"
    )
    company_id = fields.Many2one(
        related="config_id.company_id", store=True, index=True, string="Company"
    )
    device_uid = fields.Char(string="Device ID", readonly=True, index=True)
    device_id = fields.Many2one(
        "pos.offline.device", string="Device", readonly=True, ondelete="set null"
    )
    user_id = fields.Many2one("res.users", string="Synced By", readonly=True)
    cashier_name = fields.Char(string="Cashier", readonly=True)
    started_at = fields.Datetime(string="Started", readonly=True)
    ended_at = fields.Datetime(string="Last Batch", readonly=True)
    batches = fields.Integer(readonly=True)
    sent = fields.Integer(string="Orders Sent", readonly=True)
    created = fields.Integer(string="Stored (New)", readonly=True)
    existing = fields.Integer(string="Already There", readonly=True)
    refused = fields.Integer(readonly=True)
    reasons = fields.Text(string="Refusal Reasons", readonly=True)
    more_reasons = fields.Integer(string="Further Refusals", readonly=True)

    _sync_config_uniq = models.Constraint(
        "UNIQUE(sync_uid, config_id)",
        "A sync is logged once per register.",
    )

    @api.model
    def _offline_log(self, config, payload, answer):
        """Adds one answered batch of `config` to its sync's row. Never raises: the orders are
        stored whatever happens to their log line."""
        try:
            with self.env.cr.savepoint():
                self._offline_log_batch(config, payload, answer)
        except RETRYABLE:
            # Another register's request wrote this row: Odoo replays the whole request (its
            # orders with it), so the log keeps every batch once.
            raise
        except Exception:  # noqa: BLE001 - bookkeeping must not undo a sync
            _logger.exception("the offline sync of register %s could not be logged", config.id)

    def _offline_log_batch(self, config, payload, answer):
        meta = sync_log.read_meta(payload)
        batch = sync_log.count_batch(payload, answer)
        now = fields.Datetime.now()
        Log = self.sudo()
        entry = (
            Log.search([("sync_uid", "=", meta.sync_id), ("config_id", "=", config.id)], limit=1)
            if meta.sync_id
            else Log
        )
        if not entry:
            device = (
                self.env["pos.offline.device"]
                .sudo()
                .search(
                    [("device_uid", "=", meta.device_id), ("config_id", "=", config.id)],
                    limit=1,
                )
                if meta.device_id
                else self.env["pos.offline.device"]
            )
            Log.create(
                {
                    "sync_uid": meta.sync_id,
                    "config_id": config.id,
                    "device_uid": meta.device_id,
                    "device_id": device.id,
                    "user_id": self.env.uid,
                    "cashier_name": meta.cashier,
                    "started_at": now,
                    "ended_at": now,
                    "batches": 1,
                    "sent": batch.sent,
                    "created": batch.created,
                    "existing": batch.existing,
                    "refused": batch.refused,
                    "reasons": "\n".join(batch.reasons),
                    "more_reasons": batch.more_reasons,
                }
            )
            return
        stored = sync_log.SyncCounts(
            sent=entry.sent,
            created=entry.created,
            existing=entry.existing,
            refused=entry.refused,
            reasons=entry.reasons.split("\n") if entry.reasons else [],
            more_reasons=entry.more_reasons,
        )
        total = stored.add(batch)
        entry.write(
            {
                "ended_at": now,
                "batches": entry.batches + 1,
                "sent": total.sent,
                "created": total.created,
                "existing": total.existing,
                "refused": total.refused,
                "reasons": "\n".join(total.reasons),
                "more_reasons": total.more_reasons,
                "cashier_name": meta.cashier or entry.cashier_name,
            }
        )
