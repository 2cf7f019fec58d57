"""The sandbox's CSV import page at its bounds (issue 8): at the byte and row limits a file is
imported, one past is refused with a 413 naming the limit and the file's size (nothing read
into orders, nothing stored); a crash between two chunks keeps the chunks before it and a
second upload completes the rest, every order once; the page tells "n of N imported"."""

import io
import re
import sqlite3

from pos_offline_sync.core.csv_schema import MAX_CSV_BYTES, MAX_CSV_ROWS
from sandbox import hooks
from tests.csv_support import export, order_rows, order_uuid, pad, write


def _upload(client, data: bytes, filename="orders.csv"):
    return client.post(
        "/backoffice/import",
        data={"file": (io.BytesIO(data), filename)},
        headers={"Origin": "http://localhost"},
        content_type="multipart/form-data",
    )


def _count(db_path, sql="SELECT count(*) FROM orders"):
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def _exactly_once(db_path, n):
    assert _count(db_path) == n == _count(db_path, "SELECT count(DISTINCT uuid) FROM orders")
    assert _count(db_path, "SELECT count(*) FROM order_lines") == n
    assert _count(db_path, "SELECT count(*) FROM order_payments") == n


def _progress(html):
    found = re.search(r'<p id="import-progress" data-done="(\d+)" data-total="(\d+)">', html)
    return found and (int(found.group(1)), int(found.group(2)))


def test_upload_at_the_byte_limit_is_imported_one_byte_past_is_refused(client, db_path):
    at_limit = pad(export(3), MAX_CSV_BYTES)
    assert len(at_limit) == MAX_CSV_BYTES
    response = _upload(client, at_limit)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "3 of 3 order(s) imported (3 new, 0 already in the back office)" in html
    _exactly_once(db_path, 3)

    past = pad(export(3, first=10), MAX_CSV_BYTES + 1)
    response = _upload(client, past, "big.csv")
    html = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "The file big.csv is too large to import: the file has 5,000,001 bytes" in html
    assert "at most 5,000,000 bytes and 20,000 rows" in html
    _exactly_once(db_path, 3)  # nothing of it stored


def test_upload_far_past_the_limit_is_refused_without_being_read(client, db_path):
    """The file the issue measured: 50 million characters, 425,608 orders, 21 s to parse."""
    body = write(order_rows(1))
    huge = body + body[body.index(b"\r\n") + 2 :] * (50_000_000 // len(body))
    response = _upload(client, huge)
    html = response.get_data(as_text=True)
    assert response.status_code == 413
    size = int(re.search(r"the upload has ([\d,]+) bytes", html).group(1).replace(",", ""))
    assert len(huge) < size < len(huge) + 1_000  # the file and its form's few headers
    assert "at most 5,000,000 bytes and 20,000 rows" in html
    assert _count(db_path) == 0


def test_upload_at_the_row_limit_is_imported_one_row_past_is_refused(client, db_path):
    rows = []
    for i in range(1, MAX_CSV_ROWS // 2 + 1):
        rows += order_rows(i)
    past = write(rows + order_rows(MAX_CSV_ROWS)[:1])
    response = _upload(client, past)
    html = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "the file has 20,001 rows; an import takes at most 5,000,000 bytes and 20,000 rows" in (
        html
    )
    assert _count(db_path) == 0

    html = _upload(client, write(rows)).get_data(as_text=True)
    assert "10000 of 10000 order(s) imported (10000 new" in html
    _exactly_once(db_path, 10_000)


def test_bom_or_not_the_same_import(client, db_path):
    html = _upload(client, export(2, bom=True)).get_data(as_text=True)
    assert "2 of 2 order(s) imported (2 new" in html
    html = _upload(client, export(2)).get_data(as_text=True)
    assert "2 of 2 order(s) imported (0 new, 2 already in the back office)" in html
    _exactly_once(db_path, 2)


def test_page_names_each_orders_line_and_the_bad_ones(client, db_path):
    rows = order_rows(1, name="two\nlines") + order_rows(2, qty="x") + order_rows(3)
    html = _upload(client, write(rows)).get_data(as_text=True)
    assert _progress(html) == (2, 2)
    created = r'<tr data-uuid="([^"]+)" data-status="created"><td class="line">(\d+)'
    lines = re.findall(created, html)
    assert lines == [(order_uuid(1), "2"), (order_uuid(3), "7")]
    assert '<li data-line="5">Line 5: quantity is not a number' in html


def test_broken_file_is_refused_with_its_line_and_nothing_stored(client, db_path):
    text = export(50).decode().split("\r\n")
    assert ",Zoë's" in text[41]
    text[41] = text[41].replace(",Zoë's", ",\"Zoë's", 1)  # line 42 opens a quote
    response = _upload(client, "\r\n".join(text).encode())
    assert response.status_code == 400
    assert "refused, nothing imported: line 42: the record starting there is not valid CSV" in (
        response.get_data(as_text=True)
    )
    assert _count(db_path) == 0


def test_crash_between_chunks_then_upload_again_imports_every_order_once(
    client, db_path, monkeypatch
):
    data = export(1_000)
    seen = []

    def crash_after_third(ctx, done, total):
        seen.append((done, total))
        if len(seen) == 3:
            raise RuntimeError("the process died here")

    monkeypatch.setattr(hooks, "IMPORT_CHUNK_DONE", [crash_after_third])
    response = _upload(client, data)
    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "The import stopped after 300 of 1000 order(s), which are saved." in html
    assert "Import the same file again" in html
    assert seen == [(100, 1000), (200, 1000), (300, 1000)]
    _exactly_once(db_path, 300)

    monkeypatch.setattr(hooks, "IMPORT_CHUNK_DONE", [])
    html = _upload(client, data).get_data(as_text=True)
    assert "1000 of 1000 order(s) imported (700 new, 300 already in the back office)" in html
    assert _progress(html) == (1000, 1000)
    _exactly_once(db_path, 1_000)
