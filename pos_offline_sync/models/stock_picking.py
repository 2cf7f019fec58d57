# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The deferred pickings of a chunk of offline orders, validated together where that changes
nothing.

Odoo's _create_picking_from_pos_order_lines validates (``_action_done``) each POS picking as
soon as it is made, alone. Validating a run of a chunk's pickings in one call gives the same
moves, quants and values in less time (the ORM computes, flushes and checks once for all),
but only for pickings that only take goods out: Odoo values a call's outgoing moves before it
moves them, FIFO consuming the stack in order, and its incoming moves after, at the cost as
it stands then ("Limitation when validating at same time out and ins", stock_account). So a
picking that brings goods in (a refund), or of lot-valued goods, is validated alone, after
the ones before it, as Odoo's own path validates it."""

import logging

from odoo import models
from odoo.exceptions import UserError, ValidationError

_logger = logging.getLogger(__name__)

# Set (to a ValidateLater) while a chunk makes its orders' pickings: each picking that Odoo
# would validate there and then is listed instead, and validated with the others of its run.
VALIDATE_LATER_KEY = "pos_offline_validate_later"


class ValidateLater:
    """The pickings of one chunk not validated yet, in the order Odoo made them. Compared by
    identity (see offline_order_sink.ChatterLater)."""

    __slots__ = ("ids",)

    def __init__(self):
        self.ids = []

    def validate(self, env):
        """Validates those listed so far, together, and forgets them."""
        ids, self.ids = self.ids, []
        env["stock.picking"].browse(ids)._offline_validate_together()


class StockPicking(models.Model):
    _inherit = "stock.picking"

    def _action_done(self):
        later = self.env.context.get(VALIDATE_LATER_KEY)
        if not isinstance(later, ValidateLater):
            return super()._action_done()
        if self._offline_validated_alone():
            later.validate(self.env)  # the pickings before it first, as Odoo's path does
            # Refused, it is left as Odoo's caller leaves it, without undoing those before
            # it (the caller's savepoint around this call holds them too).
            self._offline_validate_together()
            return True
        later.ids.extend(self.ids)
        return True

    def _offline_validated_alone(self):
        """Whether validating it with others could value it otherwise (module doc)."""
        return any(
            move._is_in()
            or move._is_dropshipped()
            or move._is_dropshipped_returned()
            or move.product_id.lot_valuated
            for move in self.move_ids
        )

    def _offline_validate_together(self):
        """Validates these pickings and leaves them as Odoo's per-order path does: validated,
        or, when Odoo's validation refuses one (a UserError or ValidationError, which that
        path swallows), as it is. In one call when none refuses; else one by one, each in its
        own savepoint as Odoo does."""
        pickings = self.with_context(**{VALIDATE_LATER_KEY: None})
        if len(pickings) > 1:
            try:
                with self.env.cr.savepoint():
                    pickings._action_done()
                return
            except (UserError, ValidationError) as exc:
                # The savepoint's rollback cleared the cache of what it undid.
                _logger.info("POS pickings %s validated one by one: %s", pickings.ids, exc)
        for picking in pickings:
            try:
                with self.env.cr.savepoint():
                    picking._action_done()
            except (UserError, ValidationError) as exc:
                # Left unvalidated, as Odoo's own path leaves it (silently; said here).
                _logger.info("POS picking %s left unvalidated: %s", picking.id, exc)
