# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from markupsafe import Markup
from odoo import fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from .pos_order import CLOSE_MAX_PENDING

MAX_REASON_CHARS = 2000
CLOSE_REASON_KEY = "pos_offline_close_reason"


class PosSession(models.Model):
    """Closing a session is guarded while a device reports offline orders of its register still
    waiting in the browser (issue 11): the closing popup and the back office list the devices
    and their counts; closing anyway takes a POS manager and a reason, kept in the chatter."""

    _inherit = "pos.session"

    def _offline_close_blockers(self):
        """The devices reporting waiting orders of this session's register."""
        self.ensure_one()
        return (
            self.env["pos.offline.device"]
            .sudo()
            .search([("config_id", "=", self.config_id.id), ("waiting_count", ">", 0)])
        )

    def _offline_device_lines(self, devices):
        lines = []
        for device in devices:
            oldest = (
                fields.Datetime.context_timestamp(self, device.waiting_oldest_at).strftime(
                    "%Y-%m-%d %H:%M"
                )
                if device.waiting_oldest_at
                else "?"
            )
            lines.append(
                self.env._(
                    "%(device)s: %(count)s order(s) waiting, the oldest from %(oldest)s "
                    "(last cashier %(cashier)s, %(seen)s)",
                    device=device.name,
                    count=device.waiting_count,
                    oldest=oldest,
                    cashier=device.cashier_name or "?",
                    seen=device.last_seen_text,
                )
            )
        return lines

    def _offline_close_message(self, devices):
        return self.env._(
            "Offline orders of %(register)s are still waiting in the browser of "
            "%(n)s device(s):\n%(lines)s\nSync them from those registers first (Sync to Server), "
            "or have a POS manager close the session from the back office with a reason.",
            register=self.config_id.name,
            n=len(devices),
            lines="\n".join(f"- {line}" for line in self._offline_device_lines(devices)),
        )

    # -- the POS closing popup -----------------------------------------------------------------
    def _cannot_close_session(self, bank_payment_method_diffs=None):
        refusal = super()._cannot_close_session(bank_payment_method_diffs)
        if refusal or self.state == "closed":
            return refusal
        devices = self._offline_close_blockers()
        if devices:
            return {
                "successful": False,
                "title": self.env._("Offline orders still waiting"),
                "message": self._offline_close_message(devices),
                "redirect": False,
                "pos_offline_devices": devices.ids,
            }
        return refusal

    def update_closing_control_state_session(self, notes):
        # The popup calls this before close_session_from_ui: a session that will be refused
        # stays open for selling (and syncing) instead of stuck in closing control.
        if self.state != "closed" and self._offline_close_blockers():
            return None
        return super().update_closing_control_state_session(notes)

    # -- deferred pickings (pos_order.py) -----------------------------------------------------
    def _validate_session(
        self, balancing_account=False, amount_to_balance=0, bank_payment_method_diffs=None
    ):
        # Every closing path (the POS popup, the back office) goes through here, before the
        # session's entries and its pickings' reconciliation read the moves.
        self._offline_create_pending_pickings()
        return super()._validate_session(
            balancing_account, amount_to_balance, bank_payment_method_diffs
        )

    def _offline_create_pending_pickings(self):
        """The pickings still pending for this session's orders, made now in the closing's
        transaction (so undone with it if the closing fails). While the cron holds some of them
        mid-chunk, closing refuses at once rather than wait or make them twice."""
        self.ensure_one()
        PosOrder = self.env["pos.order"].sudo()
        domain = [("session_id", "=", self.id), ("offline_picking_pending", "=", True)]
        if not PosOrder.search_count(domain):
            return
        # Those whose picking failed are the cron's no more: only the closing retries them, so
        # they never count towards "too many, left to the cron".
        pending = PosOrder.search_count(domain + [("offline_picking_error", "=", False)])
        if pending > CLOSE_MAX_PENDING:
            # The cron, triggered when they landed, is making them: a closing request making
            # them all could pass the worker limits and be killed.
            raise UserError(
                self.env._(
                    "The stock pickings of %s offline orders of this session are still being "
                    "created in the background. Close the session again in a few minutes.",
                    pending,
                )
            )
        orders = PosOrder._offline_lock_pending_or_refuse(
            SQL("session_id = %s", self.id),
            self.env._(
                "The stock pickings of this session's offline orders are being created right "
                "now. Close the session again in a moment."
            ),
        )
        failed = orders.filtered(lambda o: not o._offline_create_pending_picking())
        failed = failed.filtered("offline_picking_pending")
        if failed:
            raise UserError(
                self.env._(
                    "The stock picking of these offline orders could not be created, so the "
                    "session cannot close yet:\n%s",
                    "\n".join(f"- {o.name}: {o.offline_picking_error}" for o in failed),
                )
            )

    # -- the back office -----------------------------------------------------------------------
    def action_pos_session_closing_control(
        self, balancing_account=False, amount_to_balance=0, bank_payment_method_diffs=None
    ):
        reason = (self.env.context.get(CLOSE_REASON_KEY) or "").strip()
        for session in self.filtered(lambda s: s.state != "closed"):
            devices = session._offline_close_blockers()
            if not devices:
                continue
            if not reason:
                if len(self) == 1:
                    return session._offline_close_wizard(devices)
                raise UserError(session._offline_close_message(devices))
            session._offline_force_close_note(devices, reason)
        return super().action_pos_session_closing_control(
            balancing_account, amount_to_balance, bank_payment_method_diffs
        )

    def _offline_close_wizard(self, devices):
        wizard = self.env["pos.offline.close.session"].create(
            {"session_id": self.id, "device_ids": [(6, 0, devices.ids)]}
        )
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Offline orders still waiting"),
            "res_model": "pos.offline.close.session",
            "res_id": wizard.id,
            "view_mode": "form",
            "target": "new",
        }

    def _offline_force_close_note(self, devices, reason):
        """Closing anyway: a POS manager only, with a reason, both kept in the chatter."""
        if not self.env.user.has_group("point_of_sale.group_pos_manager"):
            raise AccessError(
                self.env._(
                    "Only a Point of Sale manager can close a session while devices still hold "
                    "its offline orders."
                )
            )
        if len(reason) > MAX_REASON_CHARS:
            raise UserError(self.env._("The reason is at most %s characters.", MAX_REASON_CHARS))
        items = Markup("").join(
            Markup("<li>%s</li>") % line for line in self._offline_device_lines(devices)
        )
        self.message_post(
            body=Markup("<p>%s</p><ul>%s</ul><p>%s</p>")
            % (
                self.env._(
                    "Closed by %s while devices still held offline orders of this register:",
                    self.env.user.name,
                ),
                items,
                self.env._("Reason: %s", reason),
            )
        )
