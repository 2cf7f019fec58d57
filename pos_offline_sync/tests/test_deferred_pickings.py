# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Deferred stock pickings of offline orders (issue 10, "fast landing with the stock still
right"): the addon lands the orders without their pickings and a cron makes them after. The
stock afterwards must be what Odoo's own per-order path gives, and no order may end with no
picking or two, whatever dies mid-chunk or runs at the same time."""

import contextlib
import copy
import threading
import time
from collections import Counter
from unittest.mock import patch

import psycopg2
from odoo import SUPERUSER_ID, api
from odoo.addons.point_of_sale.models.pos_order import PosOrder as OdooPosOrder
from odoo.exceptions import UserError
from odoo.tests import tagged

from ..models import pos_session as pos_session_module
from .committed_register import CommittedRegisterCase
from .common import OfflineSyncCommon

ORDERS = 50
WAIT_S = 60  # how long a test waits for a thread before it fails


@tagged("post_install", "-at_install")
class TestDeferredPickingsCompare(OfflineSyncCommon):
    """The same 50 orders through Odoo's sync_from_ui and through the addon's sync + cron, from
    the same stock state (a savepoint rolled back between the two), compared as multisets."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Storable goods at standard cost, and FIFO goods with real-time (anglo-saxon)
        # valuation, whose values depend on which stock each move consumes.
        cls.fifo_a = cls.create_product("FIFO Chair", cls.categ_anglo, 30.0, standard_price=11.0)
        cls.fifo_b = cls.create_product("FIFO Desk", cls.categ_anglo, 80.0, standard_price=25.0)
        cls.products = cls.desk_pad | cls.lamp | cls.fifo_a | cls.fifo_b
        # Two receptions at different costs: FIFO values the first units sold at 11, then 14.
        cls.adjust_inventory(cls.fifo_a | cls.fifo_b, [40, 30])
        cls.fifo_a.standard_price = 14.0
        cls.adjust_inventory(cls.fifo_a, [80])
        cls.adjust_inventory(cls.desk_pad, [15])  # the rest of the pads sold go negative

    # -- the orders ---------------------------------------------------------------------------
    def order_lines(self, i):
        """Order i's lines: several products, varying quantities."""
        pattern = [
            [(self.desk_pad, 1 + i % 3)],
            [(self.lamp, 1), (self.fifo_a, 2 + i % 2)],
            [(self.fifo_b, 1), (self.desk_pad, 2)],
            [(self.fifo_a, 1), (self.fifo_b, 1 + i % 2), (self.lamp, 3)],
        ]
        return pattern[i % len(pattern)]

    def make_orders(self):
        """49 sales and, last, a refund of part of the first sale (made once that sale exists)."""
        return [self.plain_order(self.order_lines(i)) for i in range(ORDERS - 1)]

    def refund_of(self, sale):
        """A refund of one FIFO Chair and one Lamp of `sale` (a stored pos.order), as Odoo's
        register sends it: negative quantities, each line naming the line it refunds."""
        order = self.plain_order([(self.lamp, -1), (self.fifo_a, -1)])
        order["is_return"] = True
        odoo = order["odoo"]
        odoo["is_refund"] = True
        for command in odoo["lines"]:
            refunded = sale.lines.filtered(
                lambda line, c=command: line.product_id.id == c[2]["product_id"]
            )
            command[2]["refunded_orderline_id"] = refunded[:1].id
        return order

    # -- the two paths ------------------------------------------------------------------------
    def odoo_path(self, orders):
        """Odoo's own: sync_from_ui, one order per call as Odoo's register sends them."""
        PosOrder = self.env["pos.order"]
        for order in orders:
            PosOrder.sync_from_ui([copy.deepcopy(order["odoo"])])
        sale = self.find(orders[0])
        refund = self.refund_of(sale)
        PosOrder.sync_from_ui([copy.deepcopy(refund["odoo"])])
        return orders + [refund]

    def addon_path(self, orders):
        """The addon's: offline_sync_orders in batches (again for any answered deferred), then
        the cron's chunks until none is pending."""

        def sync_all(batch):
            while batch:
                results = self.sync(*copy.deepcopy(batch))
                self.assertFalse(
                    [r for r in results if r["status"] not in ("created", "exists", "deferred")],
                    results,
                )
                deferred = {r["uuid"] for r in results if r["status"] == "deferred"}
                batch = [o for o in batch if o["uuid"] in deferred]

        for start in range(0, len(orders), 10):
            sync_all(orders[start : start + 10])
        refund = self.refund_of(self.find(orders[0]))
        sync_all([refund])
        orders = orders + [refund]
        stored = self.env["pos.order"].search([("uuid", "in", [o["uuid"] for o in orders])])
        self.assertEqual(len(stored), ORDERS)
        # Landed without their pickings, each saying so.
        self.assertFalse(stored.picking_ids)
        self.assertTrue(all(stored.mapped("offline_picking_pending")))
        PosOrder = self.env["pos.order"]
        while PosOrder._offline_pickings_chunk():
            pass
        return orders

    # -- what is compared ---------------------------------------------------------------------
    def snapshot(self, orders, first_move_id):
        """The stock and its valuation after the orders: multisets (Counter) of plain tuples,
        plus per order (in sending order) its pickings and line costs."""
        products = self.products
        self.env.flush_all()
        self.env.invalidate_all()
        quants = self.env["stock.quant"].search([("product_id", "in", products.ids)])
        moves = self.env["stock.move"].search(
            [("product_id", "in", products.ids), ("id", ">", first_move_id)]
        )
        stored = {
            o.uuid: o
            for o in self.env["pos.order"].search([("uuid", "in", [o["uuid"] for o in orders])])
        }
        per_order = []
        for order in orders:
            pos_order = stored[order["uuid"]]
            per_order.append(
                (
                    pos_order.state,
                    pos_order.offline_picking_pending,
                    tuple(
                        sorted(
                            (p.picking_type_id.id, p.location_id.id, p.location_dest_id.id, p.state)
                            for p in pos_order.picking_ids
                        )
                    ),
                    tuple(
                        sorted(
                            (line.product_id.id, line.qty, round(line.total_cost, 2))
                            for line in pos_order.lines
                        )
                    ),
                )
            )
        account_lines = moves.account_move_id.line_ids
        return {
            "quants": Counter(
                (q.product_id.id, q.location_id.id, q.lot_id.id, round(q.quantity, 4))
                for q in quants
                if q.quantity
            ),
            "moves": Counter(
                (
                    m.product_id.id,
                    round(m.product_uom_qty, 4),
                    round(m.quantity, 4),
                    m.location_id.id,
                    m.location_dest_id.id,
                    m.state,
                    m.picking_type_id.id,
                    bool(m.picking_id.pos_order_id),
                    round(m.value, 2),
                )
                for m in moves
            ),
            "move_lines": Counter(
                (
                    ml.product_id.id,
                    round(ml.quantity, 4),
                    ml.location_id.id,
                    ml.location_dest_id.id,
                    ml.lot_id.id,
                )
                for ml in moves.move_line_ids
            ),
            # Odoo 19 has no stock.valuation.layer: a move's value, the products' value and
            # average cost, and the journal items of valued moves are its valuation.
            "valuation": Counter(
                (p.id, round(p.qty_available, 4), round(p.avg_cost, 2), round(p.total_value, 2))
                for p in products
            ),
            "stock_journal_items": Counter(
                (aml.account_id.id, aml.product_id.id, round(aml.balance, 2))
                for aml in account_lines
            ),
            "per_order": per_order,
        }

    def closing(self):
        """Closes the session; its journal items (sales, receivables, and the stock output
        and cost of goods of real-time valuation) as a multiset."""
        result = self.pos_session.close_session_from_ui()
        self.assertTrue(result.get("successful"), result)
        self.assertEqual(self.pos_session.state, "closed")
        return Counter(
            (aml.account_id.id, aml.product_id.id, round(aml.balance, 2))
            for aml in self.pos_session.move_id.line_ids
        )

    def assertSameStock(self, odoo, addon):
        for key, expected in odoo.items():
            got = addon[key]
            if isinstance(expected, Counter):
                why = f"{key}: only Odoo's {expected - got}, only the addon's {got - expected}"
            else:
                why = f"{key} differ"
            self.assertEqual(expected, got, why)

    def test_the_same_orders_give_the_same_stock_moves_and_valuation(self):
        self.assertFalse(self.pos_session.update_stock_at_closing)
        self.env.flush_all()
        first_move_id = self.env["stock.move"].search([], order="id desc", limit=1).id
        orders = self.make_orders()
        savepoint = self.env.cr.savepoint()
        try:
            sent = self.odoo_path(orders)
            odoo = self.snapshot(sent, first_move_id)
            odoo_closing = self.closing()
            savepoint.rollback()
            self.env.invalidate_all()
            self.assertEqual(self.pos_session.state, "opened")
            sent = self.addon_path(orders)
            addon = self.snapshot(sent, first_move_id)
            addon_closing = self.closing()
        finally:
            savepoint.close(rollback=True)
        # The comparison means something: stock moved, FIFO valued, the refund came back.
        self.assertEqual(sum(odoo["per_order"][i][2] != () for i in range(ORDERS)), ORDERS)
        self.assertTrue(any(m[8] for m in odoo["moves"]), "no move was valued")
        self.assertTrue(odoo["stock_journal_items"] or odoo_closing)
        self.assertTrue(
            any(
                m[1]
                for m in odoo["moves"]
                if m[3] != self.pos_session.config_id.picking_type_id.default_location_src_id.id
            ),
            "no return move",
        )
        self.assertSameStock(odoo, addon)
        self.assertEqual(odoo_closing, addon_closing)

    def cron_triggers(self):
        cron = self.env.ref("pos_offline_sync.ir_cron_offline_pickings")
        return self.env["ir.cron.trigger"].sudo().search_count([("cron_id", "=", cron.id)])

    def test_a_sync_triggers_the_pickings_cron_once_for_all_its_orders(self):
        before = self.cron_triggers()
        orders = [self.plain_order([(self.lamp, 1)]) for _ in range(3)]
        self.assertEqual([r["status"] for r in self.sync(*orders)], ["created"] * 3)
        self.assertEqual(self.env["pos.order"].search_count(self.pending_of(orders)), 3)
        self.assertEqual(self.cron_triggers(), before + 1)

    def test_a_cron_trigger_that_fails_fails_no_order(self):
        # The orders are stored whatever becomes of the trigger: the hourly run finds them.
        PosOrder = type(self.env["pos.order"])

        def broken(self):
            raise RuntimeError("the trigger could not be written")

        orders = [self.plain_order([(self.lamp, 1)]) for _ in range(2)]
        sink_log = "odoo.addons.pos_offline_sync.models.offline_order_sink"
        with (
            patch.object(PosOrder, "_offline_trigger_picking_cron", broken),
            self.assertLogs(sink_log, "ERROR") as logs,
        ):
            results = self.sync(*orders)
        self.assertEqual([r["status"] for r in results], ["created"] * 2)
        self.assertIn("could not be triggered", logs.output[0])
        self.assertEqual(self.env["pos.order"].search_count(self.pending_of(orders)), 2)

    def test_a_conflict_on_the_cron_trigger_leaves_the_call_for_odoos_replay(self):
        PosOrder = type(self.env["pos.order"])

        def busy(self):
            raise psycopg2.errors.SerializationFailure("could not serialize access")

        order = self.plain_order([(self.lamp, 1)])
        with (
            patch.object(PosOrder, "_offline_trigger_picking_cron", busy),
            self.assertRaises(psycopg2.errors.SerializationFailure),
            self.env.cr.savepoint(),
        ):
            self.sync(order)
        self.assertFalse(self.find(order))

    def test_a_sync_deferring_no_picking_triggers_no_cron(self):
        self.pos_session.update_stock_at_closing = True
        before = self.cron_triggers()
        self.assertEqual(self.sync(self.plain_order([(self.lamp, 1)]))[0]["status"], "created")
        self.assertEqual(self.cron_triggers(), before)

    @staticmethod
    def pending_of(orders):
        return [("uuid", "in", [o["uuid"] for o in orders]), ("offline_picking_pending", "=", True)]

    def test_stock_at_closing_keeps_odoos_behaviour(self):
        """With "update the stock at the session closing" Odoo makes no per-order picking:
        nothing is deferred and closing makes the session's pickings as Odoo does."""
        self.pos_session.update_stock_at_closing = True
        order = self.plain_order([(self.desk_pad, 2)])
        self.assertEqual(self.sync(order)[0]["status"], "created")
        pos_order = self.find(order)
        self.assertFalse(pos_order.offline_picking_pending)
        self.assertFalse(pos_order.picking_ids)
        self.assertTrue(self.closing())
        self.assertTrue(
            self.pos_session.picking_ids.move_ids.filtered(
                lambda m: m.product_id == self.desk_pad and m.quantity == 2
            )
        )

    def test_an_order_to_invoice_keeps_odoos_per_order_picking(self):
        order = self.plain_order([(self.lamp, 1)])
        order["odoo"]["to_invoice"] = True
        order["odoo"]["partner_id"] = self.customer.id
        results = self.sync(order)
        self.assertEqual(results[0]["status"], "created", results)
        pos_order = self.find(order)
        self.assertFalse(pos_order.offline_picking_pending)
        self.assertEqual(len(pos_order.picking_ids), 1)

    def test_a_pending_order_says_so_and_closing_makes_its_picking_first(self):
        orders = [self.plain_order(self.order_lines(i)) for i in range(4)]
        self.sync(*orders)
        stored = self.env["pos.order"].search([("uuid", "in", [o["uuid"] for o in orders])])
        self.assertEqual(stored.mapped("offline_picking_pending"), [True] * 4)
        self.assertEqual(stored.mapped("picking_count"), [0] * 4)
        arch = self.env["pos.order"].get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertIn("Stock picking pending", arch)
        self.assertIn('name="offline_picking_pending"', arch)
        # One is made by the cron before the closing; the closing makes the other three.
        self.env["pos.order"]._offline_pickings_chunk(limit=1)
        self.assertEqual(sorted(stored.mapped("picking_count")), [0, 0, 0, 1])
        self.closing()
        self.assertEqual(stored.mapped("offline_picking_pending"), [False] * 4)
        self.assertEqual(stored.mapped("picking_count"), [1] * 4)
        self.assertEqual(set(stored.picking_ids.mapped("state")), {"done"})
        self.assertEqual(self.pos_session.picking_ids, stored.picking_ids)

    def test_closing_with_a_large_backlog_refuses_and_leaves_it_to_the_cron(self):
        orders = [self.plain_order([(self.lamp, 1)]) for _ in range(3)]
        self.sync(*orders)
        with (
            patch.object(pos_session_module, "CLOSE_MAX_PENDING", 2),
            self.assertRaisesRegex(UserError, "of 3 offline orders of this session are still"),
            self.env.cr.savepoint(),
        ):
            self.pos_session.close_session_from_ui()
        self.assertEqual(self.pos_session.picking_ids.pos_order_id, self.env["pos.order"])
        while self.env["pos.order"]._offline_pickings_chunk():
            pass
        self.closing()
        self.assertEqual(len(self.pos_session.picking_ids.pos_order_id), 3)

    def test_a_failing_picking_is_kept_pending_and_refuses_the_closing_with_why(self):
        order = self.plain_order([(self.lamp, 1)])
        self.sync(order)
        pos_order = self.find(order)

        def broken(self):
            raise UserError("no route to the customers")  # pylint: disable=translation-required

        # Odoo's own method, under the addon's override: the addon's logic still runs.
        with patch.object(OdooPosOrder, "_create_order_picking", broken):
            self.env["pos.order"]._offline_pickings_chunk()
            self.assertTrue(pos_order.offline_picking_pending)
            self.assertEqual(pos_order.offline_picking_error, "no route to the customers")
            self.assertFalse(self.env["pos.order"]._offline_pickings_chunk())  # not retried
            with self.assertRaisesRegex(UserError, "no route to the customers"):
                self.pos_session.close_session_from_ui()
        self.closing()
        self.assertEqual(len(pos_order.picking_ids), 1)
        self.assertFalse(pos_order.offline_picking_pending)
        self.assertFalse(pos_order.offline_picking_error)

    def test_an_unexpected_error_of_one_picking_does_not_stop_the_others(self):
        first, second = self.plain_order([(self.lamp, 1)]), self.plain_order([(self.lamp, 2)])
        self.sync(first, second)
        bad, good = self.find(first), self.find(second)
        real = OdooPosOrder._create_order_picking

        def broken_for_one(order):
            if order.id == bad.id:
                raise ValueError("a constraint of the stock module")
            return real(order)

        with patch.object(OdooPosOrder, "_create_order_picking", broken_for_one):
            self.env["pos.order"]._offline_pickings_chunk()
        # Kept with its reason, not retried by the cron; the next order got its picking.
        self.assertEqual(bad.offline_picking_error, "a constraint of the stock module")
        self.assertTrue(bad.offline_picking_pending)
        self.assertEqual((good.offline_picking_pending, len(good.picking_ids)), (False, 1))

    def test_failed_pickings_never_count_as_a_backlog_left_to_the_cron(self):
        orders = [self.plain_order([(self.lamp, 1)]) for _ in range(3)]
        self.sync(*orders)

        def broken(self):
            raise UserError("no route to the customers")  # pylint: disable=translation-required

        with patch.object(OdooPosOrder, "_create_order_picking", broken):
            self.env["pos.order"]._offline_pickings_chunk()
        # More failed ones than the backlog a closing leaves to the cron: the closing still
        # retries them (the cron never will), and once the cause is gone it closes.
        with patch.object(pos_session_module, "CLOSE_MAX_PENDING", 1):
            self.closing()
        stored = self.env["pos.order"].search([("uuid", "in", [o["uuid"] for o in orders])])
        self.assertEqual(stored.mapped("picking_count"), [1] * 3)
        self.assertFalse(any(stored.mapped("offline_picking_pending")))

    def test_invoicing_a_pending_order_makes_its_picking_first(self):
        order = self.plain_order([(self.fifo_a, 2)])
        self.sync(order)
        pos_order = self.find(order)
        self.assertTrue(pos_order.offline_picking_pending)
        pos_order.partner_id = self.env["res.partner"].create({"name": "Invoiced Later"})
        pos_order.action_pos_order_invoice()
        self.assertFalse(pos_order.offline_picking_pending)
        self.assertEqual(len(pos_order.picking_ids), 1)
        move = pos_order.account_move
        self.assertEqual(move.state, "posted")
        # The cost of goods read from the picking's moves: FIFO, 2 units at 11.
        cogs = move.line_ids.filtered(lambda line: line.display_type == "cogs")
        self.assertEqual(sorted(abs(b) for b in cogs.mapped("balance")), [22.0, 22.0])


