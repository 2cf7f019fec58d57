# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.tests import tagged

from .tour_common import OfflineTourCommon


@tagged("post_install", "-at_install")
class TestOfflineSyncTour(OfflineTourCommon):
    def test_offline_sale_synced_from_the_dialog(self):
        self.enable_offline_mode()
        self.assertFalse(self.main_pos_config.allow_offline_auto_detect)
        stripe = self.enable_offline_cards()

        self.main_pos_config.with_user(self.pos_user).open_ui()
        before = self.env["pos.order"].search([("config_id", "=", self.main_pos_config.id)])
        self.start_pos_tour("pos_offline_sync_tour", login="pos_user")

        # The back office has both offline sales, once each, paid, marked as synced from offline.
        orders = (
            self.env["pos.order"].search([("config_id", "=", self.main_pos_config.id)]) - before
        )
        self.assertEqual(len(orders), 2)
        self.assertTrue(all(orders.mapped("offline_synced")))
        self.assertEqual(set(orders.mapped("state")), {"paid"})
        cash = orders.filtered(lambda o: o.lines.product_id.name == "Desk Pad")
        self.assertEqual(cash.lines.qty, 2)
        card = orders - cash
        payment = card.payment_ids
        self.assertEqual((payment.card_brand, payment.card_no), ("visa", "4242"))
        self.assertTrue(payment.transaction_id.startswith("pi_"))
        self.assertEqual(len(stripe.succeeded_intents(card.uuid)), 1)
