# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Server time per order: the addon's offline sync path against Odoo's own sync_from_ui.

Excluded from normal runs: `make bench-odoo` runs it (tag pos_offline_sync_bench).
Prints `bench <name>: <value> <unit>` lines; asserts nothing about time.
"""

import copy
import logging
import time
import uuid

from odoo.tests import tagged

from .common import OfflineSyncCommon, with_production_chatter

_logger = logging.getLogger(__name__)

ORDERS = 300
LINES = 5


@tagged("-standard", "-at_install", "post_install", "pos_offline_sync_bench")
class TestSyncBench(OfflineSyncCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.bench_products = [
            cls.create_product(f"Bench Product {i}", cls.categ_basic, 1.5 + i) for i in range(LINES)
        ]

    def setUp(self):
        super().setUp()
        # Both paths with the chatter production gives each order (creation note, follower):
        # Odoo's test classes switch it off.
        self.env = with_production_chatter(self.env)

    def _orders(self):
        lines = [(p, 1 + i % 3) for i, p in enumerate(self.bench_products)]
        return [self.plain_order(lines) for _ in range(ORDERS)]

    @staticmethod
    def _fresh(orders):
        """Same orders under new uuids: a run must create, not find, them."""
        fresh = []
        for order in orders:
            order = copy.deepcopy(order)
            order["uuid"] = order["odoo"]["uuid"] = str(uuid.uuid4())
            commands = order["odoo"]["payment_ids"]
            for payment, command in zip(order["payments"], commands, strict=True):
                payment["uuid"] = command[2]["uuid"] = str(uuid.uuid4())
            fresh.append(order)
        return fresh

    def _time(self, orders, batch, send):
        self.env.flush_all()
        with self.env.cr.savepoint(flush=False) as savepoint:
            start = time.perf_counter()
            for index in range(0, len(orders), batch):
                send(orders[index : index + batch])
            self.env.flush_all()
            elapsed = time.perf_counter() - start
            savepoint.rollback()
        self.env.invalidate_all()
        return elapsed * 1000.0 / len(orders)

    def _odoo(self, chunk):
        self.env["pos.order"].sync_from_ui([copy.deepcopy(o["odoo"]) for o in chunk])

    def _addon(self, chunk):
        results = self.env["pos.order"].offline_sync_orders(
            {"v": 1, "config_id": self.config.id, "orders": chunk}
        )["results"]
        assert all(r["ok"] and r["status"] == "created" for r in results), results

    def test_sync_bench(self):
        orders = self._orders()
        # Warm caches for both paths. The whole test is one transaction, so the addon's savepoints
        # (one per order) pile up; past 64 PostgreSQL's subtransaction cache overflows and every
        # query gets slower. Overflow it before measuring so both paths run in the same state
        # (a real request holds one batch only: at most 1 savepoint per order of that batch).
        self._time(self._fresh(orders[:70]), 10, self._addon)
        self._time(self._fresh(orders[:20]), 10, self._odoo)
        figures = {}
        for batch in (1, 100):
            # A-B-B-A: each run leaves dead rows behind (rolled back), so later runs are slower;
            # averaging the two paths over mirrored positions cancels that drift.
            odoo_ms, addon_ms = [], []
            for send in (self._odoo, self._addon, self._addon, self._odoo):
                ms = self._time(self._fresh(orders), batch, send)
                (odoo_ms if send == self._odoo else addon_ms).append(ms)
            figures[f"odoo_sync_from_ui_batch{batch}"] = sum(odoo_ms) / 2
            figures[f"offline_sync_orders_batch{batch}"] = sum(addon_ms) / 2
            figures[f"ratio_batch{batch}"] = sum(addon_ms) / sum(odoo_ms)
        for name, value in figures.items():
            unit = "x" if name.startswith("ratio") else "ms/order"
            _logger.info("bench %s: %.2f %s", name, value, unit)
