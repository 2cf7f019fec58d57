"""validate_order: every refusal names the field (and the line or payment) that is wrong."""

import copy
import math
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from pos_offline_sync.core.order_schema import (
    ORDER_KEYS,
    TAXED,
    OrderValidationError,
    check_line_total,
    no_card_reason,
    payments_cover,
    payments_without_card,
    untaxed_line_total,
    validate_order,
)


def _reason(order) -> str:
    with pytest.raises(OrderValidationError) as info:
        validate_order(order)
    assert info.value.reason == str(info.value)
    return info.value.reason


def test_valid_order_is_normalised_and_input_untouched(order_factory):
    raw = order_factory(amount_total=7, amount_paid=None, odoo={"opaque": [1, 2]})
    before = copy.deepcopy(raw)
    order = validate_order(raw)
    assert raw == before  # a copy: the caller's dict is never changed
    assert order["uuid"] == raw["uuid"]
    assert isinstance(order["amount_total"], float) and order["amount_total"] == 7.0
    # amount_paid defaults to the sum of the payments
    assert order["amount_paid"] == 7.0
    assert order["is_return"] is False
    assert order["odoo"] == {"opaque": [1, 2]}  # the host's part, kept as it is


def test_negative_total_is_a_return(order_factory):
    order = order_factory(amount_total=-7.0, amount_paid=-7.0)
    del order["is_return"]
    order["lines"][0]["qty"] = -2
    order["lines"][0]["price_subtotal_incl"] = -7.0
    order["payments"][0]["amount"] = -7.0
    assert validate_order(order)["is_return"] is True


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda o: o.pop("uuid"), "uuid is missing"),
        (lambda o: o.update(uuid=""), "uuid is missing"),
        (lambda o: o.update(uuid=None), "uuid is missing"),
        (lambda o: o.update(uuid=42), "uuid is not text: 42"),
        (lambda o: o.update(uuid="   "), "uuid is not a valid identifier"),
        (lambda o: o.update(uuid="a\nb"), "uuid contains a control character (U+000A)"),
        (lambda o: o.update(uuid="x" * 129), "uuid is longer than 128 characters"),
        (lambda o: o.update(v=2), "unsupported order version 2"),
        (lambda o: o.pop("lines"), "lines are missing"),
        (lambda o: o.update(lines=[]), "the order has no lines"),
        (lambda o: o.update(lines={"a": 1}), "lines is not a list"),
        (lambda o: o.update(lines=["x"]), "line 1 is not an object"),
        (lambda o: o["lines"][0].update(qty="two"), "line 1: quantity is not a number: 'two'"),
        (lambda o: o["lines"][0].update(qty="2"), "line 1: quantity is not a number: '2'"),
        (lambda o: o["lines"][0].update(qty=True), "line 1: quantity is not a number: True"),
        (lambda o: o["lines"][0].pop("qty"), "line 1: quantity is missing"),
        (lambda o: o["lines"][0].update(qty=0), "line 1: quantity must not be zero"),
        (lambda o: o["lines"][0].update(qty=math.nan), "line 1: quantity is not a finite number"),
        (
            lambda o: o["lines"][0].update(price_unit=math.inf),
            "line 1: unit price is not a finite number",
        ),
        (lambda o: o["lines"][0].pop("product_id"), "line 1: product_id is missing"),
        (
            lambda o: o["lines"][0].update(product_id="12"),
            "line 1: product_id is not a record id: '12'",
        ),
        (lambda o: o["lines"][0].update(product_id=0), "line 1: product_id is not a record id: 0"),
        (
            lambda o: o["lines"][0].update(discount=-5),
            "line 1: discount must not be below 0: -5",
        ),
        (
            lambda o: o["lines"][0].update(discount=101),
            "line 1: discount must not be above 100: 101",
        ),
        (lambda o: o.pop("created_at"), "created_at is missing"),
        (lambda o: o.update(created_at="yesterday"), "created_at is not an ISO 8601 date"),
        (lambda o: o.pop("amount_total"), "amount_total is missing"),
        (lambda o: o.update(amount_total="7"), "amount_total is not a number: '7'"),
        (lambda o: o.update(amount_total=math.nan), "amount_total is not a finite number"),
        (
            lambda o: o.update(amount_return=-1),
            "amount_return 1.00 is more than the payments exceed the total by (0.00)",
        ),
        (lambda o: o.update(is_return="no"), "is_return is not true or false"),
        (lambda o: o.update(payments="cash"), "payments is not a list"),
        (lambda o: o.update(payments=[1]), "payment 1 is not an object"),
        (
            lambda o: o["payments"][0].update(amount="7"),
            "payment 1: amount is not a number: '7'",
        ),
        (
            lambda o: o["payments"][0].pop("payment_method_id"),
            "payment 1: payment_method_id is missing",
        ),
        (
            lambda o: o["payments"].append(dict(o["payments"][0])),
            "two payments share the same uuid",
        ),
        (lambda o: o.update(cashier="Mitchell"), "cashier is not an object"),
        (
            lambda o: o.update(customer={"id": 2**70, "name": "x"}),
            "customer id is not a record id: 1180591620717411303424",
        ),
        (
            lambda o: o["lines"][0].update(product_id=2**31),
            "line 1: product_id is not a record id: 2147483648",
        ),
        (lambda o: o["lines"][0].update(qty=1e300), "line 1: quantity is too large: 1e+300"),
        (lambda o: o.update(amount_total=-2e12), "amount_total is too large: -2e+12"),
        (
            lambda o: o.update(customer={"id": None, "name": "\ud800"}),
            "customer name is not valid Unicode text",
        ),
        (
            lambda o: o["lines"][0].update(product_name="a\udfffb"),
            "line 1: product_name is not valid Unicode text",
        ),
        (lambda o: o.update(uuid="\ud800"), "uuid is not valid Unicode text"),
        (lambda o: o.update(customer={"id": "7", "name": "x"}), "customer id is not a record id"),
    ],
)
def test_reasons_name_the_field(order_factory, mutate, expected):
    order = order_factory()
    mutate(order)
    assert _reason(order).startswith(expected)


