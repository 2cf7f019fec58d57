"""Validation of the plain offline order (docs/CONTRACTS.md §1).

`validate_order` is the one gate every path goes through (register sync, CSV import, the Odoo
sink): it returns a normalised copy or raises `OrderValidationError` whose reason names the
field and the line, so the cashier or the administrator can see what is wrong. Reasons never
quote card data: only field names and short, truncated values of non-card fields.
"""

from __future__ import annotations

import math
from datetime import datetime

MAX_UUID_LENGTH = 128
MAX_TEXT_LENGTH = 1000
MAX_LINES = 1000
MAX_PAYMENTS = 100
CARD_STATUSES = ("unprocessed", "processing", "succeeded", "failed")
# Odoo ids are PostgreSQL integers; anything above cannot name a record (and overflows SQLite).
MAX_ID = 2**31 - 1
# Far above any till's amount, below where float arithmetic loses cents.
MAX_MAGNITUDE = 1e12


class OrderValidationError(ValueError):
    """An order the server refuses; `reason` is meant for the person who has to fix it."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _number(value, what: str, *, minimum=None, maximum=None, allow_zero=True) -> float:
    # bool is an int in Python but never a valid amount or quantity.
    if isinstance(value, bool) or not isinstance(value, int | float):
        if value is None:
            raise OrderValidationError(f"{what} is missing")
        raise OrderValidationError(f"{what} is not a number: {_short(value)}")
    if not math.isfinite(value):
        raise OrderValidationError(f"{what} is not a finite number")
    value = float(value)
    if abs(value) > MAX_MAGNITUDE:
        raise OrderValidationError(f"{what} is too large: {value:g}")
    if minimum is not None and value < minimum:
        raise OrderValidationError(f"{what} must not be below {minimum:g}: {value:g}")
    if maximum is not None and value > maximum:
        raise OrderValidationError(f"{what} must not be above {maximum:g}: {value:g}")
    if not allow_zero and value == 0:
        raise OrderValidationError(f"{what} must not be zero")
    return value


def _id(value, what: str, *, required=True):
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if value is None:
            raise OrderValidationError(f"{what} is missing")
        raise OrderValidationError(f"{what} is not a record id: {_short(value)}")
    if value <= 0 or value > MAX_ID:
        raise OrderValidationError(f"{what} is not a record id: {_short(value)}")
    return value


def _text(value, what: str, *, required=False, max_length=MAX_TEXT_LENGTH):
    if value is None or value == "":
        if required:
            raise OrderValidationError(f"{what} is missing")
        return value
    if not isinstance(value, str):
        raise OrderValidationError(f"{what} is not text: {_short(value)}")
    if len(value) > max_length:
        raise OrderValidationError(f"{what} is longer than {max_length} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate ("\ud800") is valid JSON but no database can store it.
        raise OrderValidationError(f"{what} is not valid Unicode text") from None
    return value


def _partner(value, what: str):
    """cashier / customer: null or {"id": int|null, "name": text}."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise OrderValidationError(f"{what} is not an object")
    out = dict(value)
    out["id"] = _id(value.get("id"), f"{what} id", required=False)
    out["name"] = _text(value.get("name"), f"{what} name")
    return out


def _created_at(value) -> str:
    text = _text(value, "created_at", required=True, max_length=64)
    try:
        # fromisoformat of Python 3.10 does not read a trailing Z.
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise OrderValidationError(f"created_at is not an ISO 8601 date: {_short(text)}") from None
    return text


def _line(raw, index: int) -> dict:
    where = f"line {index}"
    if not isinstance(raw, dict):
        raise OrderValidationError(f"{where} is not an object")
    line = dict(raw)
    line["product_id"] = _id(raw.get("product_id"), f"{where}: product_id")
    line["product_name"] = _text(raw.get("product_name"), f"{where}: product_name")
    line["qty"] = _number(raw.get("qty"), f"{where}: quantity", allow_zero=False)
    line["price_unit"] = _number(raw.get("price_unit"), f"{where}: unit price")
    discount = raw.get("discount")
    line["discount"] = _number(
        0 if discount is None else discount, f"{where}: discount", minimum=0, maximum=100
    )
    if raw.get("price_subtotal_incl") is not None:
        line["price_subtotal_incl"] = _number(raw["price_subtotal_incl"], f"{where}: line total")
    return line


