# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import copy
import logging
import pprint
from unittest.mock import patch

from odoo.exceptions import UserError
from odoo.tests import tagged

from ..models.offline_order_sink import QuietUiOrder
from .common import OfflineSyncCommon

ODOO_ORDER_LOGGER = "odoo.addons.point_of_sale.models.pos_order"


@tagged("post_install", "-at_install")
class TestOfflineSync(OfflineSyncCommon):
    def test_sync_creates_paid_orders_once(self):
        first, second = self.plain_order(), self.plain_order([(self.lamp, 1), (self.desk_pad, 3)])
        results = self.sync(first, second)
        self.assertEqual([r["status"] for r in results], ["created", "created"])
        self.assertTrue(all(r["ok"] and r["paid"] for r in results))
        self.assertEqual([r["uuid"] for r in results], [first["uuid"], second["uuid"]])
        order = self.find(second)
        self.assertEqual(order.state, "paid")
        self.assertTrue(order.offline_synced)
        self.assertAlmostEqual(order.amount_total, 22.5)
        self.assertEqual(order.session_id, self.pos_session)

        # The same batch again (a lost answer, a second click): confirmed, nothing created.
        again = self.sync(first, second)
        self.assertEqual([r["status"] for r in again], ["exists", "exists"])
        self.assertTrue(all(r["ok"] for r in again))
        self.assertEqual(len(self.find(first)), 1)
        self.assertEqual(len(self.find(second)), 1)

    def test_order_already_synced_by_odoo_itself(self):
        order = self.plain_order()
        self.env["pos.order"].sync_from_ui([dict(order["odoo"])])
        [result] = self.sync(order)
        self.assertEqual((result["ok"], result["status"], result["paid"]), (True, "exists", True))
        self.assertEqual(len(self.find(order)), 1)

    def test_bad_order_does_not_break_the_batch(self):
        good1, good2 = self.plain_order(), self.plain_order()
        unknown_product = self.plain_order()
        unknown_product["odoo"]["lines"][0][2]["product_id"] = 999999999
        malformed = self.plain_order()
        malformed["lines"][0]["qty"] = "two"
        results = self.sync(good1, unknown_product, malformed, good2)
        self.assertEqual([r["ok"] for r in results], [True, False, False, True])
        self.assertEqual(results[1]["status"], "error")
        self.assertIn("line 1: product 999999999 does not exist", results[1]["reason"])
        self.assertIn("line 1", results[2]["reason"])
        self.assertTrue(self.find(good1) and self.find(good2))
        self.assertFalse(self.find(unknown_product) or self.find(malformed))

    def test_order_whose_query_fails_leaves_the_others_stored(self):
        # A product id that is text fails its query in PostgreSQL: done outside the order's
        # savepoint, that aborted the whole transaction, so the next order failed too and the
        # first, answered ok, was undone at commit.
        good1, bad, good2 = self.plain_order(), self.plain_order(), self.plain_order()
        bad["odoo"]["lines"][0][2]["product_id"] = "12 OR 1=1"
        results = self.sync(good1, bad, good2)
        self.assertEqual([r["ok"] for r in results], [True, False, True], results)
        self.assertIn("line 1", results[1]["reason"])
        self.assertTrue(self.find(good1) and self.find(good2))

    def test_odoos_debug_line_shows_the_whole_order_only_when_it_is_printed(self):
        # Odoo's sync_from_ui pformats each order for a debug line whether or not it is
        # printed: the addon's order dict is walked only when that line is printed.
        order = self.plain_order()
        line_uuid = order["odoo"]["lines"][0][2]["uuid"]
        logger = logging.getLogger(ODOO_ORDER_LOGGER)
        level = logger.level
        self.addCleanup(logger.setLevel, level)
        logger.setLevel(logging.INFO)
        quiet = pprint.pformat(QuietUiOrder(order["odoo"]))
        self.assertEqual(quiet, f"<offline order {order['uuid']}>")
        # What the sink hands Odoo: pformat gets the quiet dict (at INFO, as in production).
        formatted = []
        real_pformat = pprint.pformat

        def recording_pformat(value, *args, **kwargs):
            formatted.append(type(value))
            return real_pformat(value, *args, **kwargs)

        with patch(f"{ODOO_ORDER_LOGGER}.pformat", recording_pformat):
            [first] = self.sync(self.plain_order())
        self.assertTrue(first["ok"], first)
        self.assertEqual(formatted, [QuietUiOrder])
        with self.assertLogs(ODOO_ORDER_LOGGER, logging.DEBUG) as logs:
            [result] = self.sync(order)
        self.assertTrue(result["ok"], result)
        full_data = [line for line in logs.output if "full data" in line]
        self.assertEqual(len(full_data), 1, logs.output)
        self.assertIn(line_uuid, full_data[0])  # the whole order, as Odoo prints it
        self.assertEqual(pprint.pformat(QuietUiOrder(order["odoo"])), quiet)  # INFO again

    def test_closed_session_uses_the_open_one(self):
        order = self.plain_order()
        old_session = self.pos_session
        old_session.post_closing_cash_details(0)
        old_session.close_session_from_ui()
        self.assertEqual(old_session.state, "closed")

        # No open session: never refused, the register's rescue session takes it (issue 9,
        # test_rescue_session.py).
        late = self.plain_order()
        [rescued] = self.sync(late)
        self.assertTrue(rescued["ok"], rescued)
        self.assertTrue(self.find(late).session_id.rescue)

        # A session opened since (newer than the rescue one) takes the next: Odoo's choice.
        new_session = self.open_new_session()
        [result] = self.sync(order)
        self.assertTrue(result["ok"])
        self.assertEqual(self.find(order).session_id, new_session)

    def test_malformed_payload_is_refused_clearly(self):
        with self.assertRaisesRegex(UserError, "version 1"):
            self.env["pos.order"].offline_sync_orders({"orders": []})
        with self.assertRaisesRegex(UserError, "config_id"):
            self.env["pos.order"].offline_sync_orders({"v": 1, "config_id": "1", "orders": []})

    def test_orders_left_sync_after_offline_mode_is_turned_off(self):
        # Orders captured while the mode was on must still reach the back office.
        self.config.allow_offline_mode = False
        [result] = self.sync(self.plain_order())
        self.assertTrue(result["ok"])

    def test_card_method_says_what_card_charging_lacks(self):
        method = self.card_pm
        self.assertTrue(method.offline_card_capture)
        company = self.config.company_id
        if (
            "payment.provider" not in self.env
            or "stripe_secret_key" not in self.env["payment.provider"]._fields
        ):
            # payment_stripe is optional: the method says so where the flag is set.
            self.assertIn("install the Stripe payment provider", method.offline_card_problem)
            return
        Provider = self.env["payment.provider"]
        Provider.search([("code", "=", "stripe"), ("company_id", "=", company.id)]).write(
            {"stripe_secret_key": False}
        )
        method.invalidate_recordset()
        self.assertIn("set the secret key", method.offline_card_problem)
        Provider.create(
            {
                "name": "Stripe (key set)",
                "code": "stripe",
                "state": "test",
                "company_id": company.id,
                "stripe_secret_key": "sk_test_x",
                "stripe_publishable_key": "pk_test_x",
            }
        )
        method.invalidate_recordset()
        self.assertFalse(method.offline_card_problem)
        self.assertFalse(self.bank_pm1.offline_card_capture)
        self.assertFalse(self.bank_pm1.offline_card_problem, "only flagged methods")

    def test_the_addons_sync_does_not_read_the_order_back(self):
        # A third of sync_from_ui's time is reading the order back for the register; the
        # addon's sync uses nothing of it (Odoo's pos_sale reads the ids only).
        PosOrder = self.env["pos.order"]
        order = self.plain_order()
        answer = PosOrder.with_context(pos_offline_no_read_back=True).sync_from_ui(
            [copy.deepcopy(order["odoo"])]
        )
        self.assertEqual(answer["pos.order"], [{"id": self.find(order).id, "uuid": order["uuid"]}])
        self.assertEqual(answer["pos.order.line"], [])
        other = self.plain_order()
        full = PosOrder.sync_from_ui([copy.deepcopy(other["odoo"])])
        self.assertEqual(len(full["pos.order.line"]), len(other["lines"]), "Odoo's own: whole")
        # Through the addon's sync the order is stored as before.
        third = self.plain_order()
        self.assertEqual(self.sync(third)[0]["status"], "created")
        self.assertEqual(self.find(third).state, "paid")

    def test_an_orders_line_names_are_drawn_at_once_as_odoo_names_them(self):
        # Odoo draws each new line's name from the register's no-gap line sequence, one
        # locked update per line; the addon draws an order's at once: the same names.
        sequence = self.config.order_line_seq_id
        first = sequence.number_next_actual
        order = self.plain_order([(self.desk_pad, 1), (self.lamp, 2), (self.desk_pad, 3)])
        self.assertEqual(self.sync(order)[0]["status"], "created")
        lines = self.find(order).lines.sorted("id")
        self.assertEqual(
            lines.mapped("name"), [sequence.get_next_char(first + i) for i in range(3)]
        )
        self.assertEqual(lines.mapped("qty"), [1, 2, 3], "each name on its own line, in order")
        # Odoo's own sync goes on from there, on the same sequence.
        other = self.plain_order([(self.lamp, 1), (self.lamp, 1)])
        self.env["pos.order"].sync_from_ui([copy.deepcopy(other["odoo"])])
        self.assertEqual(
            self.find(other).lines.sorted("id").mapped("name"),
            [sequence.get_next_char(first + 3 + i) for i in range(2)],
        )
        sequence.invalidate_recordset()  # number_next_actual is computed, cached when read
        self.assertEqual(sequence.number_next_actual, first + 5)

    def test_drawing_many_numbers_at_once_gives_what_one_at_a_time_gives(self):
        Sequence = self.env["ir.sequence"].sudo()
        for implementation in ("no_gap", "standard"):
            vals = {
                "name": f"Offline test {implementation}",
                "implementation": implementation,
                "prefix": "L/%(year)s/",
                "padding": 4,
                "number_next": 7,
                "number_increment": 2,
            }
            at_once, one_by_one = Sequence.create(vals), Sequence.create(vals)
            self.assertEqual(at_once._offline_next_many(3), [one_by_one._next() for _ in range(3)])
            self.assertEqual(at_once._offline_next_many(1), [one_by_one._next()])
            self.assertEqual(at_once._offline_next_many(0), [])
            (at_once | one_by_one).invalidate_recordset()
            self.assertEqual(at_once.number_next_actual, one_by_one.number_next_actual)

    def test_a_product_found_good_for_one_order_does_not_pass_a_bad_one_in_the_call(self):
        # The check keeps the records it found good for the rest of the call: only those.
        other_company = self.env["res.company"].create({"name": "Offline other company"})
        foreign = self.env["product.product"].create(
            {"name": "Foreign pad", "available_in_pos": True, "company_id": other_company.id}
        )
        good = self.plain_order([(self.desk_pad, 1)])
        bad = self.plain_order([(self.desk_pad, 1)])
        bad["lines"][0]["product_id"] = foreign.id
        bad["odoo"]["lines"][0][2]["product_id"] = foreign.id
        again = self.plain_order([(self.desk_pad, 2)])
        results = self.sync(good, bad, again)
        self.assertEqual([r["status"] for r in results], ["created", "error", "created"])
        self.assertIn(f"product {foreign.id} is not sold in this register", results[1]["reason"])