def test_second_line_is_named(order_factory):
    order = order_factory()
    order["lines"].append(dict(order["lines"][0], qty="three"))
    assert _reason(order) == "line 2: quantity is not a number: 'three'"


def test_not_an_object():
    assert _reason(["not", "an", "order"]) == "the order is not an object"
    assert _reason(None) == "the order is not an object"


def test_long_values_are_truncated_in_reasons(order_factory):
    order = order_factory()
    order["lines"][0]["qty"] = "9" * 500
    reason = _reason(order)
    assert len(reason) < 100 and reason.endswith("...")


def test_card_reasons_never_quote_card_values(order_factory):
    order = order_factory()
    order["payments"][0]["card"] = {"status": "unprocessed", "last4": "4242424242424242"}
    reason = _reason(order)
    assert reason == "payment 1: card last4 must be 4 digits"
    assert "4242" not in reason


@pytest.mark.parametrize(
    ("card", "expected"),
    [
        ("visa", "payment 1: card is not an object"),
        ({"status": "charged"}, "payment 1: card status must be one of"),
        ({"status": "failed", "brand": {"x": 1}}, "payment 1: card brand is not text"),
        ({"status": "unprocessed", "envelope": "x"}, "payment 1: card envelope is not an object"),
    ],
)
def test_card_shape(order_factory, card, expected):
    order = order_factory()
    order["payments"][0]["card"] = card
    assert _reason(order).startswith(expected)


def test_card_payment_needs_its_uuid(order_factory):
    order = order_factory()
    order["payments"][0]["uuid"] = None
    order["payments"][0]["card"] = {"status": "unprocessed", "brand": "visa", "last4": "4242"}
    assert _reason(order) == "payment 1: a card payment needs its uuid"


def test_a_valid_card_payment_passes(order_factory):
    order = order_factory()
    order["payments"][0]["card"] = {
        "brand": "visa",
        "last4": "4242",
        "status": "unprocessed",
        "envelope": {"v": 1, "kid": "k", "ek": "e", "iv": "i", "ct": "c"},
    }
    assert validate_order(order)["payments"][0]["card"]["status"] == "unprocessed"


