"""The CSV import's bounds (issue 8): a file at the byte and row limits is read whole, one past
is refused naming the limit and the file's size; the parse streams (its memory is the orders
it returns, never a copy of the text); a bad line deep in a big file is named by its physical
line and the rest still parses; chunks commit, so a crash between two loses nothing and a
second import completes the rest, every order exactly once."""

import io
import tracemalloc
from pathlib import Path

import pytest

from pos_offline_sync.core.csv_schema import (
    IMPORT_CHUNK_ORDERS,
    MAX_CSV_BYTES,
    MAX_CSV_ROWS,
    CsvFileError,
    CsvTooLargeError,
    check_csv_size,
    count_import,
    import_in_chunks,
    open_csv,
    parse_offline_csv,
)
from pos_offline_sync.core.sync_service import sync_batch
from sandbox import db
from sandbox.orders import SqliteOrderSink
from tests import csv_support
from tests.csv_support import export, order_rows, order_uuid, write

ROOT = Path(__file__).resolve().parents[2]
AT_LIMIT_ORDERS = MAX_CSV_ROWS // 2  # two rows an order


def parse_bytes(data: bytes, **limits):
    return parse_offline_csv(open_csv(io.BytesIO(data)), **limits)


@pytest.fixture(scope="module")
def at_limit() -> bytes:
    """A file exactly at both limits: 20,000 rows, 5,000,000 bytes."""
    return export(AT_LIMIT_ORDERS, size=MAX_CSV_BYTES)


# -- the limits -------------------------------------------------------------------------------


def test_limits_are_the_documented_ones():
    assert (MAX_CSV_BYTES, MAX_CSV_ROWS, IMPORT_CHUNK_ORDERS) == (5_000_000, 20_000, 100)
    for doc in ("README.md", "docs/CONTRACTS.md"):
        text = (ROOT / doc).read_text()
        assert "5,000,000 bytes" in text and "20,000 rows" in text, doc
        assert "100 orders" in text, doc


def test_size_check_at_and_one_past_the_byte_limit():
    check_csv_size(MAX_CSV_BYTES)  # exactly at: accepted
    with pytest.raises(CsvTooLargeError) as refused:
        check_csv_size(MAX_CSV_BYTES + 1)
    error = refused.value
    assert (error.status, error.what, error.size, error.limit) == (
        413,
        "bytes",
        5_000_001,
        5_000_000,
    )
    assert "the file has 5,000,001 bytes" in error.reason
    assert "at most 5,000,000 bytes and 20,000 rows" in error.reason


def test_file_exactly_at_both_limits_is_read_whole(at_limit):
    assert len(at_limit) == MAX_CSV_BYTES
    check_csv_size(len(at_limit))
    parsed = parse_bytes(at_limit)
    assert parsed.errors == []
    assert len(parsed.orders) == AT_LIMIT_ORDERS
    last = parsed.orders[-1]
    assert last["uuid"] == order_uuid(AT_LIMIT_ORDERS)
    assert parsed.line_of[last["uuid"]] == MAX_CSV_ROWS  # its line row; the payment is 20,001
    assert last["lines"][0]["product_name"].startswith(csv_support.NAME)


def test_one_row_past_the_row_limit_is_refused_naming_both():
    rows = []
    for i in range(1, AT_LIMIT_ORDERS + 1):
        rows += order_rows(i)
    rows.append(order_rows(AT_LIMIT_ORDERS + 1)[0])  # row 20,001
    data = write(rows)
    assert len(data) < MAX_CSV_BYTES  # the rows are the limit here, not the bytes
    with pytest.raises(CsvTooLargeError) as refused:
        parse_bytes(data)
    error = refused.value
    assert (error.status, error.what, error.size, error.limit) == (413, "rows", 20_001, 20_000)
    assert "the file has 20,001 rows" in error.reason and "20,000 rows" in error.reason
    # and one row fewer is accepted
    assert len(parse_bytes(write(rows[:-1])).orders) == AT_LIMIT_ORDERS


def test_rows_count_data_rows_not_blank_lines_and_name_the_files_total():
    rows = order_rows(1) + order_rows(2)  # 4 data rows
    data = write(rows).replace(b"\r\n", b"\r\n\r\n")  # a blank line after each
    assert len(parse_bytes(data, max_rows=4).orders) == 2
    with pytest.raises(CsvTooLargeError) as refused:
        parse_bytes(write(rows + order_rows(3) + order_rows(4)), max_rows=4)
    assert refused.value.size == 8  # counted to the end: the file's own size in rows
    assert "the file has 8 rows; an import takes at most 5,000,000 bytes and 4 rows" in str(
        refused.value
    )


