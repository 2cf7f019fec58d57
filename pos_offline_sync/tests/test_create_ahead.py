# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""One create for a group's new orders (models/offline_create_ahead.py) in real Odoo: the same
orders give the very records, numbers and chatter with it and without it; an order that is
bad, refused by the database at its create, created with other values than made ahead,
already stored, or deferred never leaves a record made ahead behind, nor one twice; a module
the create ahead was not read for turns it off."""

import contextlib
import copy
import logging
from datetime import datetime, timedelta, timezone
from unittest.mock import patch

from odoo.exceptions import UserError
from odoo.tests import tagged

from ..core.sync_service import INTERNAL_ERROR_REASON, STORE_GROUP
from ..models import offline_create_ahead, offline_order_sink, pos_order
from ..models.offline_order_sink import OdooOrderSink
from .common import OfflineSyncCommon, with_production_chatter

# Differ between any two runs whatever the path: random tokens and timestamps; and write_uid,
# which the ORM sets to the user of the environment that flushes a row (the test's own, at the
# end, for what was not flushed before): in a request both paths flush in the cashier's.
NOT_COMPARED = {"id", "create_date", "write_date", "access_token", "write_uid"}
# What Odoo's change line gets anew at each run (a random uuid, the clock).
NOT_COMPARED_CHANGE = {"uuid", "payment_date"}
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

    def sales(self, count, change_at=(3,), new_key_at=(13,)):
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
            if i in change_at:
                self.with_change(order, 5.0)
            if i in new_key_at:
                # A key the orders before did not have (a combo's), which Odoo drops.
                order["odoo"]["relations_uuid_mapping"] = {}
            orders.append(self.dated(order, f"10:{i % 60:02d}:00"))
        return orders

    def refund_of(self, sale):
        """A refund of one pad of `sale` (a stored pos.order), as Odoo's register sends it."""
        refund = self.plain_order([(self.desk_pad, -1)])
        refund["is_return"] = True
        refund["odoo"]["is_refund"] = True
        line = sale.lines.filtered(lambda line: line.product_id == self.desk_pad)[:1]
        refund["odoo"]["lines"][0][2]["refunded_orderline_id"] = line.id
        return self.dated(refund, "11:00:00")

    @staticmethod
    def with_change(order, change):
        """Paid `change` more in cash than its total, given back: Odoo adds a change line. The
        register's Odoo data signs it against the payments (Odoo's `change` getter)."""
        order["payments"][0]["amount"] += change
        order["odoo"]["payment_ids"][0][2]["amount"] += change
        for part in (order, order["odoo"]):
            part["amount_paid"] += change
        order["amount_return"] = change
        order["odoo"]["amount_return"] = -change
        return order

    @staticmethod
    def dated(order, when):
        """The order and payment dates as the register sends them (else Odoo's defaults: the
        clock at each create, which differs between two runs whatever the path): `when` is a
        time of yesterday ("HH:MM:SS"), so that the orders are always recent enough."""
        yesterday = (datetime.now(timezone.utc) - timedelta(days=1)).strftime("%Y-%m-%d")
        when = f"{yesterday} {when}"
        order["created_at"] = when.replace(" ", "T") + "Z"
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
                if (
                    record._name == "pos.payment"
                    and record.is_change
                    and name in NOT_COMPARED_CHANGE
                ):
                    continue
                if (
                    record._name == "pos.order.line"
                    and name == "uuid"
                    and not record.order_id.offline_register_line_uuids
                ):
                    continue  # made from a plain order: a new random uuid at each run
                row[name] = value
            rows.append(row)
        return rows

    def snapshot(self, orders):
        self.env.flush_all()
        self.env.invalidate_all()
        stored = self.env["pos.order"].search([("uuid", "in", [o["uuid"] for o in orders])])
        # The order the records were made in (their ids), across orders: Odoo's lists of
        # lines and payments are sorted by it.
        result = [
            [
                (line.order_id.uuid, line.product_id.id, line.qty, line.name)
                for line in stored.lines.sorted("id")
            ],
            [
                (pay.pos_order_id.uuid, pay.amount, pay.is_change)
                for pay in stored.payment_ids.sorted("id")
            ],
        ]
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
                    "lines": self.rows(pos_order.lines.sorted("name")),
                    "payments": self.rows(
                        pos_order.payment_ids.sorted(lambda p: (p.is_change, p.uuid))
                    ),
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
                    orders = calls(ahead)
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

        def calls(ahead):
            batch = copy.deepcopy([*sales, refund])
            results = self.sync(*batch)
            self.assertEqual([r["status"] for r in results], ["created"] * len(batch), results)
            return batch

        (with_ahead, made_with), (without, made_without) = self.run_both_ways(calls)
        self.assertSameSnapshots(with_ahead, without)
        # It ran: in each group the first order alone, then heads made by their first's create.
        # A head ends at an order with change (3) and before one with keys the others lack
        # (13), and the refund (14) too has keys of its own.
        self.assertEqual(
            made_with,
            [False, False, True, True, False, True, True, True, True, True]
            + [False, False, True, False, False],
        )
        self.assertEqual(made_without, [False] * len(made_with))
        # And they are right: paid, each with its own lines and payments, change given.
        orders = with_ahead[2:]
        self.assertTrue(all(row["order"][0]["state"] == "paid" for row in orders))
        self.assertEqual(orders[14]["order"][0]["is_refund"], True)
        change = [p["amount"] for p in orders[3]["payments"] if p["is_change"]]
        self.assertEqual(change, [-5.0])

    def assertSameSnapshots(self, one, other):
        self.assertEqual(len(one), len(other))
        self.assertEqual(one[0], other[0], "the lines were made in another order")
        self.assertEqual(one[1], other[1], "the payments were made in another order")
        for position, (mine, theirs) in enumerate(zip(one[2:], other[2:], strict=True)):
            self.assertEqual(mine, theirs, f"order {position} differs")

    def test_orders_without_odoos_data_give_the_same_records(self):
        """Orders with no `odoo` part (a CSV import's rows, another register's engine): the
        sink builds Odoo's data from the plain order, the same with the create ahead."""
        plain = []
        for order in self.sales(STORE_GROUP + 2, change_at=(), new_key_at=()):
            order.pop("odoo")
            plain.append(order)

        def calls(ahead):
            results = self.sync(*copy.deepcopy(plain))
            self.assertEqual([r["status"] for r in results], ["created"] * len(plain), results)
            self.assertNumberedOnce(plain)
            return plain

        (with_ahead, made_with), (without, _) = self.run_both_ways(calls)
        self.assertSameSnapshots(with_ahead, without)
        self.assertEqual(made_with, [False, False] + [True] * 8 + [False, False])
        paid_at = {p["payment_date"] for row in with_ahead[2:] for p in row["payments"]}
        self.assertEqual(len(paid_at), len(plain), "each paid when it was sold")

    # -- what must not leave a record made ahead ---------------------------------------------
    def assertNumberedOnce(self, orders):
        """The no-gap numbers of the stored orders and their lines: each once, in a row (an
        undone try draws them again, never twice)."""
        stored = [self.find(order) for order in orders]
        numbers = [int(order.sequence_number) for order in stored]
        self.assertEqual(numbers, list(range(numbers[0], numbers[0] + len(numbers))))
        names = [int(line.name) for order in stored for line in order.lines.sorted("id")]
        self.assertEqual(names, list(range(names[0], names[0] + len(names))), names)

    def test_a_bad_order_in_a_group_fails_alone_and_the_rest_is_as_without_it(self):
        orders = self.sales(STORE_GROUP)
        orders[4] = self.order_with_unknown_product()
        good = orders[:4] + orders[5:]

        def calls(ahead):
            results = self.sync(*copy.deepcopy(orders))
            self.assertEqual([r["ok"] for r in results], [True] * 4 + [False] + [True] * 5)
            self.assertIn("does not exist", results[4]["reason"])
            self.assertFalse(self.find(orders[4]))
            self.assertNumberedOnce(good)
            return good

        (with_ahead, made_with), (without, _) = self.run_both_ways(calls)
        self.assertTrue(any(made_with))
        self.assertSameSnapshots(with_ahead, without)

    def test_an_order_made_ahead_that_fails_on_its_turn_fails_alone(self):
        """Made ahead, then refused on its own turn (after its create, in Odoo's payment
        processing): the group is undone, nothing made ahead is left, the rest as without."""
        PosOrder = type(self.env["pos.order"])
        process = PosOrder._process_payment_lines
        orders = self.sales(STORE_GROUP, change_at=())
        refused = orders[3]["uuid"]

        def refusing(self_, pos_order, order, pos_session, draft):
            if order.uuid == refused:
                raise UserError(self_.env._("refused on its turn"))
            return process(self_, pos_order, order, pos_session, draft)

        def calls(ahead):
            watch, made_ahead = self.watching_stores()
            with watch, patch.object(PosOrder, "_process_payment_lines", refusing):
                results = self.sync(*copy.deepcopy(orders))
            self.assertEqual(made_ahead[3], ahead, made_ahead)  # it was made ahead
            self.assertEqual([r["ok"] for r in results], [True] * 3 + [False] + [True] * 6)
            self.assertEqual(results[3]["reason"], "refused on its turn")
            self.assertFalse(self.find(orders[3]))
            good = orders[:3] + orders[4:]
            self.assertNumberedOnce(good)
            return good

        (with_ahead, _), (without, _) = self.run_both_ways(calls)
        self.assertSameSnapshots(with_ahead, without)

    def test_a_create_the_database_refuses_fails_only_its_order(self):
        """A PostgreSQL CHECK refusing one order at its INSERT: the group's one create fails
        (undone alone), each order is then created on its own turn, and only that one fails."""
        self.env.cr.execute(
            "ALTER TABLE pos_order ADD CONSTRAINT offline_test_insert_cap "
            "CHECK (amount_total < 1000) NOT VALID"
        )
        orders = self.sales(STORE_GROUP)
        orders[1] = self.dated(self.plain_order([(self.lamp, 100)]), "09:00:00")
        good = orders[:1] + orders[2:]

        def calls(ahead):
            with self.assertLogs(offline_create_ahead.__name__, logging.INFO) as logs:
                results = self.sync(*copy.deepcopy(orders))
                offline_create_ahead._logger.info("(the end of this sync)")
            self.assertEqual([r["ok"] for r in results], [True] + [False] + [True] * 8)
            self.assertEqual(results[1]["reason"], INTERNAL_ERROR_REASON)
            failed = any("each is created on its turn" in line for line in logs.output)
            self.assertEqual(failed, ahead, logs.output)
            self.assertFalse(self.find(orders[1]))
            self.assertNumberedOnce(good)
            return good

        (with_ahead, _), (without, _) = self.run_both_ways(calls)
        self.assertSameSnapshots(with_ahead, without)

    def test_a_create_refused_for_the_group_but_not_for_one_order_changes_nothing(self):
        """PostgreSQL refusing any insert of more than one order (a statement trigger): the
        group's one create fails, every order is created on its turn with the numbers it
        would have had, and the rest of the call creates each order alone."""
        self.env.cr.execute(
            """
            CREATE FUNCTION offline_test_one_order_an_insert() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                IF (SELECT count(*) FROM new_rows) > 1 THEN
                    RAISE EXCEPTION 'one order an insert';
                END IF;
                RETURN NULL;
            END $$;
            CREATE TRIGGER offline_test_one_order_an_insert AFTER INSERT ON pos_order
            REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
            EXECUTE FUNCTION offline_test_one_order_an_insert();
            """
        )
        orders = self.sales(STORE_GROUP + 5)

        def calls(ahead):
            results = self.sync(*copy.deepcopy(orders))
            self.assertEqual([r["status"] for r in results], ["created"] * len(orders))
            self.assertNumberedOnce(orders)
            return orders

        (with_ahead, made_with), (without, _) = self.run_both_ways(calls)
        self.assertEqual(made_with, [False] * len(orders))
        self.assertSameSnapshots(with_ahead, without)

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
        orders = self.sales(STORE_GROUP, change_at=())
        self.assertTrue(self.sync(orders[4])[0]["ok"])  # the register's lost answer
        watch, made_ahead = self.watching_stores()
        with watch:
            results = self.sync(*orders)
        self.assertEqual(made_ahead[:5], [False, False, True, True, False])
        self.assertEqual(
            [r["status"] for r in results], ["created"] * 4 + ["exists"] + ["created"] * 5
        )
        self.assertEqual([len(self.find(o)) for o in orders], [1] * len(orders))
        self.assertTrue(all(self.find(o).state == "paid" for o in orders))

    def test_the_same_uuid_twice_in_a_batch_is_stored_once(self):
        orders = self.sales(4, change_at=())
        batch = orders + [copy.deepcopy(orders[1])] + self.sales(3, change_at=())
        watch, made_ahead = self.watching_stores()
        with watch:
            results = self.sync(*batch)
        self.assertEqual(made_ahead[:5], [False, False, True, True, False])
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
