"""Validation of the plain offline order (docs/CONTRACTS.md §1).

`validate_order` is the one gate every path goes through (register sync, CSV import, the Odoo
sink): it returns a normalised copy or raises `OrderValidationError` whose reason names the
field and the line, so the cashier or the administrator can see what is wrong. Reasons never
quote card data: only field names and short, truncated values of non-card fields.

The server trusts no amount the browser sends (issue 8): the total must be the sum of the
lines, the amount paid is recomputed from the payments, a negative total is only a return,
change is never more than the payments exceed the total by, and every number and id has a
bound (a 4xx reason instead of a database overflow). Rules that need host knowledge (taxes,
which payment methods take cards offline) are helpers here the hosts call.
"""

from __future__ import annotations

import copy
import math
import re
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

MAX_UUID_LENGTH = 128
MAX_TEXT_LENGTH = 1000
MAX_LINES = 1000
MAX_PAYMENTS = 100
CARD_STATUSES = ("unprocessed", "processing", "succeeded", "failed")
# Odoo ids are PostgreSQL integers; anything above cannot name a record (and overflows SQLite).
MAX_ID = 2**31 - 1
MIN_INT = -(2**31)
# Far above any till's amount, below where float arithmetic loses cents.
MAX_MAGNITUDE = 1e12
# Far above any till's quantity (grams, millimetres included).
MAX_QTY = 1e6
DEFAULT_ROUNDING = 0.01
# created_at is the register's clock: a little ahead of ours is drift, more is a wrong clock
# (and would make an unprocessed card look younger than it is).
MAX_CLOCK_SKEW = timedelta(minutes=10)
MAX_ORDER_AGE = timedelta(days=366)
# The opaque `odoo` part (the browser's serializeForORM()): bounds of its shape.
MAX_ODOO_DEPTH = 12
MAX_ODOO_NODES = 200_000
MAX_ODOO_TEXT = 1_000_000

# What each object of the order may hold; anything else is dropped, never stored.
ORDER_KEYS = (
    "v",
    "uuid",
    "reference",
    "created_at",
    "config_id",
    "session_id",
    "cashier",
    "customer",
    "currency",
    "lines",
    "payments",
    "amount_total",
    "amount_tax",
    "amount_paid",
    "amount_return",
    "is_return",
    "odoo",
)
LINE_KEYS = ("product_id", "product_name", "qty", "price_unit", "discount", "price_subtotal_incl")
PAYMENT_KEYS = ("uuid", "payment_method_id", "payment_method_name", "amount", "card")
CARD_KEYS = (
    "brand",
    "last4",
    "exp_month",
    "exp_year",
    "envelope",
    "status",
    "payment_intent_id",
    "message",
    "decline_code",
)
PARTNER_KEYS = ("id", "name")
# Line breaks and tabs are text only in a note, a card's message and the names the register
# copies from the server's own records (product, payment method, customer, cashier: refusing
# them would strand every order of a record the back office itself holds); elsewhere, like NUL
# and the other control characters, they are refused (PostgreSQL cannot store NUL at all).
NOTE_WHITESPACE = frozenset("\t\n\r")

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_IN_NOTE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class OrderValidationError(ValueError):
    """An order the server refuses; `reason` is meant for the person who has to fix it."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _decimal(value) -> Decimal:
    # str() first: Decimal(0.1) would carry the float's binary noise.
    return Decimal(str(value))


def _quantum(rounding) -> Decimal:
    q = _decimal(rounding if rounding else DEFAULT_ROUNDING)
    if not q.is_finite() or q <= 0:
        raise ValueError("the currency rounding must be a positive number")
    return q


def format_amount(value, rounding=DEFAULT_ROUNDING) -> str:
    """An amount with as many decimals as the currency's rounding has (7 -> "7.00")."""
    exponent = min(_quantum(rounding).normalize().as_tuple().exponent, 0)
    return str(_decimal(value).quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_UP))


def amounts_equal(a, b, rounding=DEFAULT_ROUNDING) -> bool:
    """Equal at the currency's precision: less than half a rounding unit apart."""
    return abs(_decimal(a) - _decimal(b)) * 2 < _quantum(rounding)