# -- the server trusts no amount (issue 8) ------------------------------------------------------
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def _at(delta: timedelta) -> str:
    return (NOW + delta).isoformat().replace("+00:00", "Z")


def _valid(order, **kw):
    return validate_order(order, now=kw.pop("now", NOW), **kw)


def _refused(order, **kw) -> str:
    with pytest.raises(OrderValidationError) as info:
        _valid(order, **kw)
    return info.value.reason


@pytest.fixture
def order(order_factory):
    return order_factory(created_at=_at(-timedelta(minutes=5)))


def _two_lines(order, first=7.0, second=3.0, total=None):
    order["lines"] = [
        {"product_id": 1, "qty": 2, "price_unit": 3.5, "price_subtotal_incl": first},
        {"product_id": 2, "qty": 1, "price_unit": 3.0, "price_subtotal_incl": second},
    ]
    order["amount_total"] = first + second if total is None else total
    order["payments"][0]["amount"] = order["amount_total"]
    return order


def test_total_must_be_the_sum_of_the_lines(order):
    _two_lines(order, total=10.004)
    assert _valid(order)["amount_total"] == 10.004  # under half a cent: equal
    _two_lines(order, total=10.005)
    assert _refused(order) == "amount_total 10.01 is not the sum of the lines (10.00)"
    _two_lines(order, total=9.0)
    assert _refused(order) == "amount_total 9.00 is not the sum of the lines (10.00)"


def test_total_is_compared_at_the_currency_rounding(order):
    _two_lines(order, first=700.0, second=300.0, total=1000.4)
    assert _valid(order, rounding=1)["amount_total"] == 1000.4
    _two_lines(order, first=700.0, second=300.0, total=1000.5)
    assert _refused(order, rounding=1) == "amount_total 1001 is not the sum of the lines (1000)"
    _two_lines(order, first=7.0, second=3.0, total=10.0005)
    assert _valid(order)["amount_total"] == 10.0005
    assert _refused(order, rounding=0.001) == (
        "amount_total 10.001 is not the sum of the lines (10.000)"
    )


def test_line_total_is_required(order):
    del order["lines"][0]["price_subtotal_incl"]
    assert _refused(order) == "line 1: line total is missing"


def test_amount_paid_is_the_sum_of_the_payments_not_the_claim(order):
    order["amount_paid"] = 1000.0
    assert _valid(order)["amount_paid"] == 7.0
    order["amount_paid"] = "lots"
    assert _refused(order) == "amount_paid is not a number: 'lots'"


def test_change_is_at_most_what_the_payments_exceed_the_total_by(order):
    order["payments"][0]["amount"] = 10.0
    order["amount_return"] = 3.0
    assert _valid(order)["amount_return"] == 3.0
    order["amount_return"] = 3.004
    assert _valid(order)["amount_return"] == 3.004
    order["amount_return"] = 3.01
    assert _refused(order) == (
        "amount_return 3.01 is more than the payments exceed the total by (3.00)"
    )
    # Not paid in full: no change at all.
    order["payments"][0]["amount"] = 5.0
    order["amount_return"] = 1.0
    assert _refused(order) == (
        "amount_return 1.00 is more than the payments exceed the total by (0.00)"
    )


def test_a_sales_change_signed_as_odoo_signs_it_is_its_size(order):
    """Registers before this version stored Odoo's own sign (a sale's change negative), which
    was refused: sent again from the browser, such an order lands with its change."""
    order["payments"][0]["amount"] += 5.0
    order["amount_return"] = -5.0
    assert _valid(order)["amount_return"] == 5.0


def test_a_refunds_change_is_never_negative(order):
    order.update(amount_total=-7.0, is_return=True, amount_return=-2.0)
    order["lines"][0].update(qty=-2, price_subtotal_incl=-7.0)
    order["payments"][0]["amount"] = -9.0
    assert _refused(order) == "amount_return must not be below 0: -2"