def _card(raw, where: str):
    if raw is None:
        return None
    # Never quote a card field's value in a reason: names only.
    if not isinstance(raw, dict):
        raise OrderValidationError(f"{where}: card is not an object")
    card = dict(raw)
    status = raw.get("status")
    if status not in CARD_STATUSES:
        raise OrderValidationError(
            f"{where}: card status must be one of {', '.join(CARD_STATUSES)}"
        )
    brand = raw.get("brand")
    if brand is not None and not (isinstance(brand, str) and len(brand) <= 32):
        raise OrderValidationError(f"{where}: card brand is not text")
    last4 = raw.get("last4")
    if last4 is not None and not (isinstance(last4, str) and len(last4) == 4 and last4.isdigit()):
        raise OrderValidationError(f"{where}: card last4 must be 4 digits")
    envelope = raw.get("envelope")
    if envelope is not None and not isinstance(envelope, dict):
        raise OrderValidationError(f"{where}: card envelope is not an object")
    return card


def _payment(raw, index: int) -> dict:
    where = f"payment {index}"
    if not isinstance(raw, dict):
        raise OrderValidationError(f"{where} is not an object")
    payment = dict(raw)
    payment["uuid"] = _text(raw.get("uuid"), f"{where}: uuid", max_length=MAX_UUID_LENGTH)
    payment["payment_method_id"] = _id(raw.get("payment_method_id"), f"{where}: payment_method_id")
    payment["payment_method_name"] = _text(
        raw.get("payment_method_name"), f"{where}: payment_method_name"
    )
    payment["amount"] = _number(raw.get("amount"), f"{where}: amount")
    payment["card"] = _card(raw.get("card"), where)
    if payment["card"] is not None and not payment["uuid"]:
        raise OrderValidationError(f"{where}: a card payment needs its uuid")
    return payment


def validate_order(raw) -> dict:
    """Checks one plain order and returns a normalised copy (numbers as floats, ids as ints).

    Unknown keys, including the opaque `odoo` part, are kept as they are.
    """
    if not isinstance(raw, dict):
        raise OrderValidationError("the order is not an object")
    if raw.get("v", 1) != 1:
        raise OrderValidationError(f"unsupported order version {_short(raw.get('v'))}")
    order = dict(raw)
    order["v"] = 1
    uuid = raw.get("uuid")
    if uuid is None or uuid == "":
        raise OrderValidationError("uuid is missing")
    order["uuid"] = _text(uuid, "uuid", required=True, max_length=MAX_UUID_LENGTH)
    if not order["uuid"].strip() or not order["uuid"].isprintable():
        raise OrderValidationError("uuid is not a valid identifier")
    order["reference"] = _text(raw.get("reference"), "reference", max_length=200)
    order["created_at"] = _created_at(raw.get("created_at"))
    for key in ("config_id", "session_id"):
        if key in raw:
            order[key] = _id(raw.get(key), key, required=False)
    order["cashier"] = _partner(raw.get("cashier"), "cashier")
    order["customer"] = _partner(raw.get("customer"), "customer")
    order["currency"] = _text(raw.get("currency"), "currency", max_length=8)

    lines = raw.get("lines")
    if lines is None:
        raise OrderValidationError("lines are missing")
    if not isinstance(lines, list):
        raise OrderValidationError("lines is not a list")
    if not lines:
        raise OrderValidationError("the order has no lines")
    if len(lines) > MAX_LINES:
        raise OrderValidationError(f"the order has more than {MAX_LINES} lines")
    order["lines"] = [_line(line, i) for i, line in enumerate(lines, start=1)]

    payments = raw.get("payments", [])
    if not isinstance(payments, list):
        raise OrderValidationError("payments is not a list")
    if len(payments) > MAX_PAYMENTS:
        raise OrderValidationError(f"the order has more than {MAX_PAYMENTS} payments")
    order["payments"] = [_payment(p, i) for i, p in enumerate(payments, start=1)]
    uuids = [p["uuid"] for p in order["payments"] if p["uuid"]]
    if len(uuids) != len(set(uuids)):
        raise OrderValidationError("two payments share the same uuid")

    order["amount_total"] = _number(raw.get("amount_total"), "amount_total")
    order["amount_tax"] = _number(raw.get("amount_tax", 0) or 0, "amount_tax")
    default_paid = sum(p["amount"] for p in order["payments"])
    paid = raw.get("amount_paid")
    order["amount_paid"] = _number(default_paid if paid is None else paid, "amount_paid")
    order["amount_return"] = _number(raw.get("amount_return", 0) or 0, "amount_return", minimum=0)
    is_return = raw.get("is_return", order["amount_total"] < 0)
    if not isinstance(is_return, bool):
        raise OrderValidationError("is_return is not true or false")
    order["is_return"] = is_return
    return order
