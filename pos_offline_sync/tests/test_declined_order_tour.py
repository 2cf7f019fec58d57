# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import json

from odoo.tests import tagged

from .tour_common import OfflineTourCommon

REASON = "Card payment failed: VISA **** 0341"


@tagged("post_install", "-at_install")
class TestDeclinedOrderTour(OfflineTourCommon):
    """A card declined at sync: the register reopens with the unpaid order, the back office
    pays it, the register shows it again; the reason is on every screen, no page fails."""

    def test_declined_order_everywhere(self):
        self.enable_offline_mode()
        stripe = self.enable_offline_cards()
        self.main_pos_config.with_user(self.pos_user).open_ui()

        self.start_pos_tour("pos_offline_sync_declined_order_tour", login="pos_user")
        order = self.env["pos.order"].search(
            [("config_id", "=", self.main_pos_config.id), ("offline_synced", "=", True)]
        )
        self.assertEqual(len(order), 1)
        self.assertEqual(order.state, "draft")
        self.assertTrue(order.offline_card_failed)
        self.assertFalse(order.payment_ids)
        self.assertEqual(stripe.succeeded_intents(order.uuid), [])
        self.assertIn(REASON, order.offline_card_failure)
        self.assertIsInstance(json.loads(order.internal_note or "[]"), list)
        self.assertTrue(order.message_ids.filtered(lambda m: REASON in (m.body or "")))

        self.start_tour(
            f"/odoo/pos.order/{order.id}",
            "pos_offline_sync_declined_backoffice_tour",
            login="pos_admin",
        )
        self.env.invalidate_all()
        self.assertEqual(order.state, "paid")
        self.assertFalse(order.offline_card_failed)
        cash = self.main_pos_config.payment_method_ids.filtered("is_cash_count")
        self.assertEqual(order.payment_ids.payment_method_id, cash)
        self.assertAlmostEqual(order.amount_paid, order.amount_total)
        self.assertIn(REASON, order.offline_card_failure)

        self.start_pos_tour("pos_offline_sync_declined_paid_tour", login="pos_user")
        self.assertEqual(
            self.env["pos.order"].search_count([("uuid", "=", order.uuid)]), 1, "stored once"
        )
