"""The CSV of offline orders (docs/CONTRACTS.md §5): column schema and back-office parser.

The column list is defined once, in `static/src/core/csv_schema.js` (the browser exports with
it); this module reads it from there so the two can never drift apart. The parser turns a CSV
the register exported back into plain orders (CONTRACTS §1) and reports each bad row with its
line number; an order with any bad row is left out whole, never half-imported.

Bounded: a file is at most `MAX_CSV_BYTES` and `MAX_CSV_ROWS` (hosts check the size before
reading; the parser counts the rows). The parser reads a stream of lines, so the text is never
held whole, and the hosts store the orders `IMPORT_CHUNK_ORDERS` at a time, each chunk
committed: a crash loses at most the chunk in flight, and importing again completes the rest.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .order_schema import OrderValidationError, validate_order
from .sync_service import DEFERRED

JS_SCHEMA = Path(__file__).resolve().parent.parent / "static" / "src" / "core" / "csv_schema.js"

# Same set as csv_export.js: a leading quote is escaped too, so stripping one is lossless.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")

# One file is at most a register's busy day, several times over: 1,000 sales of 5 lines are
# 6,000 rows, about 1 MB as the register exports them (~165 bytes a row; 20,000 such rows are
# 3.3 MB, and the bytes leave room for long names). Past either limit a file is refused whole,
# before any order is stored: the register exports fewer orders per file.
MAX_CSV_BYTES = 5_000_000
MAX_CSV_ROWS = 20_000  # data rows (order lines and payments), the header and blank lines aside
# Orders stored per committed chunk: a crash loses at most this much work (all of it safe to
# import again), and no write transaction runs longer than one chunk.
IMPORT_CHUNK_ORDERS = 100


def _js_array(text: str, name: str) -> list[str]:
    match = re.search(rf"export\s+const\s+{name}\s*=\s*(\[.*?\])\s*;", text, re.S)
    if not match:
        raise RuntimeError(f"{name} not found in {JS_SCHEMA}")
    # A trailing comma is fine in JS but not in JSON.
    return json.loads(re.sub(r",\s*\]$", "]", match.group(1)))


def _load_columns() -> tuple[list[str], list[str]]:
    text = JS_SCHEMA.read_text(encoding="utf-8")
    try:
        body = text.split("// BEGIN CSV_COLUMNS", 1)[1].split("// END CSV_COLUMNS", 1)[0]
    except IndexError:
        raise RuntimeError(f"CSV_COLUMNS markers not found in {JS_SCHEMA}") from None
    return _js_array(body, "CSV_COLUMNS"), _js_array(text, "CSV_TEXT_COLUMNS")


CSV_COLUMNS, CSV_TEXT_COLUMNS = _load_columns()


def neutralise_cell(value):
    """A text cell a spreadsheet would run as a formula gets a leading quote (OWASP)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def unneutralise_cell(value: str) -> str:
    """Undoes `neutralise_cell`: one leading quote before a formula character is dropped."""
    if len(value) >= 2 and value[0] == "'" and value[1] in FORMULA_START:
        return value[1:]
    return value


@dataclass(frozen=True)
class CsvLineError:
    line: int
    reason: str


@dataclass
class ParsedCsv:
    orders: list[dict] = field(default_factory=list)
    errors: list[CsvLineError] = field(default_factory=list)
    # order uuid -> the file line its first row starts on (the header is line 1)
    line_of: dict[str, int] = field(default_factory=dict)


class CsvFileError(ValueError):
    """The file as a whole is refused, nothing of it imported: the host answers 400."""

    status = 400

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class CsvTooLargeError(CsvFileError):
    """The file is past a limit (`what` is "bytes" or "rows"): the host answers 413.

    `size` is the file's own count (None when only "more than `limit`" is known)."""

    status = 413

    def __init__(self, what: str, size: int | None, limit: int, *, subject: str = "the file"):
        self.what, self.size, self.limit = what, size, limit
        told = f"{size:,} {what}" if size is not None else f"more than {limit:,} {what}"
        limits = {"bytes": MAX_CSV_BYTES, "rows": MAX_CSV_ROWS, what: limit}
        super().__init__(
            f"{subject} has {told}; an import takes at most {limits['bytes']:,} bytes and "
            f"{limits['rows']:,} rows: export fewer orders per file"
        )


