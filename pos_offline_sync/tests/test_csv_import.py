# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import base64
import csv
import io

from odoo.tests import tagged

from ..core import csv_schema
from .common import OfflineSyncCommon


@tagged("post_install", "-at_install")
class TestOfflineCsvImport(OfflineSyncCommon):
    def to_csv(self, *orders):
        """The register's CSV export (CONTRACTS §5): one row per line and per payment."""
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=csv_schema.CSV_COLUMNS, lineterminator="\r\n")
        writer.writeheader()
        for order in orders:
            head = {
                "order_uuid": order["uuid"],
                "order_reference": order["reference"],
                "created_at": order["created_at"],
                "cashier": order["cashier"]["name"],
                "customer_id": "",
                "customer": "",
                "currency": order["currency"],
                "order_total": order["amount_total"],
            }
            for line in order["lines"]:
                writer.writerow(
                    {
                        **head,
                        "record_type": "line",
                        "product_id": line["product_id"],
                        "product_name": line["product_name"],
                        "quantity": line["qty"],
                        "unit_price": line["price_unit"],
                        "discount_percent": line["discount"],
                        "line_total": line["price_subtotal_incl"],
                    }
                )
            for payment in order["payments"]:
                card = payment["card"] or {}
                writer.writerow(
                    {
                        **head,
                        "record_type": "payment",
                        "payment_uuid": payment["uuid"],
                        "payment_method_id": payment["payment_method_id"],
                        "payment_method": payment["payment_method_name"],
                        "payment_amount": payment["amount"],
                        "card_brand": card.get("brand", ""),
                        "card_last4": card.get("last4", ""),
                        "card_status": card.get("status", ""),
                    }
                )
        return out.getvalue()

    def wizard(self, text):
        return self.env["pos.offline.csv.import"].create(
            {
                "config_id": self.config.id,
                "csv_file": base64.b64encode(text.encode()),
                "csv_filename": "offline.csv",
            }
        )

    def test_import_twice_creates_once(self):
        first = self.plain_order([(self.desk_pad, 2), (self.lamp, 1)])
        second = self.plain_order([(self.lamp, 3)])
        text = self.to_csv(first, second)

        wizard = self.wizard(text)
        wizard.action_preview()
        self.assertEqual(wizard.state, "preview")
        self.assertEqual(sorted(wizard.line_ids.mapped("status")), ["new", "new"])
        self.assertFalse(self.find(first), "a preview creates nothing")
        wizard.action_import()
        self.assertEqual(sorted(wizard.line_ids.mapped("status")), ["created", "created"])
        order = self.find(first)
        self.assertEqual(order.state, "paid")
        self.assertEqual(sorted(order.lines.mapped("qty")), [1, 2])
        self.assertAlmostEqual(order.amount_total, 19.0)

        again = self.wizard(text)
        again.action_preview()
        self.assertEqual(again.line_ids.mapped("status"), ["exists", "exists"])
        again.action_import()
        self.assertEqual(again.line_ids.mapped("status"), ["exists", "exists"])
        self.assertEqual(len(self.find(first)), 1)
        self.assertEqual(len(self.find(second)), 1)

    def test_orders_synced_since_are_not_created_again(self):
        order = self.plain_order()
        self.sync(order)
        wizard = self.wizard(self.to_csv(order))
        wizard.action_import()
        self.assertEqual(wizard.line_ids.status, "exists")
        self.assertEqual(len(self.find(order)), 1)

    def test_bad_lines_are_reported_with_their_line_number(self):
        good = self.plain_order()
        bad = self.plain_order()
        text = self.to_csv(good, bad)
        rows = text.split("\r\n")
        # Row 4 of the file (header = 1): the bad order's line gets a quantity that is no number.
        rows[3] = rows[3].replace(f",{bad['lines'][0]['qty']},", ",two,", 1)
        wizard = self.wizard("\r\n".join(rows))
        wizard.action_preview()
        errors = wizard.line_ids.filtered(lambda line: line.status == "error")
        self.assertTrue(errors)
        self.assertIn(4, errors.mapped("line_no"))
        wizard.action_import()
        self.assertTrue(self.find(good))
        self.assertFalse(self.find(bad))

    def test_unprocessed_card_is_imported_unpaid(self):
        order = self.plain_order(payments=[(self.card_pm, 7.0)])
        wizard = self.wizard(self.to_csv(order))
        wizard.action_import()
        pos_order = self.find(order)
        self.assertEqual(pos_order.state, "draft")
        self.assertTrue(pos_order.offline_card_failed)
        self.assertIn("not processed", pos_order.offline_card_failure)

    def test_not_a_csv_file_is_refused_clearly(self):
        from odoo.exceptions import UserError

        wizard = self.env["pos.offline.csv.import"].create(
            {"config_id": self.config.id, "csv_file": base64.b64encode(b"\xff\xfe\x00bad")}
        )
        with self.assertRaisesRegex(UserError, "UTF-8"):
            wizard.action_preview()