def payments_cover(total, paid, rounding=DEFAULT_ROUNDING) -> bool:
    """Whether payments of `paid` settle an order of `total` (a return: pay out at least it)."""
    half = _quantum(rounding) / 2
    diff = _decimal(paid) - _decimal(total)
    return diff > -half if _decimal(total) >= 0 else diff < half


def _number(value, what: str, *, minimum=None, maximum=None, allow_zero=True, limit=MAX_MAGNITUDE):
    # bool is an int in Python but never a valid amount or quantity.
    if isinstance(value, bool) or not isinstance(value, int | float):
        if value is None:
            raise OrderValidationError(f"{what} is missing")
        raise OrderValidationError(f"{what} is not a number: {_short(value)}")
    if isinstance(value, int) and abs(value) > limit:
        # float() of a huge int would raise OverflowError, not a reason.
        raise OrderValidationError(f"{what} is too large: {_short(value)} (at most {limit:g})")
    if not math.isfinite(value):
        raise OrderValidationError(f"{what} is not a finite number")
    value = float(value)
    if abs(value) > limit:
        raise OrderValidationError(f"{what} is too large: {value:g} (at most {limit:g})")
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
        raise OrderValidationError(
            f"{what} is not a record id: {_short(value)} (ids are 1 to {MAX_ID})"
        )
    return value


def check_text(value: str, what: str, *, note=False) -> str:
    """Refuses what no database or log should hold: control characters (tab and line breaks
    only in a note), lone surrogates. The reason names the field and the character's code."""
    bad = (_CONTROL_IN_NOTE if note else _CONTROL).search(value)
    if bad:
        code = f"U+{ord(bad.group()):04X}"
        raise OrderValidationError(f"{what} contains a control character ({code})")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate ("\ud800") is valid JSON but no database can store it.
        raise OrderValidationError(f"{what} is not valid Unicode text") from None
    return value


def _text(value, what: str, *, required=False, max_length=MAX_TEXT_LENGTH, note=False):
    if value is None or value == "":
        if required:
            raise OrderValidationError(f"{what} is missing")
        return value
    if not isinstance(value, str):
        raise OrderValidationError(f"{what} is not text: {_short(value)}")
    if len(value) > max_length:
        raise OrderValidationError(f"{what} is longer than {max_length} characters")
    return check_text(value, what, note=note)


