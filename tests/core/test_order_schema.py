"""validate_order: every refusal names the field (and the line or payment) that is wrong."""

import copy
import math

import pytest

from pos_offline_sync.core.order_schema import OrderValidationError, validate_order


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
    assert order["odoo"] == {"opaque": [1, 2]}  # unknown keys kept as they are


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
        (lambda o: o.update(uuid="a\nb"), "uuid is not a valid identifier"),
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
        (lambda o: o.update(amount_return=-1), "amount_return must not be below 0: -1"),
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
