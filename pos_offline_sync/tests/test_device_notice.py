# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The register's devices are told once per sync call that orders changed, not once per order
(Odoo's sync_from_ui calls pos.config.notify_synchronisation for each order it stores, and
each notice makes every other device read the register's open orders again), and the notice
names the device that synced, as Odoo's own sync does, so that device reads nothing for it.

The notices are read from Odoo's bus table, written in the test's transaction (nothing is
committed)."""

import json
import logging
from unittest.mock import patch

from odoo.tests import tagged

from ..core.sync_service import STORE_GROUP
from .common import OfflineSyncCommon

SINK_LOGGER = "odoo.addons.pos_offline_sync.models.offline_order_sink"


@tagged("post_install", "-at_install")
class TestDeviceNotice(OfflineSyncCommon):
    def queued_notices(self):
        """The SYNCHRONISATION payloads of this transaction so far, in order: those Odoo's bus
        wrote already (a flush runs its precommit hook) and those it still holds for it."""
        self.env.flush_all()
        written = self.env["bus.bus"].sudo().search([], order="id")
        messages = [json.loads(message) for message in written.mapped("message")]
        queued = self.env.cr.precommit.data.get("bus.bus.values", [])
        messages += [json.loads(value["message"]) for value in queued]
        # Private notices: the type is the config's access token, then the name.
        return [m["payload"] for m in messages if m["type"].endswith("-SYNCHRONISATION")]

    def sync_as_device(self, device, *orders):
        PosOrder = self.env["pos.order"].with_context(device_identifier=device)
        return PosOrder.offline_sync_orders(
            {"v": 1, "config_id": self.config.id, "orders": list(orders)}
        )["results"]

    def test_a_landing_of_several_groups_tells_the_devices_once_naming_the_syncing_one(self):
        before = len(self.queued_notices())
        orders = [self.plain_order() for _ in range(STORE_GROUP + 2)]
        results = self.sync_as_device("dev-a", *orders)
        self.assertTrue(all(r["ok"] for r in results), results)
        notices = self.queued_notices()[before:]
        self.assertEqual(len(notices), 1, notices)
        self.assertEqual(notices[0]["device_identifier"], "dev-a")
        self.assertEqual(notices[0]["session_id"], self.config.current_session_id.id)

    def test_without_a_device_the_notice_names_none_as_odoo_does(self):
        before = len(self.queued_notices())
        self.assertTrue(self.sync(self.plain_order(), self.plain_order())[0]["ok"])
        notices = self.queued_notices()[before:]
        self.assertEqual([n["device_identifier"] for n in notices], [0])

    def test_a_call_that_stores_nothing_tells_nobody(self):
        order = self.plain_order()
        self.assertTrue(self.sync(order)[0]["ok"])
        before = len(self.queued_notices())
        # Sent again ("exists") with a refused order: neither changes an order.
        results = self.sync(order, self.order_with_unknown_product())
        self.assertEqual([r["status"] for r in results], ["exists", "error"], results)
        self.assertEqual(self.queued_notices()[before:], [])

    def test_odoos_own_sync_still_tells_once_per_order(self):
        # Outside the addon's sync nothing changes: two orders, two notices.
        before = len(self.queued_notices())
        ui_orders = [self.plain_order()["odoo"] for _ in range(2)]
        self.env["pos.order"].with_context(device_identifier="dev-b").sync_from_ui(ui_orders)
        notices = self.queued_notices()[before:]
        self.assertEqual([n["device_identifier"] for n in notices], ["dev-b", "dev-b"])

    def test_a_bus_that_fails_loses_no_order(self):
        orders = [self.plain_order() for _ in range(3)]
        Config = type(self.env["pos.config"])
        with (
            patch.object(Config, "_notify", side_effect=RuntimeError("bus down")),
            self.assertLogs(SINK_LOGGER, logging.ERROR) as logs,
        ):
            results = self.sync_as_device("dev-a", *orders)
        self.assertEqual([r["status"] for r in results], ["created"] * 3, results)
        stored = self.env["pos.order"].search([("uuid", "in", [o["uuid"] for o in orders])])
        self.assertEqual(len(stored), 3)
        self.assertIn("could not be told", logs.output[0])

    def test_a_device_that_is_no_short_text_or_number_is_named_as_none(self):
        before = len(self.queued_notices())
        for device in ({"x": 1}, "d" * 65, ["a"]):
            self.assertTrue(self.sync_as_device(device, self.plain_order())[0]["ok"])
        self.assertTrue(self.sync_as_device("d" * 64, self.plain_order())[0]["ok"])
        notices = self.queued_notices()[before:]
        self.assertEqual([n["device_identifier"] for n in notices], [0, 0, 0, "d" * 64])
