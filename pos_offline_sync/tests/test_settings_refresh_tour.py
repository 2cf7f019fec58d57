# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.exceptions import AccessError
from odoo.tests import tagged

from .tour_common import OfflineTourCommon


@tagged("post_install", "-at_install")
class TestSettingsRefreshTour(OfflineTourCommon):
    """Odoo's POS reuses its cached data on a refresh or a new login: the offline settings
    changed meanwhile must reach the register anyway."""

    def test_settings_reach_an_open_register(self):
        config = self.main_pos_config
        self.assertFalse(config.allow_offline_mode)
        # Odoo refuses changes to a payment method of an open session: flagged before.
        self.bank_payment_method.offline_card_capture = True
        config.with_user(self.pos_admin).open_ui()
        session = config.current_session_id

        self.start_pos_tour("pos_offline_sync_settings_refresh_tour", login="pos_admin")

        # Every change went through the ORM, in the same session, with no data reload asked.
        self.assertEqual(config.current_session_id, session)
        self.assertFalse(config.allow_offline_mode)
        self.assertFalse(config.allow_offline_auto_detect)
        self.assertFalse(config.offline_auto_sync)
        self.assertEqual(config.offline_card_max_amount, 0)
        self.assertFalse(
            self.env["pos.order"].search([("config_id", "=", config.id), ("state", "!=", "draft")])
        )

    def test_settings_answer(self):
        config = self.main_pos_config
        config.write({"allow_offline_mode": True, "offline_card_max_total": 80})
        self.bank_payment_method.offline_card_capture = True
        payload = {"v": 1, "config_id": config.id}
        answer = self.env["pos.order"].with_user(self.pos_user).offline_register_settings(payload)
        self.assertEqual(answer["offline_card_max_total"], 80)
        self.assertTrue(answer["allow_offline_mode"])
        self.assertEqual(
            answer["offline_card_capture"],
            {str(m.id): m == self.bank_payment_method for m in config.payment_method_ids},
        )
        self.assertEqual(answer["card_public_key"], config._offline_card_public_key())
        config.allow_offline_mode = False
        answer = self.env["pos.order"].with_user(self.pos_user).offline_register_settings(payload)
        self.assertFalse(answer["card_public_key"], "no key while offline mode is off")

        # Only POS users, only their companies' registers.
        self.pos_user.group_ids = self.env.ref("base.group_user")
        with self.assertRaises(AccessError):
            self.env["pos.order"].with_user(self.pos_user).offline_register_settings(payload)
