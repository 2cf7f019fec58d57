# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Orders whose session was closed while they waited are never refused (issue 9, issue 11).

With no session of the register open, they land in a rescue session of the register (one at a
time, reused while open, closable like any session); with a session open, Odoo's own choice
stays. Each test reads afterwards what the back office holds: orders once, amounts, payments,
session states.
"""

import base64
import threading
import time
import uuid
from datetime import datetime, timedelta

from odoo import SUPERUSER_ID, api
from odoo.orm.environments import Transaction
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
from odoo.tests import TransactionCase, tagged
from odoo.tools import SQL

from . import test_csv_import as csv_tests
from .common import OfflineSyncCommon, company_user
from .localstripe import VISA_DECLINED


def _retrying(func, env, tries=5):
    """What odoo.service.model.retrying does for a request (run again, in a new transaction,
    after a serialization failure), minus its registry bookkeeping, which takes the registry
    lock the test runner holds."""
    for attempt in range(1, tries + 1):
        try:
            result = func()
            env.cr.commit()
            return result
        except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
            env.cr.rollback()
            env.transaction.clear()  # the cache of the failed try (reset() would take the lock)
            if attempt == tries:
                raise
            time.sleep(0.1 * attempt)
    raise AssertionError("unreachable")


class RescueCommon(OfflineSyncCommon):
    def rescue_sessions(self, config=None):
        return self.env["pos.session"].search(
            [("config_id", "=", (config or self.config).id), ("rescue", "=", True)]
        )

    def close_session(self, session=None):
        session = session or self.pos_session
        self.assertIs(session.action_pos_session_closing_control(), True)
        self.assertEqual(session.state, "closed")
        return session

    def mixed_order(self):
        """Desk pads and a lamp, paid part cash part bank."""
        lines = [(self.desk_pad, 2), (self.lamp, 1)]
        total = self.create_ui_order_data(lines)["amount_total"]
        return self.plain_order(
            lines, payments=[(self.cash_pm1, 10.0), (self.bank_pm1, total - 10)]
        )

    def assert_landed(self, order, session):
        pos_order = self.find(order)
        self.assertEqual(len(pos_order), 1, "stored once")
        self.assertEqual(pos_order.session_id, session)
        self.assertAlmostEqual(pos_order.amount_total, order["amount_total"])
        by_method = {}
        for payment in pos_order.payment_ids:
            by_method[payment.payment_method_id.id] = (
                by_method.get(payment.payment_method_id.id, 0) + payment.amount
            )
        expected = {}
        for payment in order["payments"]:
            expected[payment["payment_method_id"]] = (
                expected.get(payment["payment_method_id"], 0) + payment["amount"]
            )
        self.assertEqual(by_method.keys(), expected.keys())
        for method_id, amount in expected.items():
            self.assertAlmostEqual(by_method[method_id], amount)
        return pos_order


@tagged("post_install", "-at_install")
class TestRescueSession(RescueCommon):
    def test_an_order_of_a_closed_session_lands_in_a_rescue_session_and_closes_cleanly(self):
        first, second = self.mixed_order(), self.plain_order([(self.lamp, 3)])
        closed = self.close_session()
        self.assertFalse(self.config.current_session_id)

        [result] = self.sync(first)
        self.assertTrue(result["ok"], result)
        self.assertEqual(result["status"], "created")
        rescue = self.rescue_sessions()
        self.assertEqual(len(rescue), 1)
        self.assertEqual(rescue.state, "opened")
        self.assertIn("RESCUE FOR", rescue.name)
        self.assertIn(closed.name, rescue.name)
        self.assertEqual(result["rescue_session"], rescue.name)
        pos_order = self.assert_landed(first, rescue)
        self.assertEqual(pos_order.state, "paid")
        # The back office sees it as a rescue session, not as the register's session.
        self.assertFalse(self.config.current_session_id)
        self.assertEqual(self.config.number_of_rescue_session, 1)
        self.assertIn(rescue, self.env["pos.session"].search([("rescue", "=", True)]))

        # Reused while open; the same order again lands once.
        [again, other] = self.sync(first, second)
        self.assertEqual(again["status"], "exists")
        self.assertEqual(again["rescue_session"], rescue.name)
        self.assertTrue(other["ok"], other)
        self.assertEqual(self.rescue_sessions(), rescue)
        self.assert_landed(first, rescue)
        self.assert_landed(second, rescue)
        self.assertEqual(rescue.order_count, 2)

        # Closed like any session: the entries are posted, the orders done.
        self.close_session(rescue)
        self.assertEqual(rescue.move_id.state, "posted")
        self.assertEqual(set(rescue.order_ids.mapped("state")), {"done"})
        self.assertEqual(self.config.number_of_rescue_session, 0)

        # One at a time: the next late order gets a new one, the closed one stays closed.
        late = self.plain_order()
        [result] = self.sync(late)
        self.assertTrue(result["ok"], result)
        new_rescue = self.rescue_sessions() - rescue
        self.assertEqual(len(new_rescue), 1)
        self.assertEqual(new_rescue.state, "opened")
        self.assert_landed(late, new_rescue)
        self.assertEqual(rescue.order_count, 2)

    def test_with_a_session_open_odoos_choice_stays(self):
        order = self.mixed_order()
        self.close_session()
        self.open_new_session()
        [result] = self.sync(order)
        self.assertTrue(result["ok"], result)
        self.assertNotIn("rescue_session", result)
        self.assert_landed(order, self.pos_session)
        self.assertFalse(self.rescue_sessions())

    def test_odoos_own_sync_lands_in_the_rescue_session_too(self):
        order = self.plain_order()
        self.close_session()
        self.env["pos.order"].sync_from_ui([dict(order["odoo"])])
        rescue = self.rescue_sessions()
        self.assertEqual(len(rescue), 1)
        self.assertEqual(self.find(order).session_id, rescue)
        # And the addon's sync of the same order then confirms it, once, in the same place.
        [result] = self.sync(order)
        self.assertTrue(result["ok"], result)
        self.assertEqual(result["rescue_session"], rescue.name)
        self.assert_landed(order, rescue)

    def test_an_order_in_closing_control_lands_in_rescue(self):
        order = self.plain_order()
        self.pos_session.state = "closing_control"
        [result] = self.sync(order)
        self.assertTrue(result["ok"], result)
        self.assert_landed(order, self.rescue_sessions())

    def test_a_session_of_another_register_is_refused_a_gone_one_lands_in_rescue(self):
        self.other_currency_config.open_ui()
        foreign = self.other_currency_config.current_session_id
        self.assertTrue(foreign)
        crossed = self.plain_order()
        crossed["odoo"]["session_id"] = foreign.id
        gone = self.plain_order()
        gone["odoo"]["session_id"] = gone["session_id"] = 2**31 - 1
        self.close_session()
        refused, landed = self.sync(crossed, gone)
        # Never that register's sale: refused with its reason, the rest of the batch goes on.
        self.assertFalse(refused["ok"], refused)
        self.assertIn(f"session {foreign.id} is not a session of this register", refused["reason"])
        self.assertFalse(self.find(crossed))
        self.assertTrue(landed["ok"], landed)
        rescue = self.rescue_sessions()
        self.assertEqual(len(rescue), 1)
        self.assert_landed(gone, rescue)
        self.assertFalse(foreign.order_ids)
        self.assertFalse(self.rescue_sessions(self.other_currency_config))

    def test_orders_already_stored_make_no_rescue_session(self):
        order = self.plain_order()
        self.sync(order)
        self.close_session()
        [result] = self.sync(order)
        self.assertEqual(result["status"], "exists")
        self.assertNotIn("rescue_session", result)
        self.assertFalse(self.rescue_sessions())
        self.assert_landed(order, self.pos_session)

    def test_a_cashier_lands_orders_in_rescue(self):
        cashier = company_user(self.env, "rescue_cashier", self.config.company_id)
        order = self.plain_order()
        self.close_session()
        [result] = self.sync(order, user=cashier)
        self.assertTrue(result["ok"], result)
        self.assert_landed(order, self.rescue_sessions())

    # -- issue 11: the guarded close, then the orders that arrive afterwards --------------------
    def test_closed_anyway_with_a_reason_then_the_waiting_orders_land_once_in_rescue(self):
        manager = company_user(
            self.env,
            "rescue_manager",
            self.config.company_id,
            groups="base.group_user,point_of_sale.group_pos_manager",
        )
        waiting = [self.mixed_order(), self.plain_order([(self.lamp, 2)])]
        now = datetime.utcnow()
        report = {
            "v": 1,
            "config_id": self.config.id,
            "device_id": "r" * 32,
            "device_name": "Front counter",
            "seq": 1,
            "addon_version": "19.0.1.4.0",
            "storage": "persisted",
            "cashier": None,
            "waiting": {
                "count": 2,
                "total": sum(o["amount_total"] for o in waiting),
                "oldest_at": (now - timedelta(hours=1)).isoformat() + "Z",
            },
            "cards": {"count": 0, "amount": 0, "oldest_at": None, "seconds_left": None},
            "at": now.isoformat() + "Z",
        }
        self.env["pos.order"].with_user(manager).offline_device_report(report)
        session = self.pos_session.with_user(manager)
        action = session.action_pos_session_closing_control()
        self.assertEqual(action["res_model"], "pos.offline.close.session")
        wizard = self.env["pos.offline.close.session"].with_user(manager).browse(action["res_id"])
        wizard.reason = "Tablet out of battery; its orders come in tomorrow."
        wizard.action_close_anyway()
        self.assertEqual(self.pos_session.state, "closed")

        # Next morning, before anyone opens the register: the device syncs.
        results = self.sync(*waiting, user=manager)
        self.assertTrue(all(r["ok"] and r["status"] == "created" for r in results), results)
        rescue = self.rescue_sessions()
        self.assertEqual(len(rescue), 1)
        self.assertEqual({r["rescue_session"] for r in results}, {rescue.name})
        for order in waiting:
            self.assert_landed(order, rescue)
        # A second tab sends them again: still once.
        results = self.sync(*waiting, user=manager)
        self.assertEqual([r["status"] for r in results], ["exists", "exists"])
        self.assertEqual(rescue.order_count, 2)
        self.assertFalse(
            self.pos_session.order_ids.filtered(lambda o: o.uuid in {w["uuid"] for w in waiting})
        )
        # Synced: the device reports nothing waiting, and the rescue session closes as usual.
        self.env["pos.order"].with_user(manager).offline_device_report(
            dict(report, seq=2, waiting={"count": 0, "total": 0, "oldest_at": None})
        )
        self.close_session(rescue)


@tagged("post_install", "-at_install")
class TestRescueCsvImport(RescueCommon):
    def setUp(self):
        super().setUp()
        self.registry_enter_test_mode()  # the import commits each chunk in a cursor of its own

    def wizard(self, *orders):
        text = csv_tests.TestOfflineCsvImport.to_csv(self, *orders)
        return self.env["pos.offline.csv.import"].create(
            {
                "config_id": self.config.id,
                "csv_file": base64.b64encode(text.encode()),
                "csv_filename": "offline.csv",
            }
        )

    def test_csv_import_with_no_open_session_lands_in_rescue(self):
        orders = [self.mixed_order(), self.plain_order([(self.lamp, 1)])]
        self.close_session()
        wizard = self.wizard(*orders)
        wizard.action_import()
        self.assertEqual(wizard.line_ids.mapped("status"), ["created", "created"])
        rescue = self.rescue_sessions()
        self.assertEqual(len(rescue), 1)
        for order in orders:
            self.assert_landed(order, rescue)
        self.assertTrue(all("rescue session" in m for m in wizard.line_ids.mapped("message")))
        # The same file again: nothing twice.
        again = self.wizard(*orders)
        again.action_import()
        self.assertEqual(again.line_ids.mapped("status"), ["exists", "exists"])
        self.assertEqual(rescue.order_count, 2)
        self.close_session(rescue)

    def test_csv_import_with_a_session_open_uses_it(self):
        order = self.mixed_order()
        self.close_session()
        self.open_new_session()
        wizard = self.wizard(order)
        wizard.action_import()
        self.assertEqual(wizard.line_ids.status, "created")
        self.assert_landed(order, self.pos_session)
        self.assertFalse(self.rescue_sessions())


@tagged("post_install", "-at_install")
class TestRescueDeclinedCard(RescueCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.provider = cls.start_localstripe("Stripe (rescue test)")

    def setUp(self):
        super().setUp()
        self.registry_enter_test_mode()  # the card ledger writes through cursors of its own

    def test_a_declined_card_order_lands_unpaid_in_rescue_then_closes_once_paid(self):
        order = self.plain_order(payments=[(self.card_pm, 7.0)])
        payment = order["payments"][0]
        payment["card"] = self.card(payment["uuid"], VISA_DECLINED)
        self.close_session()
        [result] = self.sync(order)
        self.assertTrue(result["ok"], result)
        self.assertFalse(result["paid"])
        rescue = self.rescue_sessions()
        self.assertEqual(len(rescue), 1)
        self.assertEqual(result["rescue_session"], rescue.name)
        pos_order = self.find(order)
        self.assertEqual(pos_order.session_id, rescue)
        self.assertEqual(pos_order.state, "draft")
        self.assertTrue(pos_order.offline_card_failed)
        self.assertIn("VISA **** 0341", pos_order.offline_card_failure)
        self.assertFalse(pos_order.payment_ids)
        # Sent again: once, still unpaid.
        [again] = self.sync(order)
        self.assertEqual(again["status"], "exists")
        self.assertEqual(len(self.find(order)), 1)
        # Paid in the back office (Odoo's Payment button), the rescue session closes.
        self.env["pos.make.payment"].with_context(active_id=pos_order.id).create(
            {"payment_method_id": self.cash_pm1.id, "amount": pos_order.amount_total}
        ).check()
        self.assertEqual(pos_order.state, "paid")
        self.close_session(rescue)
        self.assertEqual(pos_order.state, "done")


@tagged("post_install", "-at_install")
class TestRescueRace(TransactionCase):
    """Two batches at once for a register with no open session: real cursors in two threads,
    each run as Odoo runs a request (odoo.service.model.retrying). One rescue session, each
    order once. The rows they commit are removed at the end."""

    def setUp(self):
        super().setUp()
        self.tag = uuid.uuid4().hex[:8]
        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            base = env["pos.config"].search([("company_id", "=", env.company.id)], limit=1)
            # A bank method: a cash one (its journal) belongs to one register only.
            cash = base.payment_method_ids.filtered(lambda m: m.type == "bank")[:1]
            if not cash:
                self.skipTest("no register with a bank payment method in this database")
            config = env["pos.config"].create(
                {"name": f"Rescue race {self.tag}", "payment_method_ids": [(6, 0, cash.ids)]}
            )
            # A service: no picking, so the cleanup has only orders and sessions to remove.
            product = env["product.product"].create(
                {
                    "name": f"Rescue race {self.tag}",
                    "type": "service",
                    "available_in_pos": True,
                    "list_price": 5.0,
                    "taxes_id": [(5, 0, 0)],
                }
            )
            self.config_id, self.cash_id, self.product_id = config.id, cash.id, product.id
        self.addCleanup(self._remove_rows)

    def _remove_rows(self):
        with self.env.registry.cursor() as cr:
            cr.execute(SQL("SELECT id FROM pos_session WHERE config_id = %s", self.config_id))
            sessions = [row[0] for row in cr.fetchall()]
            if sessions:
                cr.execute(SQL("DELETE FROM pos_order WHERE session_id IN %s", tuple(sessions)))
                cr.execute(SQL("DELETE FROM pos_session WHERE id IN %s", tuple(sessions)))
            cr.execute(SQL("DELETE FROM pos_offline_sync_log WHERE config_id = %s", self.config_id))
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["pos.config"].browse(self.config_id).active = False
            env["product.product"].browse(self.product_id).active = False

    def order(self, n):
        return {
            "v": 1,
            "uuid": f"race-{self.tag}-{n}",
            "reference": f"Race {self.tag} {n}",
            "created_at": datetime.utcnow().isoformat() + "Z",
            "config_id": self.config_id,
            "session_id": None,
            "cashier": None,
            "customer": None,
            "currency": self.env.company.currency_id.name,
            "lines": [
                {
                    "product_id": self.product_id,
                    "product_name": "Race",
                    "qty": 1,
                    "price_unit": 5.0,
                    "discount": 0,
                    "price_subtotal_incl": 5.0,
                }
            ],
            "payments": [
                {
                    "uuid": f"race-pay-{self.tag}-{n}",
                    "payment_method_id": self.cash_id,
                    "payment_method_name": "Bank",
                    "amount": 5.0,
                    "card": None,
                }
            ],
            "amount_total": 5.0,
            "amount_tax": 0.0,
            "amount_paid": 5.0,
            "amount_return": 0.0,
            "is_return": False,
        }

    def test_two_batches_at_once_make_one_rescue_session(self):
        # Batch A: orders 0-3; batch B: orders 2-5 (two orders in both, as two tabs would).
        batches = [[self.order(n) for n in range(0, 4)], [self.order(n) for n in range(2, 6)]]
        barrier = threading.Barrier(len(batches))
        answers, errors, tries = {}, [], {}
        registry, admin = self.env.registry, self.env.ref("base.user_admin").id

        def run(index, orders):
            try:
                with registry.cursor() as cr:
                    # The test runner holds Registry._lock: an Environment made here would wait
                    # for it (Registry(dbname)) unless its transaction names the registry.
                    cr.transaction = Transaction(registry)
                    env = api.Environment(cr, admin, {})

                    def call():
                        tries[index] = tries.get(index, 0) + 1
                        # Both transactions take their snapshot before either commits.
                        env.cr.execute("SELECT 1")
                        if tries[index] == 1:
                            barrier.wait(timeout=30)
                        payload = {"v": 1, "config_id": self.config_id, "orders": orders}
                        return env["pos.order"].offline_sync_orders(payload)

                    answers[index] = _retrying(call, env)
            except Exception as exc:  # noqa: BLE001 - reported by the test below
                errors.append(repr(exc))

        threads = [threading.Thread(target=run, args=(i, batch)) for i, batch in enumerate(batches)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        self.assertFalse(errors)
        self.assertEqual(len(answers), 2)
        for answer in answers.values():
            self.assertTrue(all(r["ok"] for r in answer["results"]), answer)
        # The loser waited for the winner, failed to serialize and ran again.
        self.assertEqual(sorted(tries.values()), [1, 2])

        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            sessions = env["pos.session"].search([("config_id", "=", self.config_id)])
            self.assertEqual(len(sessions), 1)
            self.assertTrue(sessions.rescue)
            self.assertEqual(sessions.state, "opened")
            orders = env["pos.order"].search([("uuid", "like", f"race-{self.tag}-")])
            self.assertEqual(len(orders), 6)
            self.assertEqual(len(set(orders.mapped("uuid"))), 6)
            self.assertEqual(orders.session_id, sessions)
            self.assertAlmostEqual(sum(orders.mapped("amount_total")), 30.0)
            self.assertAlmostEqual(sum(orders.payment_ids.mapped("amount")), 30.0)
            names = {
                r.get("rescue_session") for answer in answers.values() for r in answer["results"]
            }
            self.assertEqual(names, {sessions.name})
