# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.tests import Form, tagged

from .tour_common import OfflineTourCommon


@tagged("post_install", "-at_install")
class TestAutoSyncTour(OfflineTourCommon):
    """The "Sync automatically when back online" setting in the real POS (issue 11)."""

    def test_offline_sales_land_with_no_click(self):
        self.enable_offline_mode()
        stripe = self.enable_offline_cards()
        self.assertFalse(self.main_pos_config.offline_auto_sync, "off by default")
        settings = Form(self.env["res.config.settings"])
        settings.pos_config_id = self.main_pos_config
        settings.pos_offline_auto_sync = True
        settings.save().execute()
        self.assertTrue(self.main_pos_config.offline_auto_sync)

        config = self.main_pos_config
        config.with_user(self.pos_user).open_ui()
        before = self.env["pos.order"].search([("config_id", "=", config.id)])
        self.start_pos_tour("pos_offline_sync_auto_sync_tour", login="pos_user")

        orders = self.env["pos.order"].search([("config_id", "=", config.id)]) - before
        self.assertEqual(len(orders), 2, "each offline sale once")
        self.assertEqual(len(set(orders.mapped("uuid"))), 2)
        self.assertTrue(all(orders.mapped("offline_synced")))
        self.assertEqual(set(orders.mapped("state")), {"paid"})
        card = orders.filtered(lambda o: o.lines.product_id.name == "Whiteboard Pen")
        # Processed first, through the ledger: one PaymentIntent, charged once.
        self.assertEqual(len(stripe.succeeded_intents(card.uuid)), 1)
        self.assertTrue(card.payment_ids.transaction_id.startswith("pi_"))
        # One sync, in the log, by the register's user.
        logs = self.env["pos.offline.sync.log"].search([("config_id", "=", config.id)])
        self.assertEqual(len(logs), 1)
        self.assertEqual((logs.sent, logs.created, logs.refused), (2, 2, 0))
        self.assertEqual(logs.user_id, self.pos_user)

    def test_setting_answered_to_the_register(self):
        config = self.main_pos_config
        payload = {"v": 1, "config_id": config.id}
        Order = self.env["pos.order"].with_user(self.pos_user)
        self.assertFalse(Order.offline_register_settings(payload)["offline_auto_sync"])
        config.offline_auto_sync = True
        self.assertTrue(Order.offline_register_settings(payload)["offline_auto_sync"])
