"""The sandbox's CSV import page in Chromium: a file past the byte limit gets the refusal page
(413, naming the limit and the size) although the browser was still sending it, and a file
within the limits shows "n of N order(s) imported" and each order's line."""

from playwright.sync_api import expect

from pos_offline_sync.core.csv_schema import MAX_CSV_BYTES
from tests.csv_support import export, order_rows, pad, write


def _choose_and_import(page, url, path):
    page.goto(f"{url}/backoffice/import")
    page.set_input_files("#csv-file", str(path))
    with page.expect_navigation():
        page.click("#import")


def test_import_page_refuses_a_file_past_the_limit_and_imports_one_within(sandbox, page, tmp_path):
    big = tmp_path / "too-big.csv"
    big.write_bytes(pad(export(2), 4 * MAX_CSV_BYTES))  # 20 MB: refused on its Content-Length
    answers = []
    page.on("response", lambda r: answers.append(r.status) if r.request.method == "POST" else 0)
    _choose_and_import(page, sandbox.url, big)
    flash = page.locator(".flash.error")
    expect(flash).to_contain_text("The file is too large to import: the upload has 20,000,")
    expect(flash).to_contain_text("at most 5,000,000 bytes and 20,000 rows")
    assert answers == [413]

    just_past = tmp_path / "just-past.csv"
    just_past.write_bytes(pad(export(2), MAX_CSV_BYTES + 1))  # refused on the file's own size
    _choose_and_import(page, sandbox.url, just_past)
    expect(flash).to_contain_text("just-past.csv is too large to import: the file has 5,000,001")

    good = tmp_path / "day.csv"
    good.write_bytes(write(order_rows(1) + order_rows(2, qty="x") + order_rows(3), bom=True))
    _choose_and_import(page, sandbox.url, good)
    expect(page.locator("#import-progress")).to_have_text("2 of 2 order(s) imported")
    expect(page.locator("#import-results td.line")).to_have_text(["2", "6"])
    expect(page.locator("#import-errors li")).to_have_text(
        ["Line 4: quantity is not a number: 'x' (order Order 00001-00002 not imported)"]
    )
    assert answers == [413, 413, 200]