def _partner(value, what: str):
    """cashier / customer: null or {"id": int|null, "name": text}."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise OrderValidationError(f"{what} is not an object")
    return {
        "id": _id(value.get("id"), f"{what} id", required=False),
        # A name from the server's own records (like a product's): see NAME below.
        "name": _text(value.get("name"), f"{what} name", note=True),
    }


def parse_time(text: str) -> datetime:
    """An ISO 8601 date as an aware datetime (no offset: UTC)."""
    # fromisoformat of Python 3.10 does not read a trailing Z.
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def check_created_at(value, now: datetime | None = None) -> str:
    """`created_at` as the server accepts it (ISO 8601, plausible on the server's clock), or
    OrderValidationError with the reason."""
    return _created_at(value, now or datetime.now(timezone.utc))


def _created_at(value, now: datetime) -> str:
    text = _text(value, "created_at", required=True, max_length=64)
    try:
        when = parse_time(text)
    except ValueError:
        raise OrderValidationError(f"created_at is not an ISO 8601 date: {_short(text)}") from None
    if when - now > MAX_CLOCK_SKEW:
        minutes = int(MAX_CLOCK_SKEW.total_seconds() // 60)
        raise OrderValidationError(
            f"created_at {_short(text)} is more than {minutes} minutes after the server's "
            "time: check the register's clock"
        )
    if now - when > MAX_ORDER_AGE:
        raise OrderValidationError(
            f"created_at {_short(text)} is more than {MAX_ORDER_AGE.days} days before the "
            "server's time: check the register's clock"
        )
    return text


def _line(raw, index: int) -> dict:
    where = f"line {index}"
    if not isinstance(raw, dict):
        raise OrderValidationError(f"{where} is not an object")
    discount = raw.get("discount")
    return {
        "product_id": _id(raw.get("product_id"), f"{where}: product_id"),
        "product_name": _text(raw.get("product_name"), f"{where}: product_name", note=True),
        "qty": _number(raw.get("qty"), f"{where}: quantity", allow_zero=False, limit=MAX_QTY),
        "price_unit": _number(raw.get("price_unit"), f"{where}: unit price"),
        "discount": _number(
            0 if discount is None else discount, f"{where}: discount", minimum=0, maximum=100
        ),
        # Required: the total is checked against it, and hosts check it against the line.
        "price_subtotal_incl": _number(raw.get("price_subtotal_incl"), f"{where}: line total"),
    }


def _card(raw, where: str):
    if raw is None:
        return None
    # Never quote a card field's value in a reason: names only.
    if not isinstance(raw, dict):
        raise OrderValidationError(f"{where}: card is not an object")
    card = {key: raw[key] for key in CARD_KEYS if key in raw}
    status = raw.get("status")
    if status not in CARD_STATUSES:
        raise OrderValidationError(
            f"{where}: card status must be one of {', '.join(CARD_STATUSES)}"
        )
    brand = raw.get("brand")
    if brand is not None and not (isinstance(brand, str) and len(brand) <= 32):
        raise OrderValidationError(f"{where}: card brand is not text")
    if isinstance(brand, str) and _CONTROL.search(brand):
        raise OrderValidationError(f"{where}: card brand contains a control character")
    last4 = raw.get("last4")
    if last4 is not None and not (
        isinstance(last4, str) and len(last4) == 4 and last4.isascii() and last4.isdigit()
    ):
        raise OrderValidationError(f"{where}: card last4 must be 4 digits")
    for key, low, high in (("exp_month", 1, 12), ("exp_year", 2000, 2100)):
        value = raw.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high
        ):
            raise OrderValidationError(f"{where}: card {key} is not valid")
    envelope = raw.get("envelope")
    if envelope is not None and not isinstance(envelope, dict):
        raise OrderValidationError(f"{where}: card envelope is not an object")
    for key in ("payment_intent_id", "decline_code"):
        card[key] = _text(raw.get(key), f"{where}: card {key}", max_length=200)
    card["message"] = _text(raw.get("message"), f"{where}: card message", note=True)
    return card


def _payment(raw, index: int) -> dict:
    where = f"payment {index}"
    if not isinstance(raw, dict):
        raise OrderValidationError(f"{where} is not an object")
    payment = {
        "uuid": _text(raw.get("uuid"), f"{where}: uuid", max_length=MAX_UUID_LENGTH),
        "payment_method_id": _id(raw.get("payment_method_id"), f"{where}: payment_method_id"),
        "payment_method_name": _text(
            raw.get("payment_method_name"), f"{where}: payment_method_name", note=True
        ),
        "amount": _number(raw.get("amount"), f"{where}: amount"),
        "card": _card(raw.get("card"), where),
    }
    if payment["card"] is not None:
        if not payment["uuid"]:
            raise OrderValidationError(f"{where}: a card payment needs its uuid")
        if payment["amount"] <= 0:
            # The register takes an offline card only for an amount due; a card is never paid
            # back offline.
            raise OrderValidationError(f"{where}: a card payment must be a positive amount")
    return payment


def _odoo_part(value, path: str, key: str, depth: int, budget: list) -> None:
    """The opaque `odoo` part goes to the host's own ORM as it is: every number fits the
    database's columns, every text is storable, the shape is bounded."""
    budget[0] += 1
    if budget[0] > MAX_ODOO_NODES:
        raise OrderValidationError(f"odoo has more than {MAX_ODOO_NODES} values")
    if depth > MAX_ODOO_DEPTH:
        raise OrderValidationError(f"{path} is nested too deeply")
    if value is None or isinstance(value, bool | date):  # a date: from a Python caller
        return
    if isinstance(value, int):
        if not MIN_INT <= value <= MAX_ID:
            raise OrderValidationError(
                f"{path} is out of range: {_short(value)} (integers are {MIN_INT} to {MAX_ID})"
            )
    elif isinstance(value, float):
        _number(value, path)
    elif isinstance(value, str):
        if len(value) > MAX_ODOO_TEXT:
            raise OrderValidationError(f"{path} is longer than {MAX_ODOO_TEXT} characters")
        check_text(value, path, note="note" in key.lower())
    elif isinstance(value, list | tuple):  # a tuple from a Python caller: ORM commands
        for index, item in enumerate(value):
            _odoo_part(item, f"{path}[{index}]", key, depth + 1, budget)
    elif isinstance(value, dict):
        for name, item in value.items():
            if not isinstance(name, str):
                raise OrderValidationError(f"{path} has a key that is not text")
            label = name if len(name) <= 40 else name[:37] + "..."
            _odoo_part(item, f"{path}.{label}", name, depth + 1, budget)
    else:
        raise OrderValidationError(f"{path} is not a JSON value")


def validate_order(
    raw, *, rounding=DEFAULT_ROUNDING, now: datetime | None = None, rounded_total=None
) -> dict:
    """Checks one plain order and returns a normalised copy (numbers as floats, ids as ints).

    `rounding` is the currency's (0.01 unless the host knows better); `now` the server's time
    (default: the clock) that `created_at` is checked against; `rounded_total(order)` (optional,
    the host's) the total the register's cash rounding makes of the order's, which its change
    is given from (Odoo's register: 20 paid for 15.02, rounded to 15.00, gives 5.00). Keys
    the contract does not name are dropped; the opaque `odoo` part is checked (see
    `_odoo_part`) and deep-copied.
    """
    if not isinstance(raw, dict):
        raise OrderValidationError("the order is not an object")
    if raw.get("v", 1) != 1:
        raise OrderValidationError(f"unsupported order version {_short(raw.get('v'))}")
    now = now or datetime.now(timezone.utc)
    order = {"v": 1}
    uuid = raw.get("uuid")
    if uuid is None or uuid == "":
        raise OrderValidationError("uuid is missing")
    order["uuid"] = _text(uuid, "uuid", required=True, max_length=MAX_UUID_LENGTH)
    if not order["uuid"].strip() or not order["uuid"].isprintable():
        raise OrderValidationError("uuid is not a valid identifier")
    order["reference"] = _text(raw.get("reference"), "reference", max_length=200)
    order["created_at"] = _created_at(raw.get("created_at"), now)
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

    total = order["amount_total"] = _number(raw.get("amount_total"), "amount_total")
    lines_total = sum(
        (_decimal(line["price_subtotal_incl"]) for line in order["lines"]), Decimal(0)
    )
    if not amounts_equal(total, lines_total, rounding):
        raise OrderValidationError(
            f"amount_total {format_amount(total, rounding)} is not the sum of the lines "
            f"({format_amount(lines_total, rounding)})"
        )
    order["amount_tax"] = _number(raw.get("amount_tax", 0) or 0, "amount_tax")
    if raw.get("amount_paid") is not None:
        _number(raw["amount_paid"], "amount_paid")
    # Never the browser's word: what the payments add up to.
    paid = sum((_decimal(p["amount"]) for p in order["payments"]), Decimal(0))
    order["amount_paid"] = _number(float(paid), "amount_paid")
    # The money given back, never signed: Odoo's register signs it against the payments (a
    # sale's change is negative there, a refund's positive; see odoo_change()).
    change = _number(raw.get("amount_return", 0) or 0, "amount_return")
    if change < 0 and total >= 0:
        # A sale's change signed as Odoo signs it: what registers before 19.0.1.4.0 stored in
        # the browser (refused then; never lost: sent again, it lands now).
        change = -change
    change = _number(change, "amount_return", minimum=0)
    order["amount_return"] = change
    # What the payments exceed the total by, away from zero (a refund pays out: negative): the
    # total as the register's cash rounding makes it, when it has one.
    due = _decimal(total)
    if rounded_total is not None:
        due = _decimal(_number(rounded_total(order), "the rounded total"))
    if total >= 0:
        excess = max(paid - due, Decimal(0))
    else:
        excess = max(due - paid, Decimal(0))
    if _decimal(change) > excess and not amounts_equal(change, excess, rounding):
        raise OrderValidationError(
            f"amount_return {format_amount(change, rounding)} is more than the payments exceed "
            f"the total by ({format_amount(excess, rounding)})"
        )
    is_return = raw.get("is_return", total < 0)
    if not isinstance(is_return, bool):
        raise OrderValidationError("is_return is not true or false")
    if total < 0 and not is_return and not amounts_equal(total, 0, rounding):
        raise OrderValidationError(
            f"amount_total is negative ({format_amount(total, rounding)}) but the order is not "
            "a return (is_return)"
        )
    order["is_return"] = is_return
    odoo = raw.get("odoo")
    if odoo is not None:
        if not isinstance(odoo, dict):
            raise OrderValidationError("odoo is not an object")
        _odoo_part(odoo, "odoo", "odoo", 0, [0])
        order["odoo"] = copy.deepcopy(odoo)
    return order


# -- rules a host applies with what only it knows ----------------------------------------------
UNTAXED = "quantity x unit price less discount"
TAXED = "quantity x unit price less discount, with its taxes"
UNTAXED_BASE = "quantity x unit price less discount, before its taxes"


def untaxed_line_total(line: dict) -> Decimal:
    """quantity x unit price less the discount: the line total when no tax applies."""
    factor = 1 - _decimal(line["discount"]) / 100
    return _decimal(line["qty"]) * _decimal(line["price_unit"]) * factor


def check_line_total(
    line: dict,
    index: int,
    expected,
    rounding=DEFAULT_ROUNDING,
    *,
    tolerance=0,
    how=UNTAXED,
    field="price_subtotal_incl",
    label="line total",
):
    """Refuses a line whose total (`field`) is not `expected` (what the host computes from
    quantity, unit price, discount and, in Odoo, taxes) at the currency's precision, give or
    take `tolerance` rounding units (for a tax engine that spreads rounding differences over
    the lines)."""
    actual = line[field]
    # At least half a rounding unit: an exact total on a tie (-6.875) is rounded either way by
    # registers (half up, half away from zero, Math.round), and both are right.
    margin = _quantum(rounding) * max(Decimal(tolerance), Decimal("0.5"))
    if abs(_decimal(actual) - _decimal(expected)) <= margin:
        return
    raise OrderValidationError(
        f"line {index}: {label} {format_amount(actual, rounding)} is not {how} "
        f"({format_amount(expected, rounding)})"
    )


def payments_without_card(order: dict, card_method_ids) -> list[tuple[int, dict]]:
    """(position, payment) of each payment on an offline-card payment method that carries no
    card: nothing was ever charged for it, so it never pays the order."""
    ids = set(card_method_ids)
    return [
        (index, payment)
        for index, payment in enumerate(order["payments"], start=1)
        if payment["payment_method_id"] in ids and not payment.get("card")
    ]


def no_card_reason(
    payment: dict, currency: str | None, rounding=DEFAULT_ROUNDING, method_name=None
) -> str:
    """The note of an order left unpaid by such a payment (`method_name`: the host's own name
    of the method, rather than what the register sent)."""
    amount = f"{format_amount(payment['amount'], rounding)} {currency or ''}".strip()
    method = (
        method_name
        or payment.get("payment_method_name")
        or f"method {payment['payment_method_id']}"
    )
    return f"Card payment of {amount} on {method} has no card charged: take the payment again."


def odoo_change(order: dict) -> float:
    """A validated order's change as Odoo's register sends it (its `change` getter) and its
    `_process_payment_lines` books it, as a payment line of that amount: against the payments,
    negative for a sale, positive for a refund."""
    change = order.get("amount_return") or 0.0
    return -change if order["amount_total"] >= 0 else change
