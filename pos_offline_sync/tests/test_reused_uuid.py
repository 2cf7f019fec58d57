# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""One uuid, two sales (core/order_identity.py). Odoo 19 restores, after a quick reload, an
order already paid and synced as an empty draft, and the cashier rings the next sale into it
(bench/odoo_browser_bench.py: 1 sale in 70). Odoo's own sync answers it "sync ignored" and the
addon's answered "exists": the sale, paid, was lost. With offline mode on, both store it as a
new order, once whatever the resends; a resend of the same sale is still "exists"."""

import base64
import copy

from odoo.tests import tagged

from .common import OfflineSyncCommon
from .test_csv_import import export_csv


@tagged("post_install", "-at_install")
class TestReusedUuid(OfflineSyncCommon):
    def next_sale_under(self, order, lines=None):
        """Another sale rung into a copy of `order`: its uuid, its own lines and payment."""
        other = self.plain_order(lines or [(self.desk_pad, 1)], order_uuid=order["uuid"])
        return other

    def orders_named(self, order_uuid):
        return self.env["pos.order"].search([("uuid", "=", order_uuid)])

    def test_the_addons_sync_stores_the_other_sale_once(self):
        first = self.plain_order([(self.lamp, 2)])
        self.assertEqual(self.sync(first)[0]["status"], "created")
        # Same goods even: only its payment and line uuids tell it apart.
        second = self.next_sale_under(first, [(self.lamp, 2)])
        [result] = self.sync(copy.deepcopy(second))
        self.assertEqual(
            (result["uuid"], result["status"], result["ok"]), (first["uuid"], "created", True)
        )
        stored = self.env["pos.order"].search([("config_id", "=", self.config.id)])
        self.assertEqual(len(stored), 2)
        other = stored - self.orders_named(first["uuid"])
        self.assertEqual(other.state, "paid")
        self.assertEqual(other.payment_ids.uuid, second["payments"][0]["uuid"])
        self.assertIn(first["uuid"], other.message_ids.mapped("body")[0])
        # Resends, in any order: each "exists", nothing stored twice.
        again = self.sync(copy.deepcopy(second), copy.deepcopy(first))
        self.assertEqual([r["status"] for r in again], ["exists", "exists"])
        self.assertEqual(
            self.env["pos.order"].search_count([("config_id", "=", self.config.id)]), 2
        )

    def test_a_resend_of_the_same_sale_is_exists(self):
        order = self.plain_order([(self.desk_pad, 3)])
        self.sync(copy.deepcopy(order))
        self.assertEqual(self.sync(copy.deepcopy(order))[0]["status"], "exists")
        self.assertEqual(len(self.orders_named(order["uuid"])), 1)

    def test_odoos_own_sync_stores_the_other_sale_with_offline_mode_on(self):
        PosOrder = self.env["pos.order"]
        first = self.plain_order([(self.lamp, 1)])
        PosOrder.sync_from_ui([copy.deepcopy(first["odoo"])])
        second = self.next_sale_under(first)
        answer = PosOrder.sync_from_ui([copy.deepcopy(second["odoo"])])
        # The register knows it by the uuid it sent: its copy becomes the stored order.
        self.assertEqual([o["uuid"] for o in answer["pos.order"]], [first["uuid"]])
        stored = PosOrder.search([("config_id", "=", self.config.id)])
        self.assertEqual(len(stored), 2)
        self.assertEqual(
            sorted(stored.mapped("amount_total")),
            sorted([first["amount_total"], second["amount_total"]]),
        )
        # Odoo's own resends ("sync ignored" for both): nothing more, and one note only.
        PosOrder.sync_from_ui([copy.deepcopy(second["odoo"]), copy.deepcopy(first["odoo"])])
        self.assertEqual(PosOrder.search_count([("config_id", "=", self.config.id)]), 2)
        other = stored - self.orders_named(first["uuid"])
        notes = [b for b in other.message_ids.mapped("body") if first["uuid"] in b]
        self.assertEqual(len(notes), 1, notes)

    def test_with_offline_mode_off_odoos_answer_stays(self):
        self.config.allow_offline_mode = False
        PosOrder = self.env["pos.order"]
        first = self.plain_order([(self.lamp, 1)])
        PosOrder.sync_from_ui([copy.deepcopy(first["odoo"])])
        PosOrder.sync_from_ui([copy.deepcopy(self.next_sale_under(first)["odoo"])])
        self.assertEqual(PosOrder.search_count([("config_id", "=", self.config.id)]), 1)

    def test_a_csv_import_then_the_registers_sync_of_that_sale_is_one_order(self):
        # The import makes its lines with uuids of its own: they must not make the register's
        # own resend look like another sale.
        self.registry_enter_test_mode()
        order = self.plain_order([(self.lamp, 1), (self.desk_pad, 2)])
        wizard = self.env["pos.offline.csv.import"].create(
            {
                "config_id": self.config.id,
                "csv_file": base64.b64encode(export_csv(order).encode()),
                "csv_filename": "offline.csv",
            }
        )
        wizard.action_import()
        self.assertEqual(len(self.orders_named(order["uuid"])), 1)
        self.assertEqual(self.sync(copy.deepcopy(order))[0]["status"], "exists")
        self.assertEqual(
            self.env["pos.order"].search_count([("config_id", "=", self.config.id)]), 1
        )
