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


@tagged("post_install", "-at_install")
class TestOfflineSyncTourFrench(OfflineTourCommon):
    """The register and its dialog in French: the shipped i18n/fr.po reaches the OWL templates
    and the messages the JS core builds (card form errors, Process, the sync's results)."""

    def test_register_and_dialog_in_french(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        self.pos_user.lang = "fr_FR"
        self.enable_offline_mode()
        stripe = self.enable_offline_cards()
        self.main_pos_config.with_user(self.pos_user).open_ui()
        before = self.env["pos.order"].search([("config_id", "=", self.main_pos_config.id)])
        self.start_pos_tour("pos_offline_sync_fr_tour", login="pos_user")
        order = self.env["pos.order"].search([("config_id", "=", self.main_pos_config.id)]) - before
        self.assertEqual(len(order), 1)
        self.assertEqual(order.state, "paid")
        self.assertEqual(len(stripe.succeeded_intents(order.uuid)), 1)