def test_change_on_a_return_is_what_was_paid_out_too_much(order):
    """Odoo's register gives a refund change too: 9 paid out for a refund of 7, 2 given back
    (its `change` getter, which it books as a payment line of +2)."""
    order.update(amount_total=-7.0, is_return=True, amount_return=2.0)
    order["lines"][0].update(qty=-2, price_subtotal_incl=-7.0)
    order["payments"][0]["amount"] = -9.0
    assert _valid(order)["amount_return"] == 2.0
    order["amount_return"] = 3.0
    assert _refused(order).startswith("amount_return 3.00 is more than")
    order["payments"][0]["amount"] = -7.0
    order["amount_return"] = 2.0
    assert _refused(order).startswith("amount_return 2.00 is more than")


def test_negative_total_only_on_a_return(order):
    order["lines"][0].update(qty=-2, price_subtotal_incl=-7.0)
    order["payments"][0]["amount"] = -7.0
    order.update(amount_total=-7.0, is_return=False)
    assert (
        _refused(order)
        == "amount_total is negative (-7.00) but the order is not a return (is_return)"
    )
    order["is_return"] = True
    assert _valid(order)["is_return"] is True
    # A sale may hold a negative line (a discount) as long as its total is not negative.
    order["lines"].append(
        {"product_id": 2, "qty": 1, "price_unit": 7.01, "price_subtotal_incl": 7.01}
    )
    order.update(amount_total=0.01, is_return=False)
    order["payments"][0]["amount"] = 0.01
    assert _valid(order)["amount_total"] == 0.01


def test_card_payment_must_be_positive(order):
    order["payments"][0].update(
        payment_method_id=2, card={"status": "unprocessed", "brand": "visa", "last4": "4242"}
    )
    order["payments"][0]["amount"] = 0.01
    order["payments"].append(
        {"uuid": "cash-2", "payment_method_id": 1, "amount": 6.99, "card": None}
    )
    assert _valid(order)["payments"][0]["amount"] == 0.01
    order["payments"][0]["amount"] = 0
    assert _refused(order) == "payment 1: a card payment must be a positive amount"
    order["payments"][0]["amount"] = -7.0
    assert _refused(order) == "payment 1: a card payment must be a positive amount"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda o: o["lines"][0].update(qty=1e6 + 1), "line 1: quantity is too large: 1e+06"),
        (lambda o: o["lines"][0].update(qty=-(1e6 + 1)), "line 1: quantity is too large"),
        (lambda o: o["lines"][0].update(qty=10**30), "line 1: quantity is too large: 10000"),
        (lambda o: o.update(amount_total=1e26), "amount_total is too large: 1e+26"),
        (lambda o: o.update(amount_total=10**26), "amount_total is too large: 1000"),
        (lambda o: o["payments"][0].update(amount=1e12 + 1), "payment 1: amount is too large"),
        (lambda o: o.update(session_id=2**31), "session_id is not a record id: 2147483648"),
        (lambda o: o.update(config_id=2**80), "config_id is not a record id: 1208925819614629"),
        (
            lambda o: o["payments"][0].update(payment_method_id=2**31),
            "payment 1: payment_method_id is not a record id: 2147483648 (ids are 1 to 2147483647)",
        ),
    ],
)
def test_oversized_numbers_are_refused_with_the_bound(order, mutate, expected):
    mutate(order)
    assert _refused(order).startswith(expected)


def test_numbers_at_their_bound_pass(order):
    order["lines"][0].update(qty=1e6, price_unit=1e6, price_subtotal_incl=1e12)
    order.update(amount_total=1e12, session_id=2**31 - 1, config_id=2**31 - 1)
    order["payments"][0].update(amount=1e12, payment_method_id=2**31 - 1)
    checked = _valid(order)
    assert checked["lines"][0]["qty"] == 1e6 and checked["session_id"] == 2**31 - 1


