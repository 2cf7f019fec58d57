# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import importlib.util
import json
from pathlib import Path

from odoo.tests import tagged

from .common import OfflineSyncCommon

SCRIPT = (
    Path(__file__).resolve().parents[1]
    / "migrations"
    / "19.0.1.1.0"
    / "post-migrate-internal-note.py"
)


def load_script():
    spec = importlib.util.spec_from_file_location("post_migrate_internal_note", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@tagged("post_install", "-at_install")
class TestMigrateInternalNote(OfflineSyncCommon):
    """19.0.1.1.0: what 19.0.1.0.0 wrote in internal_note, in the rows as it left them."""

    KITCHEN = json.dumps([{"text": "No onions", "colorIndex": 2}])
    REASON = "Card payment failed: VISA **** 0341: The card was declined."

    def order(self, internal_note, **flags):
        [result] = self.sync(self.plain_order())
        self.assertTrue(result["ok"], result)
        order = self.env["pos.order"].search([], order="id desc", limit=1)
        # The old rows are written in SQL, as the old code left them (no ORM rule applies).
        self.env.flush_all()
        self.env.cr.execute(
            """UPDATE pos_order SET internal_note = %s, offline_synced = %s,
                      offline_card_failed = %s, offline_card_failure = NULL WHERE id = %s""",
            [internal_note, flags.get("synced", True), flags.get("failed", False), order.id],
        )
        self.env.invalidate_all()
        return order

    def migrate(self):
        load_script().migrate(self.env.cr, "19.0.1.0.0")
        self.env.invalidate_all()

    def test_old_rows_become_odoos_json_and_the_reason_moves(self):
        reason_only = self.order(self.REASON, failed=True)
        after_note = self.order(f"{self.KITCHEN}\n{self.REASON}\n{self.REASON} again", failed=True)
        paid_since = self.order(self.REASON, failed=False)  # the new card paid it later
        typed = self.order("Call the customer\n\nback", synced=False)
        fine = self.order(self.KITCHEN, synced=False)
        empty = self.order("", failed=True)

        self.migrate()

        self.assertEqual(reason_only.internal_note, "")
        self.assertEqual(reason_only.offline_card_failure, self.REASON)
        self.assertEqual(after_note.internal_note, self.KITCHEN)
        self.assertEqual(after_note.offline_card_failure, f"{self.REASON}\n{self.REASON} again")
        self.assertEqual(paid_since.offline_card_failure, self.REASON)
        self.assertEqual(
            json.loads(typed.internal_note),
            [{"text": "Call the customer", "colorIndex": 0}, {"text": "back", "colorIndex": 0}],
        )
        self.assertFalse(typed.offline_card_failure)
        self.assertEqual(fine.internal_note, self.KITCHEN)
        self.assertEqual(empty.internal_note, "")
        self.assertFalse(empty.offline_card_failure)
        # What Odoo's POS does with each: JSON.parse(internal_note || "[]") must not throw.
        for order in (reason_only, after_note, paid_since, typed, fine, empty):
            self.assertIsInstance(json.loads(order.internal_note or "[]"), list)

        # Run twice (a retried upgrade): nothing changes, nothing is appended again.
        before = [(o.internal_note, o.offline_card_failure) for o in (reason_only, after_note)]
        self.migrate()
        self.assertEqual(
            [(o.internal_note, o.offline_card_failure) for o in (reason_only, after_note)],
            before,
        )

    def test_a_fresh_install_is_left_alone(self):
        order = self.order(self.REASON, failed=True)
        load_script().migrate(self.env.cr, None)
        self.env.invalidate_all()
        self.assertEqual(order.internal_note, self.REASON)