def test_a_stream_past_the_byte_limit_is_refused_while_it_is_read():
    read = []

    def lines():
        yield write([])[:-2].decode() + "\r\n"  # the header
        for i in range(1, 10_000_000):
            for row in order_rows(i):
                line = ",".join(row) + "\r\n"
                read.append(len(line))
                yield line

    with pytest.raises(CsvTooLargeError) as refused:
        parse_offline_csv(lines(), max_chars=100_000)
    assert refused.value.what == "bytes" and refused.value.size is None
    assert "more than 100,000 bytes" in refused.value.reason
    assert sum(read) < 100_000 + 1_000  # stopped at the limit, not at the end
    with pytest.raises(CsvTooLargeError):
        parse_offline_csv("x" * (MAX_CSV_BYTES + 1))


# -- streaming and memory ---------------------------------------------------------------------


def test_parse_at_the_limit_stays_in_bounded_memory(at_limit):
    """The parse holds no copy of the text (the old parser's StringIO held it again, 18 MB
    above its result here): its peak is the orders it returns plus a little."""
    stream = io.BytesIO(at_limit)
    tracemalloc.start()
    try:
        parsed = parse_offline_csv(open_csv(stream))
        retained, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(parsed.orders) == AT_LIMIT_ORDERS
    assert peak - retained < 2_000_000, (peak, retained)  # no second copy of the 5 MB
    assert peak < 6 * MAX_CSV_BYTES, peak


def test_bom_or_not_the_same_orders_and_lines():
    rows = order_rows(1) + order_rows(2, qty="two") + order_rows(3)
    plain, bommed = parse_bytes(write(rows)), parse_bytes(write(rows, bom=True))
    assert bommed.orders == plain.orders and len(plain.orders) == 2
    assert bommed.line_of == plain.line_of == {order_uuid(1): 2, order_uuid(3): 6}
    assert [e.line for e in bommed.errors] == [e.line for e in plain.errors] == [4]
    # the text itself, BOM and all
    assert parse_offline_csv("\ufeff" + write(rows).decode()).orders == plain.orders
    # a BOM alone is an empty file
    assert [e.reason for e in parse_bytes(b"\xef\xbb\xbf").errors] == ["the file is empty"]


def test_multiline_cells_are_counted_as_their_physical_lines():
    rows = order_rows(1, name="two\r\nlines")  # CRLF inside the quoted cell: lines 2-3
    rows += order_rows(2, name="three\nlines\nhere")  # LF: lines 5-7 (payment on 8)
    rows += order_rows(3, name="old\rmac")  # a lone CR is a line end too: lines 9-10
    rows += order_rows(4, qty="lots")  # its line row is line 12
    rows += order_rows(5)  # line 14
    for parsed in (parse_bytes(write(rows)), parse_offline_csv(write(rows).decode())):
        assert [o["lines"][0]["product_name"] for o in parsed.orders] == [
            "two\r\nlines",
            "three\nlines\nhere",
            "old\rmac",
            csv_support.NAME,
        ]
        assert list(parsed.line_of.values()) == [2, 5, 9, 14]
        assert [e.line for e in parsed.errors] == [12]
        assert "quantity is not a number: 'lots'" in parsed.errors[0].reason


def test_a_bad_line_deep_in_a_big_file_is_named_and_the_rest_imported(tmp_path):
    rows = []
    for i in range(1, 5_001):
        name = "a name\non two lines" if i == 100 else csv_support.NAME
        rows += order_rows(i, name=name, qty="2,5" if i == 3_000 else "2")
    parsed = parse_bytes(write(rows))
    # order i starts on line 2i (header 1), one line later past order 100's two-line cell
    assert [(e.line, e.reason) for e in parsed.errors] == [
        (6_001, "quantity is not a number: '2,5' (order Order 00001-03000 not imported)")
    ]
    assert len(parsed.orders) == 4_999
    assert parsed.line_of[order_uuid(100)] == 200 and parsed.line_of[order_uuid(101)] == 203
    conn = _db(tmp_path)
    results = import_in_chunks(parsed.orders, 1, _store(conn))
    counts = count_import(parsed, results)
    assert (counts.done, counts.total, counts.created, counts.problems) == (4_999, 4_999, 4_999, 1)
    assert _count(conn) == 4_999 and not _stored(conn, order_uuid(3_000))