def test_unknown_keys_are_dropped_at_every_level(order):
    order["is_admin"] = True
    order["lines"][0]["cost"] = 0
    order["payments"][0]["approved"] = True
    order["customer"] = {"id": 7, "name": "Ann", "credit": 1e9}
    order["payments"][0]["card"] = {"status": "failed", "last4": "4242", "number": "4242" * 4}
    checked = _valid(order)
    assert "is_admin" not in checked and set(checked) <= set(ORDER_KEYS)
    assert "cost" not in checked["lines"][0]
    assert "approved" not in checked["payments"][0]
    assert checked["customer"] == {"id": 7, "name": "Ann"}
    assert "number" not in checked["payments"][0]["card"]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda o: o.update(reference="Order\x00 1"),
            "reference contains a control character (U+0000)",
        ),
        (
            lambda o: o.update(reference="Order\t1"),
            "reference contains a control character (U+0009)",
        ),
        (
            lambda o: o.update(reference="Order\u2028 1"),
            "reference contains a control character (U+2028)",
        ),
        (lambda o: o.update(currency="US\x7fD"), "currency contains a control character (U+007F)"),
        (
            lambda o: o.update(customer={"id": None, "name": "Ann\x85"}),
            "customer name contains a control character (U+0085)",
        ),
        (
            lambda o: o.update(cashier={"id": 1, "name": "Mitchell\x08Admin"}),
            "cashier name contains a control character (U+0008)",
        ),
        (
            lambda o: o["lines"][0].update(product_name="Desk\x00Pad"),
            "line 1: product_name contains a control character (U+0000)",
        ),
        (
            lambda o: o["payments"][0].update(payment_method_name="Cash\x1b[31m"),
            "payment 1: payment_method_name contains a control character (U+001B)",
        ),
        (lambda o: o["payments"][0].update(uuid="p\x00"), "payment 1: uuid contains a control"),
        (
            lambda o: o["payments"][0].update(card={"status": "failed", "message": "no\x00"}),
            "payment 1: card message contains a control character (U+0000)",
        ),
        (
            lambda o: o["payments"][0].update(card={"status": "failed", "brand": "vi\x00sa"}),
            "payment 1: card brand contains a control character",
        ),
        (
            lambda o: o["payments"][0].update(card={"status": "failed", "exp_month": 13}),
            "payment 1: card exp_month is not valid",
        ),
        (
            lambda o: o["payments"][0].update(card={"status": "failed", "last4": "４２４２"}),
            "payment 1: card last4 must be 4 digits",
        ),
    ],
)
def test_control_characters_are_refused_with_the_field(order, mutate, expected):
    mutate(order)
    assert _refused(order).startswith(expected)


def test_line_breaks_pass_where_text_may_run_over_lines(order):
    # Names the register copies from the server's own records, a card's message.
    order["customer"] = {"id": 7, "name": "Deco\tAddict"}
    order["cashier"] = {"id": 1, "name": "Mitchell\r\nAdmin"}
    order["payments"][0]["payment_method_name"] = "Card\n(offline)"
    order["lines"][0]["product_name"] = "Desk Pad\n\tlarge"
    order["payments"][0]["card"] = {"status": "failed", "message": "Declined.\nTry again."}
    order["payments"][0]["payment_method_id"] = 2
    checked = _valid(order)
    assert checked["lines"][0]["product_name"] == "Desk Pad\n\tlarge"
    assert checked["customer"]["name"] == "Deco\tAddict"
    # Never NUL, nor the other control characters, even there.
    order["customer"]["name"] = "Deco\x00Addict"
    assert _refused(order) == "customer name contains a control character (U+0000)"


@pytest.mark.parametrize(
    ("delta", "ok"),
    [
        (timedelta(minutes=9, seconds=59), True),
        (timedelta(minutes=10, seconds=1), False),
        (-timedelta(days=366) + timedelta(minutes=1), True),
        (-timedelta(days=366, minutes=1), False),
    ],
)
def test_created_at_must_be_plausible_on_the_server_clock(order, delta, ok):
    order["created_at"] = _at(delta)
    if ok:
        assert _valid(order)["created_at"] == order["created_at"]
    else:
        assert "check the register's clock" in _refused(order)


