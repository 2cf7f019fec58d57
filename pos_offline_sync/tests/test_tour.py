# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.addons.point_of_sale.tests.test_frontend import TestPointOfSaleHttpCommon
from odoo.tests import Form, tagged


@tagged("post_install", "-at_install")
class TestOfflineSyncTour(TestPointOfSaleHttpCommon):
    def test_offline_sale_synced_from_the_dialog(self):
        # Enable offline mode the way a manager does: the POS settings.
        settings = Form(self.env["res.config.settings"])
        settings.pos_config_id = self.main_pos_config
        settings.pos_allow_offline_mode = True
        settings.save().execute()
        self.assertTrue(self.main_pos_config.allow_offline_mode)
        self.assertFalse(self.main_pos_config.allow_offline_auto_detect)

        self.main_pos_config.with_user(self.pos_user).open_ui()
        before = self.env["pos.order"].search([("config_id", "=", self.main_pos_config.id)])
        self.start_pos_tour("pos_offline_sync_tour", login="pos_user")

        # The back office has the offline sale, once, paid, marked as synced from offline.
        orders = (
            self.env["pos.order"].search([("config_id", "=", self.main_pos_config.id)]) - before
        )
        self.assertEqual(len(orders), 1)
        self.assertTrue(orders.offline_synced)
        self.assertEqual(orders.state, "paid")
        self.assertEqual(orders.lines.product_id.name, "Desk Pad")
        self.assertEqual(orders.lines.qty, 2)