def check_csv_size(size_bytes: int, limit: int = MAX_CSV_BYTES) -> None:
    """Raises `CsvTooLargeError` for a file of more than `limit` bytes; hosts call it with the
    upload's size before reading any of it."""
    if size_bytes > limit:
        raise CsvTooLargeError("bytes", size_bytes, limit)


class _RowError(ValueError):
    pass


def _num(row: dict, column: str, *, required=True):
    text = row[column].strip()
    if text == "":
        if required:
            raise _RowError(f"{column} is empty")
        return None
    try:
        value = float(text)
    except ValueError:
        raise _RowError(f"{column} is not a number: {text[:30]!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise _RowError(f"{column} is not a finite number")
    return value


def _int(row: dict, column: str, *, required=True):
    value = _num(row, column, required=required)
    if value is None:
        return None
    if not value.is_integer() or value <= 0:
        raise _RowError(f"{column} is not a record id: {row[column].strip()[:30]!r}")
    return int(value)


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n|\Z)")
# What `open_csv` decodes a byte that is no UTF-8 into (errors="surrogateescape"): it names the
# line of the bad byte exactly, where a strict decoder fails a whole buffer ahead.
_UNDECODABLE = re.compile("[\udc80-\udcff]")


def _str_lines(text: str) -> Iterator[str]:
    """The physical lines of `text`, line ends kept (as a text stream opened with newline=""
    splits them), without copying the text whole."""
    for match in _LINE.finditer(text):
        if match.group():
            yield match.group()


def _bounded_lines(source, max_chars: int) -> Iterator[str]:
    """The lines of `source` with the BOM dropped; raises `CsvTooLargeError` past `max_chars`
    (a UTF-8 file within the byte limit is always within it: a character is 1 byte or more)."""
    lines = _str_lines(source) if isinstance(source, str) else iter(source)
    chars = 0
    for number, line in enumerate(lines):
        if not isinstance(line, str):
            raise CsvFileError("the file is not text")
        if number == 0:
            line = line.removeprefix("\ufeff")
        if _UNDECODABLE.search(line):
            raise CsvFileError(
                f"line {number + 1}: the file is not UTF-8 text: export it again from the register"
            )
        chars += len(line)
        if chars > max_chars:
            raise CsvTooLargeError("bytes", None, max_chars)
        yield line


def _next(reader, start: int):
    """The next record, or None at the end; a file that is no CSV (or no UTF-8) is refused
    whole: reading on after a broken quote would misplace every later row."""
    try:
        return next(reader)
    except StopIteration:
        return None
    except csv.Error as exc:
        raise CsvFileError(
            f"line {start}: the record starting there is not valid CSV ({exc}); a quote left open?"
        ) from None
    except UnicodeDecodeError:
        raise CsvFileError(
            f"line {start}: the file is not UTF-8 text: export it again from the register"
        ) from None


def _count_rest(reader, start: int, rows: int) -> int | None:
    """The file's data rows, counted to its end (bounded by the byte limit) so that a refusal
    names the file's size; None when the rest is no CSV."""
    try:
        while (cells := _next(reader, start)) is not None:
            start = reader.line_num + 1
            rows += any(cell.strip() for cell in cells)
    except CsvFileError:
        return None
    return rows


def _read_rows(lines: Iterable[str], parsed: ParsedCsv, max_rows: int):
    """Yields (line number where the record starts, {column: unneutralised cell}, problem)."""
    # strict: a quote left open up to the end of the file is an error, not one huge last cell
    reader = csv.reader(lines, strict=True)
    header = _next(reader, 1)
    if header is None:
        parsed.errors.append(CsvLineError(1, "the file is empty"))
        return
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        parsed.errors.append(CsvLineError(1, "the header lacks the columns: " + ", ".join(missing)))
        return
    index = {name: header.index(name) for name in CSV_COLUMNS}
    start = reader.line_num + 1
    rows = 0
    while (cells := _next(reader, start)) is not None:
        line, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue
        rows += 1
        if rows > max_rows:
            raise CsvTooLargeError("rows", _count_rest(reader, start, rows), max_rows)
        if len(cells) != len(header):
            yield line, None, f"has {len(cells)} cells, the header has {len(header)}"
            continue
        yield line, {n: unneutralise_cell(cells[i]) for n, i in index.items()}, None


