# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import models
from odoo.addons.base.models.ir_sequence import _update_nogap


class IrSequence(models.Model):
    _inherit = "ir.sequence"

    def _offline_next_many(self, count):
        """The next `count` numbers of this sequence, as `count` calls of `_next()` give them.
        A no-gap sequence is drawn in one locked update instead of one per number (a POS names
        every order line from one: five lines, five round trips holding the row's lock)."""
        self.ensure_one()
        if count < 2 or self.use_date_range or self.implementation != "no_gap":
            return [self._next() for _ in range(count)]
        step = self.number_increment
        first = _update_nogap(self, step * count)
        return [self.get_next_char(first + index * step) for index in range(count)]
