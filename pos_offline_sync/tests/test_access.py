# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import OfflineSyncCommon, company_user


@tagged("post_install", "-at_install")
class TestOfflineAccess(OfflineSyncCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cashier = company_user(cls.env, "offline_cashier", cls.config.company_id)
        other_company = cls.env["res.company"].create({"name": "Other Shop Inc."})
        cls.foreign_cashier = company_user(cls.env, "foreign_cashier", other_company)
        cls.clerk = company_user(
            cls.env, "offline_clerk", cls.config.company_id, groups="base.group_user"
        )

    def test_cashier_of_the_company_syncs(self):
        order = self.plain_order()
        [result] = self.sync(order, user=self.cashier)
        self.assertTrue(result["ok"], result)
        self.assertEqual(self.find(order).state, "paid")

    def test_cashier_of_another_company_is_refused(self):
        order = self.plain_order()
        with self.assertRaisesRegex(AccessError, "no access to this Point of Sale"):
            self.sync(order, user=self.foreign_cashier)
        with self.assertRaises(AccessError):
            self.env["pos.order"].with_user(self.foreign_cashier).offline_process_card(
                {"v": 1, "config_id": self.config.id}
            )
        self.assertFalse(self.find(order))

    def test_user_without_pos_rights_is_refused(self):
        with self.assertRaisesRegex(AccessError, "Point of Sale users"):
            self.sync(self.plain_order(), user=self.clerk)
        with self.assertRaises(AccessError):
            self.env["pos.order"].with_user(self.clerk).offline_card_public_key(
                {"v": 1, "config_id": self.config.id}
            )

    def test_private_keys_are_out_of_reach_of_pos_users(self):
        self.config._offline_card_public_key()  # creates the company's key pair
        Key = self.env["pos.offline.card.key"]
        with self.assertRaises(AccessError):
            Key.with_user(self.cashier).search([]).read(["private_key_pem"])
        manager = new_test_user(
            self.env,
            login="offline_manager",
            groups="point_of_sale.group_pos_manager",
            company_id=self.config.company_id.id,
        )
        with self.assertRaises(AccessError):
            Key.with_user(manager).search([])
        with self.assertRaises(AccessError):
            Key.with_user(manager)._get_active_key(self.config.company_id)
        # The register gets the public half only.
        key = (
            self.env["pos.order"]
            .with_user(self.cashier)
            .offline_card_public_key({"v": 1, "config_id": self.config.id})
        )
        self.assertEqual(set(key), {"v", "kid", "spki"})

    def test_only_managers_or_accountants_charge_a_new_card(self):
        order = self.plain_order()
        self.sync(order)
        wizard = self.env["pos.offline.charge.card"].create(
            {"order_id": self.find(order).id, "amount": 1.0}
        )
        with self.assertRaises(AccessError):
            wizard.with_user(self.cashier).action_charge()
