# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""One create for a group's new orders (models/offline_create_ahead.py) in real Odoo: the same
orders give the very records, numbers and chatter with it and without it; an order that is
bad, refused by the database at its create, created with other values than made ahead,
already stored, or deferred never leaves a record made ahead behind, nor one twice; a module
the create ahead was not read for turns it off."""

import contextlib
import copy
import logging
from unittest.mock import patch

from odoo.tests import tagged

from ..core.sync_service import INTERNAL_ERROR_REASON, STORE_GROUP
from ..models import offline_create_ahead, offline_order_sink, pos_order
from ..models.offline_order_sink import OdooOrderSink
from .common import OfflineSyncCommon, with_production_chatter

# Differ between any two runs whatever the path: random tokens and timestamps.
NOT_COMPARED = {"id", "create_date", "write_date", "access_token"}
OWN_MODELS = ("pos.order", "pos.order.line", "pos.payment")


@tagged("post_install", "-at_install")
class TestCreateAhead(OfflineSyncCommon):
    def setUp(self):
        super().setUp()
        self.env = with_production_chatter(self.env)  # the chatter production gives

    # -- helpers ----------------------------------------------------------------------------
    def watching_stores(self):
        """A patch of the real sink's store() noting, for each order, whether a record made
        ahead waited for it (made by an earlier order's create) when its store began."""
        made_ahead = []
        store = OdooOrderSink.store

        def watched(sink, order):
            made_ahead.append(bool(sink._ahead and sink._ahead.holds(order["uuid"])))
            return store(sink, order)

        return patch.object(OdooOrderSink, "store", watched), made_ahead

    def without_create_ahead(self):
        return patch.object(OdooOrderSink, "prepare_group", lambda sink, orders: 0)

    def sales(self, count):
        """Sales of several goods and quantities, some with a customer, some paid in two."""
        orders = []
        for i in range(count):
            lines = [(self.desk_pad, 1 + i % 3)] + [(self.lamp, 1)] * (i % 2)
            if i % 3 == 2:
                total = self.create_ui_order_data(lines)["amount_total"]
                order = self.plain_order(lines, [(self.cash_pm1, 5.0), (self.bank_pm1, total - 5)])
            else:
                order = self.plain_order(lines)
            if i % 4 == 1:
                order["odoo"]["partner_id"] = self.customer.id
            orders.append(self.dated(order, f"2026-12-01 10:{i % 60:02d}:00"))
        return orders

    def refund_of(self, sale):
        """A refund of one pad of `sale` (a stored pos.order), as Odoo's register sends it."""
        refund = self.plain_order([(self.desk_pad, -1)])
        refund["is_return"] = True
        refund["odoo"]["is_refund"] = True
        line = sale.lines.filtered(lambda line: line.product_id == self.desk_pad)[:1]
        refund["odoo"]["lines"][0][2]["refunded_orderline_id"] = line.id
        return self.dated(refund, "2026-12-01 11:00:00")

    @staticmethod
    def dated(order, when):
        """The order and payment dates as the register sends them (else Odoo's defaults: the
        clock at each create, which differs between two runs whatever the path)."""
        order["odoo"]["date_order"] = when
        for command in order["odoo"]["payment_ids"]:
            command[2]["payment_date"] = when
        return order

    def rows(self, records):
        """Every stored field of `records` but the ones any two runs differ in; a link to an
        order, line or payment by its uuid (their ids differ between runs)."""
        rows = []
        for record in records:
            row = {}
            for name, field in record._fields.items():
                if (
                    not field.store
                    or name in NOT_COMPARED
                    or field.type in ("one2many", "many2many")
                ):
                    continue
                value = record[name]
                if field.type == "many2one":
                    value = value.uuid if value._name in OWN_MODELS else value.id
                row[name] = value
            rows.append(row)
        return rows

    def snapshot(self, orders):
        self.env.flush_all()
        self.env.invalidate_all()
        result = []
        for order in orders:
            pos_order = self.find(order)
            self.assertEqual(len(pos_order), 1, order["uuid"])
            messages = self.env["mail.message"].search(
                [("model", "=", "pos.order"), ("res_id", "=", pos_order.id)], order="id"
            )
            followers = self.env["mail.followers"].search(
                [("res_model", "=", "pos.order"), ("res_id", "=", pos_order.id)]
            )
            result.append(
                {
                    "order": self.rows(pos_order),
                    "lines": self.rows(pos_order.lines.sorted("uuid")),
                    "payments": self.rows(pos_order.payment_ids.sorted("uuid")),
                    "messages": [
                        (
                            m.message_type,
                            m.subtype_id.id,
                            m.author_id.id,
                            str(m.body),
                            sorted(
                                (
                                    t.field_id.name,
                                    t.old_value_char,
                                    t.new_value_char,
                                    t.old_value_integer,
                                    t.new_value_integer,
                                    t.old_value_float,
                                    t.new_value_float,
                                )
                                for t in m.sudo().tracking_value_ids
                            ),
                        )
                        for m in messages
                    ],
                    "followers": sorted(f.partner_id.id for f in followers),
                }
            )
        return result

    def run_both_ways(self, calls):
        """`calls`: a function syncing the orders and returning them; run with the create
        ahead and without it, from the same state (a savepoint rolled back between)."""
        snapshots = []
        for ahead in (True, False):
            self.env.flush_all()
            with self.env.cr.savepoint(flush=False) as savepoint:
                watch, made_ahead = self.watching_stores()
                with watch, contextlib.nullcontext() if ahead else self.without_create_ahead():
                    orders = calls()
                snapshots.append((self.snapshot(orders), made_ahead))
                savepoint.rollback()
            self.env.invalidate_all()
        return snapshots

    # -- the same result --------------------------------------------------------------------
    def test_the_same_orders_give_the_same_records_numbers_and_chatter(self):
        stored_sale = self.plain_order([(self.desk_pad, 3)])
        self.assertTrue(self.sync(stored_sale)[0]["ok"])
        sales = self.sales(STORE_GROUP + 4)
        refund = self.refund_of(self.find(stored_sale))

        def calls():
            batch = copy.deepcopy(sales[:5] + [refund] + sales[5:])
            results = self.sync(*batch)
            self.assertEqual([r["status"] for r in results], ["created"] * len(batch), results)
            return batch

        (with_ahead, made_with), (without, made_without) = self.run_both_ways(calls)
        # It ran: after each group's first two orders, every one was made ahead.
        self.assertEqual(made_with, [False, False] + [True] * 8 + [False, False] + [True] * 3)
        self.assertEqual(made_without, [False] * len(made_with))
        self.assertEqual(len(with_ahead), len(without))
        for position, (one, other) in enumerate(zip(with_ahead, without, strict=True)):
            self.assertEqual(one, other, f"order {position} differs")
        # And they are right: paid, each with its own lines and payments.
        self.assertTrue(all(row["order"][0]["state"] == "paid" for row in with_ahead))
        self.assertEqual(with_ahead[5]["order"][0]["is_refund"], True)

    # -- what must not leave a record made ahead ---------------------------------------------
    def test_a_bad_order_in_a_group_fails_alone_and_the_others_are_stored_once(self):
        orders = self.sales(STORE_GROUP)
        orders[4] = self.order_with_unknown_product()
        watch, made_ahead = self.watching_stores()
        with watch:
            results = self.sync(*orders)
        self.assertEqual([r["ok"] for r in results], [True] * 4 + [False] + [True] * 5, results)
        self.assertIn("does not exist", results[4]["reason"])
        self.assertTrue(any(made_ahead))
        self.assertEqual([len(self.find(o)) for o in orders], [1] * 4 + [0] + [1] * 5)
        numbers = [int(self.find(o).sequence_number) for o in orders if o is not orders[4]]
        self.assertEqual(numbers, list(range(numbers[0], numbers[0] + len(numbers))))

    def test_a_create_the_database_refuses_fails_only_its_order(self):
        """A PostgreSQL CHECK refusing one order at its INSERT: the group's one create fails
        (undone alone), each order is then created on its own turn, and only that one fails."""
        self.env.cr.execute(
            "ALTER TABLE pos_order ADD CONSTRAINT offline_test_insert_cap "
            "CHECK (amount_total < 1000) NOT VALID"
        )
        orders = self.sales(STORE_GROUP)
        orders[5] = self.plain_order([(self.lamp, 100)])  # 1,200
        with self.assertLogs(offline_create_ahead.__name__, logging.INFO) as logs:
            results = self.sync(*orders)
        self.assertEqual([r["ok"] for r in results], [True] * 5 + [False] + [True] * 4, results)
        self.assertEqual(results[5]["reason"], INTERNAL_ERROR_REASON)
        self.assertTrue(any("each is created on its turn" in line for line in logs.output))
        self.assertEqual([len(self.find(o)) for o in orders], [1] * 5 + [0] + [1] * 4)
        stored = [self.find(o) for o in orders if o is not orders[5]]
        self.assertTrue(all(o.state == "paid" and len(o.payment_ids) >= 1 for o in stored))
        numbers = [int(o.sequence_number) for o in stored]
        self.assertEqual(numbers, list(range(numbers[0], numbers[0] + len(numbers))))

    def test_an_order_created_with_other_values_than_made_ahead_gets_its_own(self):
        """Another module changing each order's values as it creates it (here a note naming
        the order): the one made ahead with the first's values is not used; the group is
        stored again and every order has its own note, once."""
        PosOrder = type(self.env["pos.order"])
        process = PosOrder._process_order

        def noting(self_, order, existing_order):
            order["general_customer_note"] = f"note of {order['uuid']}"
            return process(self_, order, existing_order)

        orders = self.sales(STORE_GROUP)
        with (
            patch.object(PosOrder, "_process_order", noting),
            self.assertLogs(offline_order_sink.__name__, logging.WARNING) as logs,
        ):
            results = self.sync(*orders)
        self.assertEqual([r["status"] for r in results], ["created"] * len(orders), results)
        self.assertTrue(any("differed from the one made ahead" in line for line in logs.output))
        for order in orders:
            stored = self.find(order)
            self.assertEqual(len(stored), 1)
            self.assertEqual(stored.general_customer_note, f"note of {order['uuid']}")
            self.assertEqual(stored.state, "paid")

    def test_an_order_stored_already_ends_the_orders_made_ahead(self):
        orders = self.sales(STORE_GROUP)
        self.assertTrue(self.sync(orders[4])[0]["ok"])  # the register's lost answer
        results = self.sync(*orders)
        self.assertEqual(
            [r["status"] for r in results], ["created"] * 4 + ["exists"] + ["created"] * 5
        )
        self.assertEqual([len(self.find(o)) for o in orders], [1] * len(orders))
        self.assertTrue(all(self.find(o).state == "paid" for o in orders))

    def test_the_same_uuid_twice_in_a_batch_is_stored_once(self):
        orders = self.sales(4)
        batch = orders + [copy.deepcopy(orders[1])] + self.sales(3)
        results = self.sync(*batch)
        self.assertEqual(results[4]["status"], "exists", results)
        self.assertEqual(len(self.find(orders[1])), 1)
        self.assertTrue(all(r["ok"] for r in results), results)

    # -- where it does not run --------------------------------------------------------------
    def test_it_runs_only_with_the_modules_it_was_read_for(self):
        self.assertLessEqual(
            offline_create_ahead.extending_modules(self.env),
            offline_create_ahead.CREATE_AHEAD_MODULES,
            "a module this database has extends the orders: read it, then add it",
        )
        # Another module extends them (pos_online_payment, as if not read): off.
        read = offline_create_ahead.CREATE_AHEAD_MODULES - {"pos_online_payment"}
        orders = self.sales(STORE_GROUP)
        watch, made_ahead = self.watching_stores()
        with watch, patch.object(pos_order, "CREATE_AHEAD_MODULES", read):
            results = self.sync(*orders)
        self.assertEqual([r["status"] for r in results], ["created"] * len(orders))
        self.assertEqual(made_ahead, [False] * len(orders))
