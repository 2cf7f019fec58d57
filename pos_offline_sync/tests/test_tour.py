# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.addons.point_of_sale.tests.test_frontend import TestPointOfSaleHttpCommon
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
class TestOfflineChangeTour(OfflineTourCommon):
    def test_a_cash_sale_with_change_lands_with_its_change_line(self):
        self.enable_offline_mode()
        self.main_pos_config.with_user(self.pos_user).open_ui()
        before = self.env["pos.order"].search([("config_id", "=", self.main_pos_config.id)])
        self.start_pos_tour("pos_offline_change_tour", login="pos_user")
        order = self.env["pos.order"].search([("config_id", "=", self.main_pos_config.id)]) - before
        self.assertEqual(len(order), 1)
        self.assertTrue(order.offline_synced)
        self.assertEqual(order.state, "paid")
        tendered = order.payment_ids.filtered(lambda p: not p.is_change)
        change = order.payment_ids.filtered("is_change")
        self.assertEqual(tendered.amount, 100.0)
        currency = order.currency_id
        self.assertFalse(currency.compare_amounts(change.amount, order.amount_total - 100.0))
        self.assertFalse(currency.compare_amounts(order.amount_paid, order.amount_total))


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


@tagged("post_install", "-at_install")
class TestOfflineDevicesTour(TestPointOfSaleHttpCommon):
    def test_the_register_reports_what_it_holds(self):
        self.main_pos_config.allow_offline_mode = True
        self.main_pos_config.with_user(self.pos_user).open_ui()
        self.start_pos_tour("pos_offline_devices_tour", login="pos_user")
        device = self.env["pos.offline.device"].search(
            [("config_id", "=", self.main_pos_config.id)]
        )
        self.assertEqual(len(device), 1)
        self.assertEqual((device.name, device.waiting_count), ("Tour tablet", 0))
        self.assertEqual(device.reported_by_id, self.pos_user)
        self.assertEqual(device.cashier_name, self.pos_user.name)
        self.assertEqual(device.addon_version, "19.0.1.4.0")
        self.assertEqual(len(device.device_uid), 32)
        self.assertGreater(device.seq, 3)

    def test_the_back_office_sees_the_devices(self):
        # A register of the company the admin's dashboard shows.
        admin = self.env.ref("base.user_admin")
        Config = self.env["pos.config"].sudo()
        shown = Config.search([("company_id", "=", admin.company_id.id)], limit=1)
        config = shown
        self.assertTrue(config)
        self.env["pos.order"].with_user(admin).offline_device_report(
            {
                "v": 1,
                "config_id": config.id,
                "device_id": "b" * 32,
                "device_name": "Back office tablet",
                "seq": 1,
                "addon_version": "19.0.1.4.0",
                "storage": "best-effort",
                "cashier": {"id": admin.id, "name": admin.name},
                "waiting": {"count": 3, "total": 21.0, "oldest_at": "2026-12-01T09:00:00Z"},
                "cards": {"count": 0, "amount": 0, "oldest_at": None, "seconds_left": None},
                "at": "2026-12-01T12:00:00Z",
            }
        )
        self.start_tour("/odoo/point-of-sale", "pos_offline_devices_backend_tour", login="admin")
        device = (
            self.env["pos.offline.device"]
            .sudo()
            .search([("config_id", "=", config.id), ("device_uid", "=", "b" * 32)])
        )
        self.assertEqual((device.waiting_count, device.seq), (0, 2))
