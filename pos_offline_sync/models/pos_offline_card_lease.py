# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models


class PosOfflineCardLease(models.Model):
    """Who is charging a card for an order right now: one row per order uuid while a charge
    runs, written and removed by the card ledger on cursors of its own (never through the
    ORM). A lease past `lease_until` may be taken over: it serves liveness; the PaymentIntent
    id recorded in the attempt ledger is what keeps a takeover from charging twice."""

    _name = "pos.offline.card.lease"
    _description = "Offline Card Charge Lease"
    _rec_name = "order_uuid"

    order_uuid = fields.Char(required=True, readonly=True)
    owner = fields.Char(required=True, readonly=True)
    lease_until = fields.Datetime(required=True, readonly=True)

    _unique_order = models.Constraint(
        "unique (order_uuid)",
        "An order is charged by one caller at a time.",
    )
