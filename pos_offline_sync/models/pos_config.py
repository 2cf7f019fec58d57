# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import logging

from odoo import api, fields, models
from odoo.tools import SQL

from ..core import rescue_session
from .offline_order_sink import NOTIFY_LATER_KEY, NotifyLater
from .pos_offline_card_key import OdooKeyStore

_logger = logging.getLogger(__name__)


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

    def notify_synchronisation(self, session_id, device_identifier, records=None):
        # Inside the addon's sync (offline_order_sink.NOTIFY_LATER_KEY): kept, and sent once
        # at the call's end instead of once per order stored.
        later = self.env.context.get(NOTIFY_LATER_KEY)
        if (
            isinstance(later, NotifyLater)
            and not records
            and len(self) == 1
            and later.add(self, session_id, device_identifier)
        ):
            return None
        return super().notify_synchronisation(session_id, device_identifier, records or {})

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

    # -- where an order lands when its own session cannot take it (core/rescue_session.py) ------
    def _offline_landing_session(self, own=None):
        """The session an order of this register lands in: `own` (its session, possibly gone,
        closed or of another register) when it takes orders, else the open session Odoo would
        choose, else the register's rescue session (made once, see _offline_rescue_session)."""
        self.ensure_one()
        Session = self.env["pos.session"].sudo()
        own = own.sudo().exists() if own else Session
        landing = rescue_session.choose_landing(
            _session_info(own) if own else None,
            self.id,
            [_session_info(s) for s in self._offline_open_sessions()],
        )
        if landing.kind == rescue_session.NEW_RESCUE:
            return self._offline_rescue_session(own if own.config_id == self else None)
        return Session.browse(landing.session_id)

    def _offline_open_sessions(self):
        return (
            self.env["pos.session"]
            .sudo()
            .search(
                [
                    ("config_id", "=", self.id),
                    ("state", "in", rescue_session.OPEN_STATES),
                ]
            )
        )

    def _offline_rescue_session(self, origin=None):
        """The register's open rescue session, made when there is none. Two requests at once
        must not make two: the register's row is written first (a no-op UPDATE), so the second
        waits for the first to commit and then fails to serialize; Odoo runs that request again
        (odoo.service.model.retrying), in a new transaction that sees the first's session.
        A row lock alone (SELECT ... FOR UPDATE) would not do: under REPEATABLE READ the second
        would then search with its old snapshot and make another session."""
        self.ensure_one()
        self.env.cr.execute(
            SQL("UPDATE pos_config SET write_date = write_date WHERE id = %s", self.id)
        )
        Session = self.env["pos.session"].sudo()
        rescue = Session.search(
            [
                ("config_id", "=", self.id),
                ("rescue", "=", True),
                ("state", "in", rescue_session.OPEN_STATES),
            ],
            limit=1,
        )
        if rescue:
            return rescue
        label = rescue_session.rescue_name(
            origin.name if origin else None, self.env._("(RESCUE FOR %(session)s)")
        )
        rescue = Session.create({"config_id": self.id, "rescue": True})
        # Opened at once (as Odoo 16 did): it takes the orders, with no cash count to open.
        rescue.set_opening_control(0, "")
        rescue.name = f"{rescue.name} {label}"
        _logger.warning(
            "register %s (id %s): no open session, rescue session %s (id %s) opened for the "
            "orders of closed session %s",
            self.name,
            self.id,
            rescue.name,
            rescue.id,
            origin.name if origin else "?",
        )
        rescue.message_post(
            body=self.env._(
                "Rescue session opened for the orders that reached the server after their "
                "session (%(session)s) was closed, while no session of %(register)s was open. "
                "Close it like any session to post its entries.",
                session=origin.name if origin else "?",
                register=self.name,
            )
        )
        return rescue


def _session_info(session):
    return rescue_session.SessionInfo(
        id=session.id, config_id=session.config_id.id, state=session.state, rescue=session.rescue
    )