@tagged("post_install", "-at_install")
class TestDeferredPickingsWorkers(CommittedRegisterCase):
    """Workers on their own committed cursors, as Odoo's cron workers are: a register of its
    own, committed, with pending orders; removed (session closed) at the end."""

    N = 24

    # -- the tests ----------------------------------------------------------------------------
    def test_a_worker_killed_mid_chunk_leaves_each_order_one_picking(self):
        """A worker locks a chunk, makes some pickings (written to the database, not committed)
        and its database session is killed, as when Odoo kills a worker past its limits. A
        second worker meanwhile takes only other orders. Then the cron: each order exactly one
        picking."""
        registry = self.registry
        dying = registry.cursor()
        env = api.Environment(dying, SUPERUSER_ID, {})
        PosOrder = env["pos.order"]
        chunk = PosOrder._offline_lock_pending(self.orders_where(), limit=8)
        self.assertEqual(len(chunk), 8)
        for order in chunk[:5]:
            self.assertTrue(order._offline_create_pending_picking())
        env.flush_all()
        dying.execute("SELECT pg_backend_pid()")
        pid = dying.fetchone()[0]

        # Meanwhile another worker: the locked eight are skipped, it makes others.
        def other_worker(env):
            return env["pos.order"]._offline_pickings_chunk(limit=4).ids

        taken = self.committed(other_worker)
        self.assertEqual(len(taken), 4)
        self.assertFalse(set(taken) & set(chunk.ids))
        mine = len(set(taken) & set(self.ids["orders"]))  # the database may hold others

        # The worker dies mid-chunk: its connection is killed by the server.
        def kill(env, pid):
            env.cr.execute("SELECT pg_terminate_backend(%s)", [pid])
            return env.cr.fetchone()[0]

        self.assertTrue(self.committed(kill, pid))
        with self.assertRaises(psycopg2.OperationalError):  # gone, as the worker is
            dying.execute("SELECT 1", log_exceptions=False)
        with contextlib.suppress(psycopg2.Error):
            dying.close()
        counts = self.committed(self.picking_counts)
        # Its five pickings went with it: those orders are still pending, none has one.
        self.assertEqual(counts, Counter({(1, False): mine, (0, True): self.N - mine}))

        def cron(env):
            env["pos.order"]._offline_run_pending_pickings(chunk=5)

        self.committed(cron)
        self.assertEqual(self.committed(self.picking_counts), Counter({(1, False): self.N}))

    def test_two_workers_at_once_never_make_a_picking_twice(self):
        barrier = threading.Barrier(2)
        errors = []

        def worker(env):
            try:
                barrier.wait(timeout=60)
                env["pos.order"]._offline_run_pending_pickings(chunk=3)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(repr(exc))

        cursors = [self.registry.cursor() for _ in range(2)]
        try:
            # Each thread's environment is made here: the first one of a cursor looks the
            # registry up, under a lock the test runner's thread holds while tests run.
            envs = [api.Environment(cr, SUPERUSER_ID, {}) for cr in cursors]
            threads = [threading.Thread(target=worker, args=(env,)) for env in envs]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=300)
            self.assertFalse([t for t in threads if t.is_alive()], "a worker did not finish")
        finally:
            for cr in cursors:
                cr.close()
        self.assertFalse(errors)
        self.assertEqual(self.committed(self.picking_counts), Counter({(1, False): self.N}))

    def turn_held(self):
        """A cursor holding this register's sync turn, taken as a sync takes it, until its
        transaction ends (the caller closes it)."""
        cr = self.registry.cursor()
        api.Environment(cr, SUPERUSER_ID, {})["pos.order"]._offline_wait_turn(
            cr, self.ids["config"]
        )
        return cr

    def test_the_cron_makes_no_picking_while_a_register_lands_orders(self):
        """Landing first: while a sync holds its register's turn (the request storing orders),
        the cron's run makes no picking; once the turn is free it makes every one, in the
        same run."""
        PosOrder = type(self.env["pos.order"])
        seen = {"landing": 0}
        saw_landing_thrice = threading.Event()
        landing_now = PosOrder._offline_landing_now

        def watched(self):
            now = landing_now(self)
            if now:
                seen["landing"] += 1
                if seen["landing"] >= 3:
                    saw_landing_thrice.set()
            return now

        sync = self.turn_held()  # the sync's request, holding its register's turn
        cron_cr = self.registry.cursor()
        errors = []
        try:
            env = api.Environment(
                cron_cr, SUPERUSER_ID, {"cron_end_time": time.monotonic() + WAIT_S}
            )

            def cron():
                try:
                    env["pos.order"]._offline_run_pending_pickings(chunk=5)
                except Exception as exc:  # noqa: BLE001 - reported below
                    errors.append(repr(exc))

            with patch.object(PosOrder, "_offline_landing_now", watched):
                thread = threading.Thread(target=cron)
                thread.start()
                self.assertTrue(saw_landing_thrice.wait(WAIT_S), "the cron never looked")
                # It has seen the landing three times and made nothing meanwhile.
                self.assertEqual(self.committed(self.picking_counts), Counter({(0, True): self.N}))
                sync.rollback()  # the sync's request ends: its turn is free
                thread.join(timeout=WAIT_S * 2)
            self.assertFalse(thread.is_alive(), "the cron did not finish")
        finally:
            sync.close()
            cron_cr.close()
        self.assertFalse(errors)
        self.assertEqual(self.committed(self.picking_counts), Counter({(1, False): self.N}))

    def test_a_cron_run_that_waited_its_whole_time_for_landings_still_makes_a_chunk(self):
        """Registers landing back to back (or a long CSV import) never starve the pickings:
        a run that saw a landing until its end makes one chunk all the same."""
        sync = self.turn_held()  # a sync holding its register's turn the whole time
        cron_cr = self.registry.cursor()
        try:
            env = api.Environment(cron_cr, SUPERUSER_ID, {"cron_end_time": time.monotonic() + 1})
            env["pos.order"]._offline_run_pending_pickings(chunk=5)
            cron_cr.commit()
        finally:
            sync.close()
            cron_cr.close()
        counts = self.committed(self.picking_counts)
        made = counts[(1, False)]
        self.assertTrue(1 <= made <= 5, counts)
        self.assertEqual(counts, Counter({(1, False): made, (0, True): self.N - made}))

    def test_closing_refuses_while_a_worker_is_mid_chunk_then_closes_right(self):
        worker = self.registry.cursor()
        try:
            env = api.Environment(worker, SUPERUSER_ID, {})
            env["pos.order"]._offline_pickings_chunk(limit=3)
            env.flush_all()

            def close(env):
                return env["pos.session"].browse(self.ids["session"]).close_session_from_ui()

            with self.assertRaisesRegex(UserError, "being created right now"):
                self.committed(close)
            worker.commit()
        finally:
            worker.close()
        result = self.committed(close)
        self.assertTrue(result.get("successful"), result)
        self.assertEqual(self.committed(self.picking_counts), Counter({(1, False): self.N}))