def test_created_at_without_offset_is_utc(order):
    order["created_at"] = (NOW + timedelta(minutes=11)).replace(tzinfo=None).isoformat()
    assert "more than 10 minutes after the server's time" in _refused(order)


def test_the_clock_defaults_to_now(order_factory):
    # No `now`: the real clock (the fixture's created_at is a minute ago).
    assert validate_order(order_factory())["created_at"]
    future = order_factory(created_at="2999-01-01T00:00:00Z")
    with pytest.raises(OrderValidationError, match="after the server's time"):
        validate_order(future)


# -- the opaque odoo part ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("odoo", "expected"),
    [
        ("x", "odoo is not an object"),
        ({"session_id": 2**31}, "odoo.session_id is out of range: 2147483648"),
        ({"lines": [[0, 0, {"product_id": 2**63}]]}, "odoo.lines[0][2].product_id is out of range"),
        ({"lines": [[0, 0, {"qty": -(2**31) - 1}]]}, "odoo.lines[0][2].qty is out of range"),
        ({"amount_total": 1e26}, "odoo.amount_total is too large: 1e+26"),
        ({"amount_total": math.inf}, "odoo.amount_total is not a finite number"),
        ({"name": "Order\x00"}, "odoo.name contains a control character (U+0000)"),
        ({"name": "Order\n1"}, "odoo.name contains a control character (U+000A)"),
        ({"internal_note": "a\x00b"}, "odoo.internal_note contains a control character (U+0000)"),
        (
            {"lines": [[0, 0, {"customer_note": "a\x07"}]]},
            "odoo.lines[0][2].customer_note contains",
        ),
        ({"uuid": "\ud800"}, "odoo.uuid is not valid Unicode text"),
        ({"x": {1, 2}}, "odoo.x is not a JSON value"),
        (
            {"deep": [[[[[[[[[[[[[1]]]]]]]]]]]]]},
            "odoo.deep" + "[0]" * 12 + " is nested too deeply",
        ),
        ({"many": list(range(200_001))}, "odoo has more than 200000 values"),
    ],
)
def test_odoo_part_is_bounded(order, odoo, expected):
    order["odoo"] = odoo
    assert _refused(order).startswith(expected)


def test_odoo_part_text_and_size_at_their_bounds(order):
    order["odoo"] = {"note": "a" * 1_000_000, "many": list(range(199_997))}
    assert len(_valid(order)["odoo"]["note"]) == 1_000_000  # 200000 values with the two above
    order["odoo"]["many"].append(0)
    assert _refused(order) == "odoo has more than 200000 values"
    order["odoo"] = {"note": "a" * 1_000_001}
    assert _refused(order) == "odoo.note is longer than 1000000 characters"


def test_odoo_part_at_its_bounds_passes_and_is_a_copy(order):
    odoo = {
        "session_id": 2**31 - 1,
        "sequence_number": -(2**31),
        "amount_total": 1e12,
        "general_customer_note": "Ring twice.\r\n\tThanks",
        "lines": [[0, 0, {"customer_note": "no onions\n", "qty": 2}]],
        "deep": [[[[[[[[[[[1]]]]]]]]]]],  # 12 levels under odoo: the bound
    }
    order["odoo"] = odoo
    checked = _valid(order)
    assert checked["odoo"] == odoo
    checked["odoo"]["lines"][0][2]["qty"] = 99
    assert odoo["lines"][0][2]["qty"] == 2  # the host may change its copy


# -- host helpers ------------------------------------------------------------------------------
def test_payments_cover():
    assert payments_cover(7, 7) and payments_cover(7, 6.996) and payments_cover(7, 70)
    assert not payments_cover(7, 6.995) and not payments_cover(7, 0)
    assert payments_cover(0, 0)
    # A return is covered by paying out at least its total.
    assert payments_cover(-7, -7) and payments_cover(-7, -6.996)
    assert not payments_cover(-7, -6.99) and not payments_cover(-7, 0)
    assert payments_cover(1000, 999.6, rounding=1) and not payments_cover(1000, 999.5, rounding=1)


