"""Register-style CSV exports (CONTRACTS §5) of any size, for the import's bound tests.

`export(n)` is n one-line cash orders, two rows each (a line and a payment), CRLF, UTF-8; with
`size` the line rows' product names are padded so the file has exactly that many bytes.
"""

from __future__ import annotations

import csv
import io

from pos_offline_sync.core.csv_schema import CSV_COLUMNS

NAME = "Zoë's Desk Pad"  # not ASCII: the file's bytes and characters differ
_AT = {name: i for i, name in enumerate(CSV_COLUMNS)}


def order_uuid(i: int) -> str:
    return f"00000000-0000-4000-8000-{i:012d}"


def _row(**cells) -> list:
    row = [""] * len(CSV_COLUMNS)
    for name, value in cells.items():
        row[_AT[name]] = value
    return row


def order_rows(i: int, *, name: str = NAME, qty: str = "2") -> list[list]:
    head = {
        "order_uuid": order_uuid(i),
        "order_reference": f"Order 00001-{i:05d}",
        "created_at": "2026-11-27T12:00:00.000Z",
        "cashier": "Mitchell Admin",
        "currency": "USD",
        "order_total": "7",
    }
    line = _row(
        record_type="line",
        product_id="1",
        product_name=name,
        quantity=qty,
        unit_price="3.5",
        discount_percent="0",
        line_total="7",
        **head,
    )
    payment = _row(
        record_type="payment",
        payment_uuid=f"10000000-0000-4000-8000-{i:012d}",
        payment_method_id="1",
        payment_method="Cash",
        payment_amount="7",
        **head,
    )
    return [line, payment]


def write(rows, *, bom: bool = False) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode()


def export(n_orders: int, *, size: int | None = None, bom: bool = False, first: int = 1) -> bytes:
    """n one-line orders (uuids `order_uuid(first)` on); exactly `size` bytes when given."""
    numbers = range(first, first + n_orders)

    def build(pad: int, extra: int) -> bytes:
        rows = []
        for k, i in enumerate(numbers):
            name = NAME + "x" * (pad + (k < extra))
            rows += order_rows(i, name=name)
        return write(rows, bom=bom)

    data = build(0, 0)
    if size is None:
        return data
    missing = size - len(data)
    if missing < 0:
        raise ValueError(f"{n_orders} orders take {len(data)} bytes, more than {size}")
    data = build(missing // n_orders, missing % n_orders)
    assert len(data) == size, (len(data), size)
    return data


def pad(data: bytes, size: int) -> bytes:
    """`data` and lines of spaces (blank rows: they count for nothing) up to `size` bytes."""
    missing = size - len(data)
    filler = (b" " * 998 + b"\r\n") * (missing // 1000)
    rest = missing % 1000
    return data + filler + (b" " * (rest - 2) + b"\r\n" if rest >= 2 else b" " * rest)