def _order_head(row: dict) -> dict:
    customer_id = _int(row, "customer_id", required=False)
    name = row["customer"]
    return {
        "v": 1,
        "uuid": row["order_uuid"],
        "reference": row["order_reference"] or None,
        "created_at": row["created_at"],
        "cashier": {"id": None, "name": row["cashier"]} if row["cashier"] else None,
        "customer": {"id": customer_id, "name": name} if (name or customer_id) else None,
        "currency": row["currency"] or None,
        "lines": [],
        "payments": [],
        "amount_total": _num(row, "order_total"),
    }


def _line(row: dict) -> dict:
    return {
        "product_id": _int(row, "product_id"),
        "product_name": row["product_name"] or None,
        "qty": _num(row, "quantity"),
        "price_unit": _num(row, "unit_price"),
        "discount": _num(row, "discount_percent", required=False) or 0.0,
        "price_subtotal_incl": _num(row, "line_total", required=False),
    }


def _payment(row: dict) -> dict:
    card = None
    status = row["card_status"].strip()
    if status or row["card_last4"].strip():
        # Only brand, last 4 and status travel in a CSV: never an envelope. A card without a
        # recorded success is imported as unpaid (the hosts check their ledger, not this).
        card = {
            "brand": row["card_brand"] or None,
            "last4": row["card_last4"].strip() or None,
            "status": status or "unprocessed",
            "envelope": None,
        }
    return {
        "uuid": row["payment_uuid"] or None,
        "payment_method_id": _int(row, "payment_method_id"),
        "payment_method_name": row["payment_method"] or None,
        "amount": _num(row, "payment_amount"),
        "card": card,
    }


def parse_offline_csv(
    source: str | Iterable[str], *, max_rows: int = MAX_CSV_ROWS, max_chars: int = MAX_CSV_BYTES
) -> ParsedCsv:
    """Parses the register's CSV export into plain orders plus line-numbered errors.

    `source` is the text, or better its lines as they are read: a text stream opened with
    `newline=""` (see `open_csv`), so the file is never held whole. Line numbers are 1-based
    physical lines of the file (the header is line 1); a record whose quoted cell spans several
    lines is named by its first line. Raises `CsvTooLargeError` past `max_rows` data rows or
    `max_chars` characters and `CsvFileError` for a file that is not UTF-8 CSV text; then
    nothing of it may be imported."""
    parsed = ParsedCsv()
    if isinstance(source, (bytes, bytearray, memoryview)):
        parsed.errors.append(CsvLineError(1, "the file is not text"))
        return parsed
    if isinstance(source, str) and len(source) > max_chars:
        raise CsvTooLargeError("bytes", None, max_chars)
    orders: dict[str, dict] = {}
    first_line: dict[str, int] = {}
    bad: dict[str, str] = {}
    orphans: dict[str, int] = {}  # reference -> line of a row without order_uuid
    for line, row, problem in _read_rows(_bounded_lines(source, max_chars), parsed, max_rows):
        if problem:
            parsed.errors.append(CsvLineError(line, problem))
            continue
        uuid = row["order_uuid"].strip()
        if not uuid:
            parsed.errors.append(CsvLineError(line, "order_uuid is empty"))
            # The row most likely belongs to the order of the same reference: keep that order
            # out too rather than import it without this line or payment.
            if row["order_reference"]:
                orphans.setdefault(row["order_reference"], line)
            continue
        row["order_uuid"] = uuid
        label = row["order_reference"] or uuid
        try:
            head = _order_head(row)
            order = orders.get(uuid)
            if order is None:
                order = orders[uuid] = head
                first_line[uuid] = line
            elif any(order[k] != head[k] for k in ("reference", "created_at", "amount_total")):
                raise _RowError(f"its order columns differ from line {first_line[uuid]}")
            kind = row["record_type"].strip()
            if kind == "line":
                order["lines"].append(_line(row))
            elif kind == "payment":
                order["payments"].append(_payment(row))
            else:
                raise _RowError(f"record_type must be line or payment, not {kind[:20]!r}")
        except _RowError as exc:
            bad.setdefault(uuid, label)
            first_line.setdefault(uuid, line)
            parsed.errors.append(CsvLineError(line, f"{exc} (order {label} not imported)"))
    for uuid in list(orders):
        order = orders.pop(uuid)  # the raw order goes as its validated copy comes
        if uuid in bad:
            continue
        if order["reference"] in orphans:
            parsed.errors.append(
                CsvLineError(
                    first_line[uuid],
                    f"order {order['reference']}: line {orphans[order['reference']]} of it has "
                    "no order_uuid; not imported",
                )
            )
            continue
        order["amount_paid"] = sum(p["amount"] for p in order["payments"])
        order["is_return"] = order["amount_total"] < 0
        try:
            if order["is_return"]:
                raise OrderValidationError("it is a return: returns are not imported from CSV")
            parsed.orders.append(validate_order(order))
            parsed.line_of[uuid] = first_line[uuid]
        except OrderValidationError as exc:
            label = order["reference"] or uuid
            parsed.errors.append(
                CsvLineError(first_line[uuid], f"order {label}: {exc.reason}; not imported")
            )
    parsed.errors.sort(key=lambda e: e.line)
    return parsed


