"""CSV export: the checked sales orders only, never returns, formula-like text neutralised, and
the file parses with Python's csv module into the documented columns."""

import csv
import io
import re
import sqlite3

from e2e_pos import (
    ROOT,
    check_rows,
    csv_columns,
    go_offline,
    open_register,
    open_sync_dialog,
    pos_data,
    sell,
    set_settings,
)
from playwright.sync_api import expect

EVIL = '=HYPERLINK("http://x","y")'


def test_csv_export_checked_sales_only_neutralised(sandbox, page, tmp_path):
    set_settings(page, sandbox.url, offline=True)
    cash = next(m for m in pos_data(page, sandbox.url)["payment_methods"] if m["is_cash"])
    open_register(page, sandbox.url)
    go_offline(page)
    sale = sell(page, [0, 0, 1], customer=EVIL, expect_status="offline")
    refund = sell(page, [2], refund=True, customer="Returning Rita", expect_status="offline")
    unchecked = sell(page, [3], customer="Not Checked", expect_status="offline")

    dialog = open_sync_dialog(page)
    check_rows(page, [sale, refund])
    note = dialog.locator("[data-test=csv-note]")
    expect(note).to_contain_text("returns are left out")
    expect(note).to_contain_text("1 checked return will be skipped")

    with page.expect_download() as download_info:
        dialog.locator("[data-test=csv-export]").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    path = tmp_path / "export.csv"
    download.save_as(path)
    expect(dialog.locator("[data-test=csv-message]")).to_have_text(
        "CSV exported: 1 sales order. 1 return left out."
    )

    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))
    header, body = rows[0], rows[1:]
    assert header == csv_columns()
    records = [dict(zip(header, r, strict=True)) for r in body]
    assert {r["order_uuid"] for r in records} == {sale}
    assert refund not in path.read_text() and unchecked not in path.read_text()
    assert [r["record_type"] for r in records] == ["line", "line", "payment"]
    assert all(r["customer"] == "'" + EVIL for r in records)
    lines = [r for r in records if r["record_type"] == "line"]
    assert [float(r["quantity"]) for r in lines] == [2.0, 1.0]
    payment = next(r for r in records if r["record_type"] == "payment")
    assert payment["payment_method"] == cash["name"]
    assert payment["card_brand"] == "" and payment["card_last4"] == ""
    total = sum(float(r["line_total"]) for r in lines)
    assert abs(float(payment["payment_amount"]) - total) < 0.005

    assert header == readme_csv_columns()


def readme_csv_columns() -> list[str]:
    """The columns the README's "CSV columns" table documents, in order."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## CSV columns", 1)[1].split("\n## ", 1)[0]
    columns = []
    for line in section.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            columns += re.findall(r"`([a-z0-9_]+)`", first_cell)
    return columns


CUSTOMER = "Zoë Ünal — مريم الحسيني 👩🏽‍💻"
PRODUCT = "Café crème ☕ «Spécial» 東京"
CASHIER = "Ngozi Ọkọnkwọ"


def test_csv_with_bom_and_non_ascii_names_reimports_byte_exact(sandbox, page, tmp_path):
    # Names no code page holds whole, written straight into the sandbox's real SQLite file.
    with sqlite3.connect(sandbox.db_path) as conn:
        conn.execute(
            "UPDATE products SET name = ? WHERE id = (SELECT min(id) FROM products)", (PRODUCT,)
        )
        conn.execute(
            "UPDATE cashiers SET name = ? WHERE id = (SELECT min(id) FROM cashiers)", (CASHIER,)
        )
    set_settings(page, sandbox.url, offline=True)
    open_register(page, sandbox.url)
    go_offline(page)
    uuid = sell(page, [0, 0], customer=CUSTOMER, expect_status="offline")

    dialog = open_sync_dialog(page)
    check_rows(page, [uuid])
    with page.expect_download() as download_info:
        dialog.locator("[data-test=csv-export]").click()
    path = tmp_path / "export.csv"
    download_info.value.save_as(path)
    data = path.read_bytes()
    # Excel reads a CSV as UTF-8 only with the byte order mark.
    assert data.startswith(b"\xef\xbb\xbf")
    assert not data[3:].startswith(b"\xef\xbb\xbf")
    for name in (CUSTOMER, PRODUCT, CASHIER):
        assert name.encode("utf-8") in data

    # Imported through the back office, the names arrive byte for byte.
    importer = page.context.new_page()
    importer.goto(f"{sandbox.url}/backoffice/import")
    importer.set_input_files("#csv-file", str(path))
    importer.locator("#import").click()
    expect(importer.locator(f'#import-results tr[data-uuid="{uuid}"]')).to_have_attribute(
        "data-status", "created"
    )
    with sqlite3.connect(sandbox.db_path) as conn:
        customer, cashier, order_id = conn.execute(
            "SELECT customer, cashier, id FROM orders WHERE uuid = ?", (uuid,)
        ).fetchone()
        products = [
            r[0]
            for r in conn.execute(
                "SELECT product_name FROM order_lines WHERE order_id = ?", (order_id,)
            )
        ]
    assert customer.encode("utf-8") == CUSTOMER.encode("utf-8")
    assert cashier.encode("utf-8") == CASHIER.encode("utf-8")
    assert [p.encode("utf-8") for p in products] == [PRODUCT.encode("utf-8")]

    # The same file without its BOM is read the same: nothing twice.
    plain = tmp_path / "export-no-bom.csv"
    plain.write_bytes(data[3:])
    importer.goto(f"{sandbox.url}/backoffice/import")
    importer.set_input_files("#csv-file", str(plain))
    importer.locator("#import").click()
    expect(importer.locator(f'#import-results tr[data-uuid="{uuid}"]')).to_have_attribute(
        "data-status", "exists"
    )
    importer.close()