def test_check_line_total():
    line = {"qty": 3, "price_unit": 1.2, "discount": 10, "price_subtotal_incl": 3.24}
    assert untaxed_line_total(line) == Decimal("3.240")
    check_line_total(line, 1, untaxed_line_total(line))
    line["price_subtotal_incl"] = 3.244
    check_line_total(line, 1, untaxed_line_total(line))
    line["price_subtotal_incl"] = 3.25
    with pytest.raises(OrderValidationError) as info:
        check_line_total(line, 2, untaxed_line_total(line))
    assert info.value.reason == (
        "line 2: line total 3.25 is not quantity x unit price less discount (3.24)"
    )
    # A tax engine that spreads rounding over the lines: `tolerance` units either way.
    check_line_total(line, 2, Decimal("3.24"), tolerance=1)
    line["price_subtotal_incl"] = 3.26
    with pytest.raises(OrderValidationError, match="with its taxes"):
        check_line_total(line, 2, Decimal("3.24"), tolerance=1, how=TAXED)


def test_payments_without_card_and_their_note(order):
    order["payments"] = [
        {"uuid": "a", "payment_method_id": 2, "payment_method_name": "Card", "amount": 5.0},
        {"uuid": "b", "payment_method_id": 1, "payment_method_name": "Cash", "amount": 1.0},
        {
            "uuid": "c",
            "payment_method_id": 2,
            "amount": 1.0,
            "card": {"status": "unprocessed", "envelope": {"v": 1}},
        },
    ]
    checked = _valid(order)
    missing = payments_without_card(checked, {2})
    assert [(i, p["uuid"]) for i, p in missing] == [(1, "a")]
    assert payments_without_card(checked, set()) == []
    assert no_card_reason(missing[0][1], "USD") == (
        "Card payment of 5.00 USD on Card has no card charged: take the payment again."
    )
    assert no_card_reason(missing[0][1], "JPY", 1, "Offline card").startswith(
        "Card payment of 5 JPY on Offline card"
    )


@pytest.mark.parametrize("rounded", [-6.88, -6.87])
def test_a_line_total_on_a_rounding_tie_is_accepted_either_way(rounded):
    # Found by the fault suite: -2.5 x 2.75 = -6.875 exactly; a register rounding it to -6.88
    # (half away from zero) or -6.87 (Math.round) must not see its order refused.
    from pos_offline_sync.core.order_schema import check_line_total, untaxed_line_total

    line = {"qty": -2.5, "price_unit": 2.75, "discount": 0, "price_subtotal_incl": rounded}
    check_line_total(line, 1, untaxed_line_total(line))
    with pytest.raises(OrderValidationError, match="line 1: line total"):
        check_line_total(dict(line, price_subtotal_incl=-6.86), 1, untaxed_line_total(line))


def test_change_is_given_from_the_total_the_hosts_cash_rounding_makes(order):
    """Odoo's register gives change from the cash-rounded total: 15.02 paid 20 is 5.00 back
    when it rounds to 15.00 (half-up, 0.05), 4.95 when it rounds to 15.05 (up). Never more
    than what makes the order paid at that total, and none without an overpayment."""
    order.update(amount_total=15.02, amount_return=5.0)
    order["lines"][0].update(qty=1, price_unit=15.02, price_subtotal_incl=15.02)
    order["payments"][0]["amount"] = 20.0
    assert _valid(order, rounded_total=lambda o: 15.0)["amount_return"] == 5.0
    assert _refused(order).startswith("amount_return 5.00 is more than")  # no rounding
    assert _refused(order, rounded_total=lambda o: 15.05).startswith("amount_return 5.00")
    order["amount_return"] = 4.95
    assert _valid(order, rounded_total=lambda o: 15.05)["amount_return"] == 4.95
    # 10.00 paid exactly 10.00: no change, whatever the rounding of the total.
    order.update(amount_total=10.0, amount_return=0.04)
    order["lines"][0].update(price_unit=10.0, price_subtotal_incl=10.0)
    order["payments"][0]["amount"] = 10.0
    assert _refused(order, rounded_total=lambda o: 10.0).startswith("amount_return 0.04")
