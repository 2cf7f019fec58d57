# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The offline syncs of one register take turns (pos.order._offline_sync_turn), in production
form: each actor on a cursor of its own that commits, as Odoo's HTTP workers are. Two
registers' syncs, a sync and a CSV import, at the same moment: every order stored once, no
serialization failure or lock error reaching anyone; a CSV chunk waits for the turn a sync
holds and stores nothing before it ends."""

import base64
import threading
import time
from unittest.mock import patch

from odoo import api
from odoo.modules.registry import DummyRLock, Registry
from odoo.tests import tagged

from ..models.pos_order import SYNC_TURN_LOCK
from .committed_register import CommittedRegisterCase, plain_order
from .test_csv_import import export_csv

WAIT_S = 60  # how long the test waits for a thread or a lock before it fails


@tagged("post_install", "-at_install")
class TestSyncTurns(CommittedRegisterCase):
    def make_register(self, env):
        ids = super().make_register(env)
        env["pos.config"].browse(ids["config"]).allow_offline_mode = True
        return ids

    def setUp(self):
        super().setUp()
        # The production path: the turn's own committed cursor, not the test's request cursor.
        PosOrder = type(self.env["pos.order"])
        patcher = patch.object(PosOrder, "_offline_turn_in_request_cursor", lambda self: False)
        patcher.start()
        self.addCleanup(patcher.stop)
        # The actors open cursors in their threads, whose first environment looks the registry
        # up under Registry._lock, held by the test runner's thread while tests run: released
        # as Odoo's own registry test mode does (the registry is loaded, none is made here).
        lock = patch.object(Registry, "_lock", DummyRLock())
        lock.start()
        self.addCleanup(lock.stop)
        self.cursors = []
        self.addCleanup(self.close_cursors)

    def close_cursors(self):
        for cr in self.cursors:
            if not cr.closed:
                cr.close()

    def admin_env(self):
        """The admin's environment on a new cursor of its own."""
        cr = self.registry.cursor()
        self.cursors.append(cr)
        env = api.Environment(cr, self.env.ref("base.user_admin").id, {})
        company = env["pos.config"].browse(self.ids["config"]).company_id
        return env(context={"allowed_company_ids": [company.id]})

    def orders(self, env, count):
        session = env["pos.session"].browse(self.ids["session"])
        method = env["pos.payment.method"].browse(self.ids["method"])
        bolt, nut = env["product.product"].browse(self.ids["products"])
        return [
            plain_order(session, method, [(bolt, 1 + i % 3), (nut, 2)], env.user)
            for i in range(count)
        ]

    def sync(self, env, orders):
        payload = {"v": 1, "config_id": self.ids["config"], "orders": orders}
        answer = env["pos.order"].offline_sync_orders(payload)
        env.cr.commit()
        return answer["results"]

    def csv_import(self, env, orders):
        wizard = env["pos.offline.csv.import"].create(
            {
                "config_id": self.ids["config"],
                "csv_file": base64.b64encode(export_csv(*orders).encode()),
                "csv_filename": "offline.csv",
            }
        )
        wizard.action_import()
        env.cr.commit()
        return [(line.order_uuid, line.status) for line in wizard.line_ids]

    def stored(self, orders):
        def read(env):
            env.cr.execute(
                "SELECT uuid, count(*) FROM pos_order WHERE uuid = ANY(%s) GROUP BY uuid",
                [[o["uuid"] for o in orders]],
            )
            return dict(env.cr.fetchall())

        return self.committed(read)

    def waiting_for_the_turn(self):
        """How many transactions wait for this register's turn right now (pg_locks)."""

        def read(env):
            env.cr.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                " AND classid = %s AND objid = %s",
                [SYNC_TURN_LOCK, self.ids["config"]],
            )
            return env.cr.fetchone()[0]

        return self.committed(read)

    def run_at_once(self, *jobs):
        """Runs each (function, env, orders) in a thread of its own, started together;
        returns their results, or fails with what each raised."""
        barrier = threading.Barrier(len(jobs))
        results, errors = [None] * len(jobs), []

        def run(i, func, env, orders):
            try:
                barrier.wait(timeout=WAIT_S)
                results[i] = func(env, orders)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(f"{func.__name__}: {exc!r}")

        threads = [
            threading.Thread(target=run, args=(i, *job)) for i, job in enumerate(jobs, start=0)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=5 * WAIT_S)
        self.assertFalse([t for t in threads if t.is_alive()], "an actor did not finish")
        self.assertFalse(errors)
        return results

    # -- the tests ----------------------------------------------------------------------------
    def test_two_registers_syncing_at_once_store_every_order_once(self):
        first, second = self.admin_env(), self.admin_env()
        a, b = self.orders(first, 6), self.orders(second, 6)
        results = self.run_at_once((self.sync, first, a), (self.sync, second, b))
        for answer in results:
            self.assertEqual({r["status"] for r in answer}, {"created"}, answer)
        self.assertEqual(self.stored(a + b), {o["uuid"]: 1 for o in a + b})

    def test_a_sync_and_a_csv_import_at_once_store_every_order_once(self):
        register, office = self.admin_env(), self.admin_env()
        synced, imported = self.orders(register, 6), self.orders(office, 6)
        answer, lines = self.run_at_once(
            (self.sync, register, synced), (self.csv_import, office, imported)
        )
        self.assertEqual({r["status"] for r in answer}, {"created"}, answer)
        self.assertEqual(sorted(lines), sorted((o["uuid"], "created") for o in imported))
        self.assertEqual(self.stored(synced + imported), {o["uuid"]: 1 for o in synced + imported})

    def test_a_csv_chunk_waits_for_the_turn_a_sync_holds(self):
        # A register's sync mid-turn: its transaction holds the turn.
        holder = self.admin_env()
        holder["pos.order"]._offline_wait_turn(holder.cr, self.ids["config"])
        office = self.admin_env()
        imported = self.orders(office, 4)
        thread_result = []
        thread = threading.Thread(
            target=lambda: thread_result.append(self.csv_import(office, imported))
        )
        thread.start()
        try:
            deadline = time.monotonic() + WAIT_S
            while not self.waiting_for_the_turn():
                self.assertLess(time.monotonic(), deadline, "the import never waited its turn")
                time.sleep(0.05)
            # It waits, and has stored nothing.
            self.assertEqual(self.stored(imported), {})
        finally:
            holder.cr.rollback()  # the sync's turn ends
        thread.join(timeout=5 * WAIT_S)
        self.assertFalse(thread.is_alive(), "the import did not finish")
        self.assertEqual(sorted(thread_result[0]), sorted((o["uuid"], "created") for o in imported))
        self.assertEqual(self.stored(imported), {o["uuid"]: 1 for o in imported})
