# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.tests import tagged

from .common import OfflineSyncCommon, company_user

SYNC_ID = "5" * 32
DEVICE = "d" * 32


@tagged("post_install", "-at_install")
class TestOfflineSyncLog(OfflineSyncCommon):
    """The sync log in real Odoo: a register's sync in one row whatever its batches, with the
    device, cashier and refusal reasons; a malformed `sync` object never refuses orders; each
    company sees its own."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        company = cls.config.company_id
        cls.cashier = company_user(cls.env, "log_cashier", company)
        other = cls.env["res.company"].create({"name": "Other Log Shop"})
        cls.foreign = company_user(cls.env, "log_foreign", other)

    def send(self, orders, meta):
        payload = {"v": 1, "config_id": self.config.id, "orders": orders}
        if meta is not None:
            payload["sync"] = meta
        return self.env["pos.order"].with_user(self.cashier).offline_sync_orders(payload)["results"]

    def entries(self):
        return self.env["pos.offline.sync.log"].search([("config_id", "=", self.config.id)])

    def test_the_batches_of_one_sync_make_one_row(self):
        meta = {"id": SYNC_ID, "device_id": DEVICE, "cashier": "Marc Demo"}
        first = [self.plain_order() for _ in range(2)]
        bad = self.plain_order()
        bad["lines"][0]["qty"] = "two"
        self.send(first, meta)
        results = self.send([first[0], bad], meta)
        self.assertEqual([r["ok"] for r in results], [True, False])
        entry = self.entries()
        self.assertEqual(len(entry), 1)
        self.assertEqual(
            (entry.batches, entry.sent, entry.created, entry.existing, entry.refused),
            (2, 4, 2, 1, 1),
        )
        self.assertEqual((entry.device_uid, entry.cashier_name), (DEVICE, "Marc Demo"))
        self.assertEqual(entry.user_id, self.cashier)
        self.assertIn("quantity", entry.reasons)
        # Searchable by cashier, device and reason.
        Log = self.env["pos.offline.sync.log"]
        self.assertEqual(Log.search([("cashier_name", "ilike", "marc")]), entry)
        self.assertEqual(Log.search([("reasons", "ilike", "quantity")]), entry)
        self.assertEqual(Log.search([("refused", ">", 0)]) & entry, entry)

    def test_the_row_names_the_reported_device(self):
        self.env["pos.order"].with_user(self.cashier).offline_device_report(
            {
                "v": 1,
                "config_id": self.config.id,
                "device_id": DEVICE,
                "device_name": "Front counter",
                "seq": 1,
                "addon_version": "19.0.1.4.0",
                "storage": "persisted",
                "cashier": None,
                "waiting": {"count": 0, "total": 0, "oldest_at": None},
                "cards": {"count": 0, "amount": 0, "oldest_at": None, "seconds_left": None},
                "at": "2026-12-01T12:00:00Z",
            }
        )
        self.send([self.plain_order()], {"id": SYNC_ID, "device_id": DEVICE})
        self.assertEqual(self.entries().device_id.name, "Front counter")

    def test_a_malformed_sync_object_never_refuses_orders(self):
        results = self.send([self.plain_order()], {"id": "not an id!", "device_id": ["x"]})
        self.assertTrue(results[0]["ok"])
        self.send([self.plain_order()], None)
        entries = self.entries()
        self.assertEqual(len(entries), 2)
        self.assertFalse(any(entries.mapped("sync_uid")))
        self.assertEqual(sum(entries.mapped("created")), 2)

    def test_each_company_sees_its_own(self):
        self.send([self.plain_order()], {"id": SYNC_ID})
        self.assertFalse(self.env["pos.offline.sync.log"].with_user(self.foreign).search([]))
        self.assertTrue(self.env["pos.offline.sync.log"].with_user(self.cashier).search([]))
