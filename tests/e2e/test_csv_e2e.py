"""CSV export: the checked sales orders only, never returns, formula-like text neutralised, and
the file parses with Python's csv module into the documented columns."""

import csv
import io
import re

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
