# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import datetime, timedelta

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .common import OfflineSyncCommon, company_user

DEVICE_A = "a" * 32
DEVICE_B = "b" * 32


@tagged("post_install", "-at_install")
class TestOfflineDevices(OfflineSyncCommon):
    """offline_device_report in real Odoo: stored once per device and register, ordered by
    seq, bounded, refused for a caller of another company; the Devices list, the dashboard's
    totals and the guarded session close."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        company = cls.config.company_id
        cls.cashier = company_user(cls.env, "device_cashier", company)
        cls.manager = company_user(
            cls.env,
            "device_manager",
            company,
            groups="base.group_user,point_of_sale.group_pos_manager",
        )
        cls.other_company = cls.env["res.company"].create({"name": "Other Shop Ltd."})
        cls.foreign_cashier = company_user(cls.env, "device_foreign_cashier", cls.other_company)
        cls.clerk = company_user(cls.env, "device_clerk", company, groups="base.group_user")

    def payload(self, device=DEVICE_A, seq=1, count=2, name="Front counter", cards=0):
        oldest = (datetime.utcnow() - timedelta(hours=2)).isoformat() + "Z"
        return {
            "v": 1,
            "config_id": self.config.id,
            "device_id": device,
            "device_name": name,
            "seq": seq,
            "addon_version": "19.0.1.4.0",
            "storage": "best-effort",
            "cashier": {"id": self.cashier.id, "name": self.cashier.name},
            "waiting": {
                "count": count,
                "total": 10.5 * count,
                "oldest_at": oldest if count else None,
            },
            "cards": {
                "count": cards,
                "amount": 7.0 * cards,
                "oldest_at": oldest if cards else None,
                "seconds_left": 3600 if cards else None,
            },
            "at": datetime.utcnow().isoformat() + "Z",
        }

    def report(self, user=None, **kwargs):
        PosOrder = self.env["pos.order"].with_user(user or self.cashier)
        return PosOrder.offline_device_report(self.payload(**kwargs))

    def devices(self):
        return self.env["pos.offline.device"].search([("config_id", "=", self.config.id)])

    # -- reports -------------------------------------------------------------------------------
    def test_a_report_is_stored_and_listed(self):
        answer = self.report(count=2, cards=1)
        self.assertEqual(answer, {"v": 1, "applied": True, "heartbeat_s": 60})
        device = self.devices()
        self.assertEqual(len(device), 1)
        self.assertEqual(
            (device.device_uid, device.name, device.waiting_count, device.card_count),
            (DEVICE_A, "Front counter", 2, 1),
        )
        self.assertEqual(device.cashier_name, self.cashier.name)
        self.assertEqual(device.reported_by_id, self.cashier)
        self.assertAlmostEqual(device.card_amount, 7.0)
        self.assertFalse(device.is_stale)
        self.assertIn("ago", device.last_seen_text)
        self.assertIn("ago", device.waiting_oldest_text)
        self.assertIn("left", device.card_time_left_text)
        # The deadline is placed on the server's clock: now + the time left the register said.
        delta = device.card_deadline - fields.Datetime.now()
        self.assertTrue(timedelta(minutes=58) < delta <= timedelta(hours=1, seconds=1), delta)

    def test_the_same_report_again_only_moves_last_seen(self):
        self.report(seq=4)
        device = self.devices()
        device.sudo().last_seen = fields.Datetime.now() - timedelta(days=1)  # a silent device
        self.assertTrue(device.is_stale)
        self.assertIn("Not reporting", device.last_seen_text)
        self.assertFalse(self.report(seq=4)["applied"])
        self.assertFalse(device.is_stale)
        self.assertEqual(device.waiting_count, 2)
        self.assertEqual(len(self.devices()), 1)

    def test_a_late_report_never_turns_a_newer_state_back(self):
        self.report(seq=9, count=0)
        self.assertFalse(self.report(seq=8, count=5)["applied"])
        self.assertEqual(self.devices().waiting_count, 0)
        self.assertTrue(self.report(seq=10, count=1)["applied"])
        self.assertEqual(self.devices().waiting_count, 1)

    def test_a_malformed_report_is_refused_with_the_reason(self):
        for kwargs, needle in (
            ({"seq": 0}, "seq"),
            ({"name": ""}, "device_name is empty"),
            ({"device": "not an id"}, "device_id"),
        ):
            with self.assertRaisesRegex(UserError, needle):
                self.report(**kwargs)
        payload = self.payload()
        payload["padding"] = "x" * 5000
        with self.assertRaisesRegex(UserError, "more than 4096"):
            self.env["pos.order"].with_user(self.cashier).offline_device_report(payload)
        self.assertFalse(self.devices())

    def test_a_report_of_another_company_is_refused(self):
        with self.assertRaisesRegex(AccessError, "no access to this Point of Sale"):
            self.report(user=self.foreign_cashier)
        with self.assertRaisesRegex(AccessError, "Point of Sale users"):
            self.report(user=self.clerk)
        self.assertFalse(self.devices())
        # Nor can that company's users read this company's devices.
        self.report()
        Device = self.env["pos.offline.device"].with_user(self.foreign_cashier)
        self.assertFalse(Device.search([]))
        self.assertTrue(self.env["pos.offline.device"].with_user(self.cashier).search([]))

    def test_devices_are_read_only_for_pos_users(self):
        self.report()
        device = self.devices().with_user(self.manager)
        with self.assertRaises(AccessError):
            device.write({"waiting_count": 0})
        with self.assertRaises(AccessError):
            device.unlink()

    def test_dashboard_counts_orders_and_devices(self):
        self.report(device=DEVICE_A, count=3)
        self.report(device=DEVICE_B, count=2)
        self.report(device="c" * 32, count=0)
        self.config.invalidate_recordset()
        self.assertEqual(self.config.offline_waiting_order_count, 5)
        self.assertEqual(self.config.offline_waiting_device_count, 2)
        action = self.config.action_offline_devices()
        self.assertEqual(action["res_model"], "pos.offline.device")
        self.assertEqual(self.env["pos.offline.device"].search(action["domain"]), self.devices())
        holding = self.env["pos.offline.device"].search(
            action["domain"] + [("waiting_count", ">", 0)]
        )
        self.assertEqual(len(holding), 2)
        stale = self.env["pos.offline.device"].search([("is_stale", "=", True)])
        self.assertFalse(stale & self.devices())

    # -- the guarded session close -------------------------------------------------------------
    def test_the_pos_closing_popup_lists_the_devices(self):
        self.report(device=DEVICE_A, count=3, name="Front counter")
        self.report(device=DEVICE_B, count=0, name="Back counter")
        session = self.pos_session.with_user(self.cashier)
        session.update_closing_control_state_session("end of day")
        self.assertEqual(self.pos_session.state, "opened")  # still open for selling
        answer = session.close_session_from_ui()
        self.assertFalse(answer["successful"])
        self.assertIn("Front counter: 3 order(s) waiting", answer["message"])
        self.assertNotIn("Back counter", answer["message"])
        holding = self.devices().filtered("waiting_count")
        self.assertEqual(answer["pos_offline_devices"], holding.ids)
        self.assertEqual(self.pos_session.state, "opened")

    def test_back_office_close_needs_a_manager_and_a_reason(self):
        self.report(count=2)
        action = self.pos_session.with_user(self.cashier).action_pos_session_closing_control()
        self.assertEqual(action["res_model"], "pos.offline.close.session")
        Wizard = self.env["pos.offline.close.session"]
        wizard = Wizard.with_user(self.cashier).browse(action["res_id"])
        self.assertIn("Front counter: 2 order(s) waiting", wizard.message)
        self.assertFalse(wizard.is_manager)
        wizard.reason = "closing time"
        with self.assertRaises(AccessError):
            wizard.action_close_anyway()
        # The right cannot be had by passing the reason in the context either.
        with self.assertRaises(AccessError):
            self.pos_session.with_user(self.cashier).with_context(
                pos_offline_close_reason="because"
            ).action_pos_session_closing_control()
        self.assertNotEqual(self.pos_session.state, "closed")

        as_manager = self.env["pos.offline.close.session"].with_user(self.manager)
        action = self.pos_session.with_user(self.manager).action_pos_session_closing_control()
        wizard = as_manager.browse(action["res_id"])
        self.assertTrue(wizard.is_manager)
        with self.assertRaisesRegex(UserError, "Say why"):
            wizard.action_close_anyway()
        wizard.reason = "The tablet broke; its orders come in tomorrow."
        wizard.action_close_anyway()
        self.assertEqual(self.pos_session.state, "closed")
        bodies = " ".join(self.pos_session.message_ids.mapped("body"))
        self.assertIn("The tablet broke; its orders come in tomorrow.", bodies)
        self.assertIn("Front counter: 2 order(s) waiting", bodies)
        self.assertIn(self.manager.name, bodies)

    def test_once_synced_the_session_closes_as_usual(self):
        self.report(seq=1, count=2)
        self.report(seq=2, count=0)
        self.assertIs(self.pos_session.action_pos_session_closing_control(), True)
        self.assertEqual(self.pos_session.state, "closed")