def test_a_byte_that_is_no_utf8_is_named_by_its_line():
    rows = []
    for i in range(1, 4_001):
        rows += order_rows(i)
    data = bytearray(write(rows))
    lines = data.split(b"\r\n")
    lines[6_999] = lines[6_999].replace(b"Desk", b"D\xffsk")  # line 7,000, far past one buffer
    with pytest.raises(CsvFileError) as refused:
        parse_bytes(b"\r\n".join(lines))
    assert refused.value.status == 400
    assert refused.value.reason.startswith("line 7000: the file is not UTF-8 text")


def test_a_quote_left_open_refuses_the_file_naming_its_line():
    rows = []
    for i in range(1, 1_001):
        rows += order_rows(i, name='Desk "Organizer", large' if i % 10 == 0 else "Pad")
    text = write(rows).decode()
    lines = text.split("\r\n")
    assert lines[501].count('"') == 0 and ",Pad," in lines[501]
    lines[501] = lines[501].replace(",Pad,", ',"Pad,', 1)  # line 502 opens a quote
    with pytest.raises(CsvFileError) as refused:
        parse_offline_csv("\r\n".join(lines))
    assert refused.value.reason.startswith("line 502: the record starting there is not valid CSV")
    # at the very end, with no quote after it, too
    with pytest.raises(CsvFileError, match=r"^line 2002: .*unexpected end of data"):
        parse_offline_csv(text + 'line,"open')


# -- chunks that commit -----------------------------------------------------------------------


def _db(tmp_path):
    path = tmp_path / "csv.sqlite3"
    db.init_db(path)
    return db.connect(path)


def _store(conn, calls=None):
    sink = SqliteOrderSink(None, conn, 1, origin="csv")

    def store_chunk(payload):
        if calls is not None:
            calls.append(len(payload["orders"]))
        return sync_batch(payload, sink)["results"]

    return store_chunk


def _count(conn, sql="SELECT count(*) FROM orders"):
    return conn.execute(sql).fetchone()[0]


def _stored(conn, uuid):
    return conn.execute("SELECT 1 FROM orders WHERE uuid = ?", (uuid,)).fetchone() is not None


def _exactly_once(conn, n):
    assert _count(conn) == n == _count(conn, "SELECT count(DISTINCT uuid) FROM orders")
    # no order half stored, none with its children twice
    assert _count(conn, "SELECT count(*) FROM order_lines") == n
    assert _count(conn, "SELECT count(*) FROM order_payments") == n


class Crash(Exception):
    pass


def test_crash_between_chunks_then_import_again_stores_every_order_once(tmp_path):
    parsed = parse_bytes(export(250))
    conn = _db(tmp_path)
    progress, calls = [], []

    def crash_after_second(done, total):
        progress.append((done, total))
        if len(progress) == 2:
            raise Crash()

    with pytest.raises(Crash):
        import_in_chunks(parsed.orders, 1, _store(conn, calls), on_chunk=crash_after_second)
    assert calls == [100, 100] and progress == [(100, 250), (200, 250)]
    _exactly_once(conn, 200)  # the two committed chunks, whole
    assert _stored(conn, order_uuid(200)) and not _stored(conn, order_uuid(201))

    calls.clear()
    results = import_in_chunks(parsed.orders, 1, _store(conn, calls))
    assert calls == [100, 100, 50]
    assert [r["status"] for r in results] == ["exists"] * 200 + ["created"] * 50
    _exactly_once(conn, 250)
    again = import_in_chunks(parsed.orders, 1, _store(conn))
    assert {r["status"] for r in again} == {"exists"}
    _exactly_once(conn, 250)


def test_stop_ends_the_import_between_chunks_and_a_second_run_completes(tmp_path):
    """A request whose time is up: `stop()` is asked before every chunk but the first."""
    parsed = parse_bytes(export(250))
    conn = _db(tmp_path)
    asked, calls = [], []

    def time_is_up():
        asked.append(len(calls))
        return len(calls) == 2

    results = import_in_chunks(parsed.orders, 1, _store(conn, calls), stop=time_is_up)
    assert asked == [1, 2] and calls == [100, 100] and len(results) == 200
    counts = count_import(parsed, results + [None] * 50)
    assert (counts.done, counts.total, counts.left, counts.problems) == (200, 250, 50, 0)
    _exactly_once(conn, 200)
    results = import_in_chunks(parsed.orders, 1, _store(conn), stop=lambda: False)
    counts = count_import(parsed, results)
    assert (counts.created, counts.exists, counts.left) == (50, 200, 0)
    _exactly_once(conn, 250)
