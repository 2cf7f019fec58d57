"""The CSV of offline orders (docs/CONTRACTS.md §5): column schema and back-office parser.

The column list is defined once, in `static/src/core/csv_schema.js` (the browser exports with
it); this module reads it from there so the two can never drift apart. The parser turns a CSV
the register exported back into plain orders (CONTRACTS §1) and reports each bad row with its
line number; an order with any bad row is left out whole, never half-imported.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .order_schema import OrderValidationError, validate_order

JS_SCHEMA = Path(__file__).resolve().parent.parent / "static" / "src" / "core" / "csv_schema.js"

# Same set as csv_export.js: a leading quote is escaped too, so stripping one is lossless.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")
MAX_CSV_CHARS = 50_000_000


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


def _read_rows(text: str, parsed: ParsedCsv):
    """Yields (line number where the record starts, {column: unneutralised cell})."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        parsed.errors.append(CsvLineError(1, "the file is empty"))
        return
    except csv.Error as exc:
        parsed.errors.append(CsvLineError(1, f"the header is not valid CSV: {exc}"))
        return
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        parsed.errors.append(CsvLineError(1, "the header lacks the columns: " + ", ".join(missing)))
        return
    index = {name: header.index(name) for name in CSV_COLUMNS}
    start = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            parsed.errors.append(CsvLineError(start, f"not valid CSV: {exc}"))
            return
        line, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue
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


def parse_offline_csv(text: str) -> ParsedCsv:
    """Parses the register's CSV export into plain orders plus line-numbered errors.

    Line numbers are 1-based lines of the file (the header is line 1); a record whose quoted
    cell spans several lines is named by its first line."""
    parsed = ParsedCsv()
    if not isinstance(text, str):
        parsed.errors.append(CsvLineError(1, "the file is not text"))
        return parsed
    if len(text) > MAX_CSV_CHARS:
        parsed.errors.append(CsvLineError(1, "the file is too large to import at once"))
        return parsed
    text = text.removeprefix("\ufeff")
    orders: dict[str, dict] = {}
    first_line: dict[str, int] = {}
    bad: dict[str, str] = {}
    orphans: dict[str, int] = {}  # reference -> line of a row without order_uuid
    for line, row, problem in _read_rows(text, parsed):
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
    for uuid, order in orders.items():
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
        except OrderValidationError as exc:
            label = order["reference"] or uuid
            parsed.errors.append(
                CsvLineError(first_line[uuid], f"order {label}: {exc.reason}; not imported")
            )
    parsed.errors.sort(key=lambda e: e.line)
    return parsed
