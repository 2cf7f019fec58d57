"""The CSV of offline orders: columns read from the JS single source, lossless neutralisation,
the browser's own exporter (run by node) parsed back to the same orders, line-numbered errors
that never half-import an order, and idempotent import through the real SQLite sink."""

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from pos_offline_sync.core import csv_schema
from pos_offline_sync.core.csv_schema import (
    CSV_COLUMNS,
    CSV_TEXT_COLUMNS,
    neutralise_cell,
    parse_offline_csv,
    unneutralise_cell,
)
from pos_offline_sync.core.sync_service import sync_batch
from sandbox import db
from sandbox.orders import SqliteOrderSink
from tests.order_support import recent

ROOT = Path(__file__).resolve().parents[2]
EXPORT_JS = ROOT / "pos_offline_sync/static/src/core/csv_export.js"
HOSTILE = '=HYPERLINK("http://x","y")'


def _js_export(orders: list[dict]) -> dict:
    """The browser's real exporter (csv_export.js), run by node on the given orders."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: the CSV round trip needs the browser's exporter")
    script = (
        f"import {{ ordersToCsv }} from {json.dumps(EXPORT_JS.as_uri())};"
        "let s = ''; process.stdin.on('data', (d) => (s += d));"
        "process.stdin.on('end', () => {"
        "  process.stdout.write(JSON.stringify(ordersToCsv(JSON.parse(s))));"
        "});"
    )
    out = subprocess.run(  # noqa: S603 - fixed argv
        [node, "--input-type=module", "-e", script],
        input=json.dumps(orders),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(out.stdout)


def _row(**cells) -> dict:
    return {name: cells.get(name, "") for name in CSV_COLUMNS}


def _order_rows(uuid="u-1", reference="Order 1", total="7", **extra):
    head = {
        "order_uuid": uuid,
        "order_reference": reference,
        "created_at": recent(),
        "cashier": "Mitchell Admin",
        "currency": "USD",
        "order_total": total,
        **extra,
    }
    line = _row(
        record_type="line",
        product_id="1",
        product_name="Desk Pad",
        quantity="2",
        unit_price="3.5",
        discount_percent="0",
        line_total="7",
        **head,
    )
    payment = _row(
        record_type="payment",
        payment_uuid=f"p-{uuid}",
        payment_method_id="1",
        payment_method="Cash",
        payment_amount=total,
        **head,
    )
    return [line, payment]


def _csv(rows, columns=CSV_COLUMNS) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


# -- the schema -------------------------------------------------------------------------------


def test_columns_come_from_the_js_single_source():
    text = csv_schema.JS_SCHEMA.read_text()
    body = text.split("// BEGIN CSV_COLUMNS", 1)[1].split("// END CSV_COLUMNS", 1)[0]
    assert CSV_COLUMNS == json.loads(body[body.index("[") : body.rindex("]") + 1])
    assert CSV_COLUMNS[:2] == ["record_type", "order_uuid"]
    assert set(CSV_TEXT_COLUMNS) <= set(CSV_COLUMNS)
    assert "customer" in CSV_TEXT_COLUMNS
    # never anything of a card beyond brand, last 4 and status
    assert not [c for c in CSV_COLUMNS if any(w in c for w in ("number", "cvc", "envelope"))]


@pytest.mark.parametrize(
    "value",
    [HOSTILE, "+1", "-2", "@SUM(A1)", "\tx", "\rx", "'quoted", "'", "''", "plain", "", "a=b"],
)
def test_neutralise_is_lossless(value):
    out = neutralise_cell(value)
    if value[:1] in ("=", "+", "-", "@", "\t", "\r", "'"):
        assert out == "'" + value
    else:
        assert out == value
    assert unneutralise_cell(out) == value


def test_neutralise_leaves_numbers_alone():
    assert neutralise_cell(-3.5) == -3.5


# -- round trip with the browser's exporter ---------------------------------------------------


def test_js_export_parses_back_to_the_same_orders(order_factory):
    plain = order_factory()
    hostile = order_factory(customer={"id": 7, "name": HOSTILE})
    hostile["lines"].append(
        {
            "product_id": 3,
            "product_name": 'Desk "Organizer", large\nwith lid',
            "qty": 1.5,
            "price_unit": 5.1,
            "discount": 10,
            "price_subtotal_incl": 6.885,
        }
    )
    hostile["amount_total"] = hostile["amount_paid"] = 13.885
    hostile["payments"][0]["amount"] = 13.885
    hostile["cashier"] = {"id": 2, "name": "-Zoë, l'caissière"}
    card = order_factory()
    card["payments"][0].update(
        payment_method_id=2,
        payment_method_name="Card (offline)",
        card={"brand": "visa", "last4": "4242", "status": "unprocessed", "envelope": {"ct": "X"}},
    )
    refund = order_factory(amount_total=-7.0, amount_paid=-7.0, is_return=True)

    exported = _js_export([plain, hostile, card, refund])
    assert (exported["exported"], exported["skippedReturns"]) == (3, 1)
    text = exported["csv"]
    assert "'=HYPERLINK" in text  # neutralised on the way out
    assert '"ct"' not in text and "envelope" not in text

    parsed = parse_offline_csv(text)
    assert parsed.errors == []
    by_uuid = {o["uuid"]: o for o in parsed.orders}
    assert list(by_uuid) == [plain["uuid"], hostile["uuid"], card["uuid"]]

    got = by_uuid[hostile["uuid"]]
    assert got["customer"] == {"id": 7, "name": HOSTILE}  # exactly restored
    assert got["cashier"]["name"] == "-Zoë, l'caissière"
    assert got["lines"][1]["product_name"] == 'Desk "Organizer", large\nwith lid'
    assert got["lines"][1]["qty"] == 1.5 and got["lines"][1]["discount"] == 10
    assert got["amount_total"] == pytest.approx(13.885)
    for key in ("reference", "created_at", "currency"):
        assert got[key] == hostile[key]
    assert [line["product_id"] for line in got["lines"]] == [1, 3]

    got_card = by_uuid[card["uuid"]]["payments"][0]
    assert got_card["card"]["status"] == "unprocessed"
    assert got_card["card"]["last4"] == "4242" and got_card["card"].get("envelope") is None
    assert got_card["uuid"] == card["payments"][0]["uuid"]


def test_js_export_imported_twice_creates_nothing_twice(tmp_path, order_factory):
    orders = [order_factory() for _ in range(3)]
    parsed = parse_offline_csv(_js_export(orders)["csv"])
    db.init_db(tmp_path / "csv.sqlite3")
    conn = db.connect(tmp_path / "csv.sqlite3")
    try:
        sink = SqliteOrderSink(None, conn, 1, origin="csv")
        payload = {"v": 1, "config_id": 1, "orders": parsed.orders}
        first = sync_batch(payload, sink)["results"]
        again = sync_batch(
            {"v": 1, "config_id": 1, "orders": parse_offline_csv(_js_export(orders)["csv"]).orders},
            sink,
        )["results"]
        assert [r["status"] for r in first] == ["created"] * 3
        assert [r["status"] for r in again] == ["exists"] * 3
        assert conn.execute("SELECT count(*) FROM orders").fetchone()[0] == 3
    finally:
        conn.close()


# -- errors, with the file's line numbers -----------------------------------------------------


def test_bad_row_is_named_and_the_rest_still_parses():
    rows = _order_rows("u-1") + _order_rows("u-2", "Order 2") + _order_rows("u-3", "Order 3")
    rows[2]["quantity"] = "two"  # line 4 of the file (header is line 1)
    parsed = parse_offline_csv(_csv(rows))
    assert [o["uuid"] for o in parsed.orders] == ["u-1", "u-3"]  # u-2 not half-imported
    assert [(e.line, e.reason) for e in parsed.errors] == [
        (4, "quantity is not a number: 'two' (order Order 2 not imported)")
    ]


def test_order_level_error_names_the_orders_first_line():
    rows = _order_rows("u-1") + _order_rows("u-2", "Order 2")
    rows[2]["created_at"] = rows[3]["created_at"] = "not a date"
    parsed = parse_offline_csv(_csv(rows))
    assert [o["uuid"] for o in parsed.orders] == ["u-1"]
    (error,) = parsed.errors
    assert error.line == 4 and "created_at is not an ISO 8601 date" in error.reason


def test_line_numbers_count_physical_lines_of_multiline_cells():
    rows = _order_rows("u-1") + _order_rows("u-2", "Order 2")
    rows[0]["product_name"] = "two\nline name"  # record on lines 2-3
    rows[3]["payment_method_id"] = "cash"  # 5th record, starts on line 6
    parsed = parse_offline_csv(_csv(rows))
    assert [o["uuid"] for o in parsed.orders] == ["u-1"]
    assert parsed.orders[0]["lines"][0]["product_name"] == "two\nline name"
    assert [e.line for e in parsed.errors] == [6]
    assert "payment_method_id is not a number: 'cash'" in parsed.errors[0].reason


@pytest.mark.parametrize(
    ("index", "mutate", "reason"),
    [
        (
            1,
            lambda r: r.update(record_type="tax"),
            "record_type must be line or payment, not 'tax'",
        ),
        (0, lambda r: r.update(product_id=""), "product_id is empty"),
        (0, lambda r: r.update(product_id="1.5"), "product_id is not a record id"),
        (0, lambda r: r.update(unit_price="nan"), "unit_price is not a finite number"),
        (1, lambda r: r.update(payment_amount="7,00"), "payment_amount is not a number"),
        (1, lambda r: r.update(order_total="8"), "its order columns differ from line 2"),
    ],
)
def test_row_reasons(index, mutate, reason):
    rows = _order_rows("u-1") + _order_rows("u-2", "Order 2")
    mutate(rows[index])  # a row of the first order: line 2 or 3
    parsed = parse_offline_csv(_csv(rows))
    assert [o["uuid"] for o in parsed.orders] == ["u-2"]  # the bad order wholly left out
    assert [e.line for e in parsed.errors] == [index + 2]
    assert reason in parsed.errors[0].reason
    assert "Order 1 not imported" in parsed.errors[0].reason


def test_row_without_uuid_keeps_its_order_out():
    rows = _order_rows("u-1") + _order_rows("u-2", "Order 2")
    rows[3]["order_uuid"] = ""  # Order 2's payment row, line 5
    parsed = parse_offline_csv(_csv(rows))
    # Order 2 is not imported without its payment (it would wrongly show as unpaid).
    assert [o["uuid"] for o in parsed.orders] == ["u-1"]
    assert [(e.line, e.reason) for e in parsed.errors] == [
        (4, "order Order 2: line 5 of it has no order_uuid; not imported"),
        (5, "order_uuid is empty"),
    ]


def test_wrong_number_of_cells():
    text = _csv(_order_rows("u-1")) + "line,u-9,only three\r\n"
    parsed = parse_offline_csv(text)
    assert [o["uuid"] for o in parsed.orders] == ["u-1"]
    assert [(e.line, e.reason) for e in parsed.errors] == [
        (4, f"has 3 cells, the header has {len(CSV_COLUMNS)}")
    ]


def test_return_in_a_csv_is_reported_not_imported():
    rows = _order_rows("u-r", "Refund 1", total="-7")
    rows[0].update(quantity="-2", line_total="-7")
    parsed = parse_offline_csv(_csv(rows))
    assert parsed.orders == []
    assert parsed.errors[0].line == 2 and "return" in parsed.errors[0].reason


def test_missing_columns_and_empty_files():
    columns = [c for c in CSV_COLUMNS if c != "quantity"]
    rows = [{k: v for k, v in r.items() if k != "quantity"} for r in _order_rows()]
    parsed = parse_offline_csv(_csv(rows, columns))
    assert parsed.orders == []
    assert [(e.line, e.reason) for e in parsed.errors] == [
        (1, "the header lacks the columns: quantity")
    ]
    assert [(e.line, e.reason) for e in parse_offline_csv("").errors] == [(1, "the file is empty")]
    assert parse_offline_csv(_csv([])).orders == []
    assert parse_offline_csv(b"bytes").errors[0].reason == "the file is not text"


def test_columns_in_another_order_and_bom_and_blank_lines():
    columns = list(reversed(CSV_COLUMNS))
    text = "\ufeff" + _csv(_order_rows("u-1"), columns) + "\r\n\r\n"
    parsed = parse_offline_csv(text)
    assert parsed.errors == []
    (order,) = parsed.orders
    assert order["amount_paid"] == 7.0 and order["lines"][0]["qty"] == 2.0


def test_neutralised_cells_are_restored_from_hand_written_csv():
    rows = _order_rows("u-1", customer="'" + HOSTILE, customer_id="7")
    parsed = parse_offline_csv(_csv(rows))
    assert parsed.orders[0]["customer"] == {"id": 7, "name": HOSTILE}
