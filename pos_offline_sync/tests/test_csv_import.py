# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import base64
import csv
import io
import uuid
from unittest.mock import patch

from odoo.exceptions import UserError, ValidationError
from odoo.tests import new_test_user, tagged

from ..core import csv_schema
from ..models import offline_order_sink
from ..wizards import offline_csv_import
from .common import OfflineSyncCommon

MAX_BYTES, MAX_ROWS = csv_schema.MAX_CSV_BYTES, csv_schema.MAX_CSV_ROWS


class Crash(Exception):
    pass


def export_csv(*orders):
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


@tagged("post_install", "-at_install")
class TestOfflineCsvImport(OfflineSyncCommon):
    def setUp(self):
        super().setUp()
        # The import commits each chunk in a cursor of its own: here a test cursor on this
        # test's transaction, whose commit is a released savepoint.
        self.registry_enter_test_mode()

    def to_csv(self, *orders):
        return export_csv(*orders)

    def wizard(self, text, env=None):
        data = text if isinstance(text, bytes) else text.encode()
        return (env or self.env)["pos.offline.csv.import"].create(
            {
                "config_id": self.config.id,
                "csv_file": base64.b64encode(data),
                "csv_filename": "offline.csv",
            }
        )

    def padded(self, text, size):
        """`text` and lines of spaces (blank rows, which count for nothing) to `size` bytes."""
        data = text.encode()
        missing = size - len(data)
        filler = (b" " * 998 + b"\r\n") * (missing // 1000)
        rest = missing % 1000
        return data + filler + (b" " * (rest - 2) + b"\r\n" if rest >= 2 else b" " * rest)

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
        wizard = self.env["pos.offline.csv.import"].create(
            {"config_id": self.config.id, "csv_file": base64.b64encode(b"\xff\xfe\x00bad")}
        )
        with self.assertRaisesRegex(UserError, "UTF-8"):
            wizard.action_preview()

    def test_every_row_shows_its_csv_line(self):
        """Issue 9: the CSV Line column showed 0 on every row that was not an error."""
        first = self.plain_order([(self.desk_pad, 2), (self.lamp, 1)])  # lines 2-4
        second = self.plain_order([(self.lamp, 3)])  # lines 5-6
        wizard = self.wizard(self.to_csv(first, second))
        wizard.action_preview()
        by_uuid = {line.order_uuid: line.line_no for line in wizard.line_ids}
        self.assertEqual(by_uuid, {first["uuid"]: 2, second["uuid"]: 5})
        wizard.action_import()
        by_uuid = {line.order_uuid: line.line_no for line in wizard.line_ids}
        self.assertEqual(by_uuid, {first["uuid"]: 2, second["uuid"]: 5})

    def test_file_at_the_byte_limit_is_read_one_byte_past_is_refused(self):
        order = self.plain_order()
        at_limit = self.padded(self.to_csv(order), MAX_BYTES)
        self.assertEqual(len(at_limit), MAX_BYTES)
        wizard = self.wizard(at_limit)
        wizard.action_preview()
        self.assertEqual(wizard.line_ids.mapped("status"), ["new"])

        past = at_limit + b" "
        with self.assertRaises(ValidationError) as refused:
            self.wizard(past)  # refused when uploaded: nothing reads it
        self.assertIn("5,000,001 bytes", str(refused.exception))
        self.assertIn("at most 5,000,000 bytes and 20,000 rows", str(refused.exception))
        # a file grown past the limit after the upload is refused before it is read, too
        wizard = self.wizard(self.to_csv(order))
        wizard._csv_attachment().sudo().raw = past
        with self.assertRaisesRegex(UserError, "5,000,001 bytes"):
            wizard.action_preview()
        self.assertFalse(self.find(order))

    def csv_of_rows(self, n_rows):
        """`n_rows` data rows: one-line cash orders, the last maybe with its line row only."""
        order = self.plain_order()
        line_row, payment_row = self.to_csv(order).split("\r\n")[1:3]
        header = self.to_csv().rstrip("\r\n")
        rows = [header]
        for i in range(n_rows):
            new = str(uuid.UUID(int=i // 2 + 1))
            rows.append((line_row if i % 2 == 0 else payment_row).replace(order["uuid"], new))
        return "\r\n".join(rows) + "\r\n"

    def test_file_at_the_row_limit_is_read_one_row_past_is_refused(self):
        wizard = self.wizard(self.csv_of_rows(MAX_ROWS))
        wizard.action_preview()
        lines = wizard.line_ids
        self.assertEqual(len(lines), MAX_ROWS // 2)
        self.assertEqual(set(lines.mapped("status")), {"new"})
        self.assertEqual(lines.sorted("line_no")[-1].line_no, MAX_ROWS)
        self.assertIn("10000 order(s) read, 10000 new", wizard.summary)

        wizard = self.wizard(self.csv_of_rows(MAX_ROWS + 1))
        with self.assertRaises(UserError) as refused:
            wizard.action_import()
        self.assertIn("The file has 20,001 rows", str(refused.exception))
        self.assertIn("at most 20,000 rows and 5,000,000 bytes", str(refused.exception))
        self.assertEqual(wizard.state, "upload")

    def test_bom_or_not_the_same_rows(self):
        order = self.plain_order([(self.desk_pad, 1), (self.lamp, 1)])
        text = self.to_csv(order)
        seen = []
        for data in (text.encode(), b"\xef\xbb\xbf" + text.encode()):
            wizard = self.wizard(data)
            wizard.action_preview()
            seen.append([(line.line_no, line.order_uuid, line.status) for line in wizard.line_ids])
        self.assertEqual(seen[0], [(2, order["uuid"], "new")])
        self.assertEqual(seen[1], seen[0])
        wizard.action_import()
        self.assertEqual(self.find(order).state, "paid")

    def test_multiline_cell_counts_its_lines(self):
        first = self.plain_order()
        first["lines"][0]["product_name"] = 'Desk "Pad",\r\nlarge'  # its line row: lines 2-3
        second = self.plain_order()
        text = self.to_csv(first, second)  # second's rows on lines 5 and 6
        rows = text.split("\r\n")
        rows[4] = rows[4].replace(f",{second['lines'][0]['qty']},", ",lots,", 1)  # line 5
        wizard = self.wizard("\r\n".join(rows))
        wizard.action_preview()
        self.assertEqual(
            [(line.line_no, line.status) for line in wizard.line_ids.sorted("line_no")],
            [(2, "new"), (5, "error")],
        )
        self.assertIn("quantity is not a number", wizard.line_ids.filtered("message").message)
        wizard.action_import()
        self.assertTrue(self.find(first))
        self.assertFalse(self.find(second))

    def test_crash_between_chunks_then_import_again_creates_each_order_once(self):
        orders = [self.plain_order() for _ in range(5)]
        text = self.to_csv(*orders)
        wizard = self.wizard(text)
        wizard.action_preview()
        chunks = []

        def crash_after_two(_wizard, done, total):
            chunks.append((done, total))
            if len(chunks) == 2:
                raise Crash()

        Wizard = type(wizard)
        with patch.object(Wizard, "_import_chunk", 2):
            with patch.object(Wizard, "_import_chunk_done", crash_after_two):
                # not assertRaises: its savepoint would undo the chunks' commits with it
                with self.assertLogs(offline_csv_import.__name__, "ERROR") as logged:
                    try:
                        wizard.action_import()
                    except UserError as exc:
                        message = str(exc)
                    else:
                        self.fail("the import did not stop")
        self.assertIn("CSV import stopped after 4 of 5 orders", logged.output[0])
        self.assertEqual(chunks, [(2, 5), (4, 5)])
        self.assertIn("stopped after 4 of 5 order(s), which are saved", message)
        self.assertEqual([len(self.find(o)) for o in orders], [1, 1, 1, 1, 0])
        self.assertEqual(wizard.state, "preview")

        again = self.wizard(text)
        with patch.object(Wizard, "_import_chunk", 2):
            again.action_import()
        self.assertEqual(
            again.summary,
            "5 of 5 order(s) imported (1 new, 4 already in the back office), 0 problem(s).",
        )
        self.assertEqual(again.line_ids.mapped("status"), ["exists"] * 4 + ["created"])
        self.assertEqual([len(self.find(o)) for o in orders], [1] * 5)
        for order in orders:
            self.assertEqual(len(self.find(order).lines), 1)
            self.assertEqual(len(self.find(order).payment_ids), 1)

    def test_a_pos_manager_imports_in_chunks(self):
        manager = new_test_user(
            self.env,
            login="csv_manager",
            groups="point_of_sale.group_pos_manager",
            company_id=self.config.company_id.id,
        )
        orders = [self.plain_order() for _ in range(3)]
        wizard = self.wizard(self.to_csv(*orders), env=self.env(user=manager))
        wizard.action_preview()
        with patch.object(type(wizard), "_import_chunk", 2):
            wizard.action_import()
        self.assertEqual(wizard.line_ids.mapped("status"), ["created"] * 3)
        self.assertEqual(wizard.line_ids.mapped("line_no"), [2, 4, 6])
        self.assertTrue(all(self.find(order).state == "paid" for order in orders))

    def test_import_that_runs_out_of_time_goes_on_where_it_stopped(self):
        """One chunk per request (a spent time budget): each click stores the next chunk, the
        orders already stored are not in the way, and the wizard says what is left."""
        orders = [self.plain_order() for _ in range(5)]
        wizard = self.wizard(self.to_csv(*orders))
        wizard.action_preview()
        Wizard = type(wizard)
        seen = []
        with (
            patch.object(Wizard, "_import_chunk", 2),
            patch.object(Wizard, "_import_budget", lambda _self: 0),
        ):
            for _click in range(3):
                wizard.action_import()
                statuses = {line.order_uuid: line.status for line in wizard.line_ids}
                seen.append(([statuses[o["uuid"]] for o in orders], wizard.state))
        self.assertEqual(
            seen,
            [
                (["created", "created", "new", "new", "new"], "preview"),
                (["exists", "exists", "created", "created", "new"], "preview"),
                (["exists", "exists", "exists", "exists", "created"], "done"),
            ],
        )
        self.assertEqual(
            wizard.summary,
            "5 of 5 order(s) imported (1 new, 4 already in the back office), 0 problem(s).",
        )
        self.assertEqual([len(self.find(o)) for o in orders], [1] * 5)

    def test_partial_import_says_what_is_left(self):
        orders = [self.plain_order() for _ in range(3)]
        wizard = self.wizard(self.to_csv(*orders))
        with (
            patch.object(type(wizard), "_import_chunk", 2),
            patch.object(type(wizard), "_import_budget", lambda _self: 0),
        ):
            wizard.action_import()
        self.assertEqual(
            wizard.summary,
            "2 of 3 order(s) imported (2 new, 0 already in the back office), 0 problem(s). "
            "1 order(s) left: this request's time ran out. Click Import again to import them; "
            "nothing is created twice.",
        )
        pending = wizard.line_ids.filtered(lambda line: line.status == "new")
        self.assertEqual(pending.order_uuid, orders[2]["uuid"])
        self.assertEqual(pending.line_no, 6)
        self.assertEqual(pending.message, "Not imported yet: click Import again")

    def test_the_form_states_the_limits(self):
        arch = self.env.ref("pos_offline_sync.pos_offline_csv_import_view_form").arch
        self.assertIn(f"at most {MAX_BYTES:,} bytes and {MAX_ROWS:,} rows", " ".join(arch.split()))
        self.assertIn(f"{csv_schema.IMPORT_CHUNK_ORDERS} at a time", arch)

    def test_offline_card_method_without_card_columns_is_imported_unpaid(self):
        # Numbered case 5: a row paying with the offline-card method, its card columns empty,
        # was imported Paid with no charge and no transaction.
        order = self.plain_order(payments=[(self.card_pm, 7.0)])
        order["payments"][0]["card"] = None
        wizard = self.wizard(self.to_csv(order))
        wizard.action_import()
        self.assertEqual(wizard.line_ids.status, "created", wizard.line_ids.message)
        pos_order = self.find(order)
        self.assertEqual(pos_order.state, "draft")
        self.assertTrue(pos_order.offline_card_failed)
        self.assertFalse(pos_order.payment_ids)
        self.assertIn("on Card (offline) has no card charged", pos_order.offline_card_failure)

    def test_a_chunk_past_the_sync_budget_sends_the_rest_in_the_next_chunk(self):
        """The import goes through the sync's time budget: a chunk stores what fits in it, its
        deferred orders go first in the next chunk, and every order is stored once."""
        orders = [self.plain_order() for _ in range(5)]
        wizard = self.wizard(self.to_csv(*orders))
        clock = {"now": 100.0}
        Sink = offline_order_sink.OdooOrderSink
        store = Sink.store
        chunks = []

        def slow_store(sink, order):
            clock["now"] += 4.0  # 4 s an order: 2 fit in the 10 s of a chunk
            return store(sink, order)

        import_in_chunks = csv_schema.import_in_chunks

        def counted(orders_, config_id, store_chunk, **kwargs):
            def chunk(payload):
                chunks.append(len(payload["orders"]))
                return store_chunk(payload)

            return import_in_chunks(orders_, config_id, chunk, **kwargs)

        with (
            patch.object(
                type(self.env["pos.order"]), "_offline_sync_clock", lambda _s: clock["now"]
            ),
            patch.object(Sink, "store", slow_store),
            patch.object(csv_schema, "import_in_chunks", counted),
        ):
            wizard.action_import()
        self.assertEqual(chunks, [5, 3, 1])
        self.assertEqual(wizard.line_ids.mapped("status"), ["created"] * 5)
        self.assertEqual(wizard.state, "done")
        self.assertEqual([len(self.find(o)) for o in orders], [1] * 5)

    def test_an_order_the_back_office_refuses_is_listed_with_the_reason(self):
        hidden = self.create_product("Not in the POS", self.categ_basic, 3.5)
        hidden.available_in_pos = False
        good, refused = self.plain_order(), self.plain_order([(hidden, 2)])
        wizard = self.wizard(self.to_csv(good, refused))
        wizard.action_import()
        lines = {line.order_uuid: line for line in wizard.line_ids}
        self.assertEqual(lines[good["uuid"]].status, "created")
        self.assertEqual(lines[refused["uuid"]].status, "error")
        self.assertIn("is not sold in the POS", lines[refused["uuid"]].message)
        self.assertFalse(self.find(refused))
