# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The sync's time budget in Odoo (issue 10): a batch that would outrun it stores what fits and
answers the rest deferred; sent again, those are stored, each order once. The clock is a fake
one advanced by every order stored (no test sleeps); the stores are Odoo's own."""

import contextlib
from unittest.mock import patch

from odoo import tools
from odoo.tests import tagged

from ..core.sync_service import DEFERRED, DEFERRED_REASON
from ..models import offline_order_sink
from ..models.pos_order import SYNC_TIME_BUDGET_PARAM
from .common import OfflineSyncCommon


class FakeClock:
    def __init__(self):
        self.now = 5000.0


@tagged("post_install", "-at_install")
class TestSyncTimeBudget(OfflineSyncCommon):
    @contextlib.contextmanager
    def slow_orders(self, seconds):
        """Every order Odoo stores takes `seconds` on the sync's (fake) clock."""
        clock = FakeClock()
        Sink = offline_order_sink.OdooOrderSink
        store = Sink.store

        def slow_store(sink, order):
            clock.now += seconds
            return store(sink, order)

        PosOrder = type(self.env["pos.order"])
        with (
            patch.object(PosOrder, "_offline_sync_clock", lambda _self: clock.now),
            patch.object(Sink, "store", slow_store),
        ):
            yield clock

    def set_budget(self, value):
        self.env["ir.config_parameter"].sudo().set_param(SYNC_TIME_BUDGET_PARAM, value)

    def test_a_batch_past_the_budget_defers_the_rest_and_stores_what_it_stored_once(self):
        orders = [self.plain_order() for _ in range(5)]
        with self.slow_orders(3.0):
            results = self.sync(*orders)
        # 3 s an order, 10 s: after the third (9 s) a fourth would end at 12 s.
        self.assertEqual([r["status"] for r in results], ["created"] * 3 + [DEFERRED] * 2)
        self.assertEqual(
            results[3],
            {"uuid": orders[3]["uuid"], "ok": False, "status": DEFERRED, "reason": DEFERRED_REASON},
        )
        self.assertEqual([len(self.find(o)) for o in orders], [1, 1, 1, 0, 0])
        self.assertTrue(all(self.find(o).state == "paid" for o in orders[:3]))

        # The register sends the deferred ones again at once: stored, each once.
        with self.slow_orders(3.0):
            again = self.sync(*orders[3:])
        self.assertEqual([r["status"] for r in again], ["created", "created"])
        # A lost answer and the whole batch again: nothing twice.
        with self.slow_orders(0.1):
            replay = self.sync(*orders)
        self.assertEqual([r["status"] for r in replay], ["exists"] * 5)
        self.assertEqual([len(self.find(o)) for o in orders], [1] * 5)

    def test_the_parameter_sets_the_budget(self):
        orders = [self.plain_order() for _ in range(4)]
        self.set_budget("4.5")
        with self.slow_orders(2.0):
            results = self.sync(*orders)
        # 2 s, 4 s, then 4 + 2 > 4.5.
        self.assertEqual([r["status"] for r in results], ["created"] * 2 + [DEFERRED] * 2)

    def test_one_order_slower_than_the_budget_still_lands(self):
        # On the real clock: every sync_from_ui takes longer than a millisecond.
        self.set_budget("0.001")
        orders = [self.plain_order() for _ in range(3)]
        results = self.sync(*orders)
        self.assertEqual([r["status"] for r in results], ["created", DEFERRED, DEFERRED])
        self.assertEqual([len(self.find(o)) for o in orders], [1, 0, 0])

    def test_a_refused_order_is_refused_whatever_the_budget(self):
        good, bad = self.plain_order(), self.plain_order()
        bad["lines"][0]["qty"] = "two"
        with self.slow_orders(30.0):
            results = self.sync(good, self.plain_order(), bad)
        self.assertEqual([r["status"] for r in results], ["created", DEFERRED, "error"])

    def test_the_budget_value(self):
        PosOrder = self.env["pos.order"]
        options = tools.config._runtime_options
        with patch.dict(options, {"limit_time_cpu": 60, "limit_time_real": 120}):
            self.assertEqual(PosOrder._offline_sync_time_budget(), 10.0, "the default")
            for bad in ("ten", "-3", "0", "nan", "inf"):
                self.set_budget(bad)
                self.assertEqual(PosOrder._offline_sync_time_budget(), 10.0, bad)
            self.set_budget("25")
            self.assertEqual(PosOrder._offline_sync_time_budget(), 25.0)
        # Never past half of a worker limit: the request would be killed and rolled back.
        with patch.dict(options, {"limit_time_cpu": 20, "limit_time_real": 40}):
            self.assertEqual(PosOrder._offline_sync_time_budget(), 10.0)
        with patch.dict(options, {"limit_time_cpu": 8, "limit_time_real": 0}):
            self.assertEqual(PosOrder._offline_sync_time_budget(), 4.0)

    def test_the_wait_for_the_registers_turn_counts_against_the_budget(self):
        """A sync that waited 7 s for its turn (another register's sync held it) has 3 s of
        its 10 left: the worker limits run from the request's start."""
        orders = [self.plain_order() for _ in range(4)]
        PosOrder = type(self.env["pos.order"])
        wait_turn = PosOrder._offline_wait_turn
        with self.slow_orders(1.0) as clock:

            def slow_turn(model, cr, config_id):
                clock.now += 7.0
                return wait_turn(model, cr, config_id)

            with patch.object(PosOrder, "_offline_wait_turn", slow_turn):
                results = self.sync(*orders)
        # 1 s an order, 3 s left: the third ends at 3 s, a fourth would end past it.
        self.assertEqual([r["status"] for r in results], ["created"] * 3 + [DEFERRED])
        self.assertEqual([len(self.find(o)) for o in orders], [1, 1, 1, 0])

    def test_a_turn_waited_past_the_whole_budget_still_stores_one_order(self):
        PosOrder = self.env["pos.order"]
        clock = FakeClock()
        with patch.object(type(PosOrder), "_offline_sync_clock", lambda _self: clock.now):
            self.assertEqual(PosOrder._offline_sync_time_budget(since=clock.now - 4), 6.0)
            self.assertEqual(PosOrder._offline_sync_time_budget(since=clock.now - 30), 0.0)
        orders = [self.plain_order() for _ in range(3)]
        wait_turn = type(PosOrder)._offline_wait_turn
        with self.slow_orders(0.5) as slow:

            def very_slow_turn(model, cr, config_id):
                slow.now += 25.0
                return wait_turn(model, cr, config_id)

            with patch.object(type(PosOrder), "_offline_wait_turn", very_slow_turn):
                results = self.sync(*orders)
        self.assertEqual([r["status"] for r in results], ["created", DEFERRED, DEFERRED])