def open_csv(binary) -> io.TextIOWrapper:
    """A binary file as the parser reads it: UTF-8 with or without BOM, line ends untouched
    (RFC 4180 quoting owns them), decoded a buffer at a time; the parser refuses, naming its
    line, a byte that is no UTF-8."""
    return io.TextIOWrapper(binary, encoding="utf-8-sig", errors="surrogateescape", newline="")


def import_in_chunks(
    orders: list[dict],
    config_id: int,
    store_chunk: Callable[[dict], list[dict]],
    *,
    chunk_size: int = IMPORT_CHUNK_ORDERS,
    on_chunk: Callable[[int, int], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> list[dict]:
    """Stores a parse's orders through `store_chunk(payload) -> results` (a `sync_batch`
    payload of at most `chunk_size` orders, committed when it returns), one result per order.

    `on_chunk(done, total)` runs after each committed chunk (progress). `stop()`, asked before
    each chunk but the first, ends the import early (a request's time is up): the results then
    cover the first orders only. Whatever stops the import between chunks, the chunks before
    are stored, and running it again stores the rest: the sinks are idempotent on the uuid.
    Orders a chunk answers `deferred` (the sync's time budget ran out) go first in the next
    chunk, as the register sends them again; a chunk that stores nothing at all ends the
    import like `stop()`."""
    results: list[dict | None] = [None] * len(orders)
    carried: list[int] = []  # deferred by the last chunk, in order
    following = 0  # the next order never sent yet
    done = 0
    while carried or following < len(orders):
        if (done or carried) and stop is not None and stop():
            break
        fresh = range(following, min(len(orders), following + chunk_size - len(carried)))
        following = fresh.stop
        chunk = carried + list(fresh)
        payload = {"v": 1, "config_id": config_id, "orders": [orders[i] for i in chunk]}
        carried = []
        for index, result in zip(chunk, store_chunk(payload), strict=True):
            if result.get("status") == DEFERRED:
                carried.append(index)
            else:
                results[index] = result
        stored = len(chunk) - len(carried)
        if not stored:
            break
        done += stored
        if on_chunk is not None:
            on_chunk(done, len(orders))
    reached = next((i for i, result in enumerate(results) if result is None), len(results))
    return results[:reached]


@dataclass(frozen=True)
class ImportCounts:
    """What an import page says: `done` of `total` orders are in the back office."""

    total: int
    created: int
    exists: int
    problems: int  # orders refused by the host plus the file's line errors
    left: int = 0  # not reached yet (an import stopped early)

    @property
    def done(self) -> int:
        return self.created + self.exists


def count_import(parsed: ParsedCsv, results: list) -> ImportCounts:
    """Counts for `results`, one per parsed order; None for an order not reached yet."""
    reached = [r for r in results if r is not None]
    ok = [r["status"] for r in reached if r["ok"]]
    return ImportCounts(
        total=len(parsed.orders),
        created=ok.count("created"),
        exists=ok.count("exists"),
        problems=len(reached) - len(ok) + len(parsed.errors),
        left=len(parsed.orders) - len(reached),
    )
