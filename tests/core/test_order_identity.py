"""core/order_identity.py: a resend is the stored sale, another sale under the same uuid is
not, and the uuid that other sale is stored under is the same for every resend of it."""

from __future__ import annotations

from pos_offline_sync.core.order_identity import (
    SaleIdentity,
    identity_of,
    reused_uuid,
    same_sale,
)
from tests.order_support import plain_order


def test_a_resend_is_the_same_sale():
    order = plain_order("u-1", reference="R1")
    assert same_sale(identity_of(order), identity_of(order))


def with_odoo_lines(order, *line_uuids):
    order["odoo"] = {"lines": [[0, 0, {"uuid": u, "product_id": 1, "qty": 1}] for u in line_uuids]}
    return order


def test_another_sale_with_the_same_goods_is_told_apart_by_its_line_uuids():
    first = with_odoo_lines(plain_order("u-1", reference="R1"), "line-1")
    second = with_odoo_lines(plain_order("u-1", reference="R1"), "line-2")  # same goods...
    second["payments"][0]["uuid"] = "cash-of-the-next-sale"  # ...rung up later
    assert not same_sale(identity_of(first), identity_of(second))


def test_a_payment_or_a_line_in_common_is_the_same_sale():
    # A declined card: stored with no payment; the register's resend still names its card.
    stored = SaleIdentity.of(line_uuids=["l1"], lines=[(1, 1)], total=7)
    resend = SaleIdentity.of(payment_uuids=["card-1"], line_uuids=["l1"], lines=[(1, 1)], total=7)
    other = SaleIdentity.of(payment_uuids=["card-2"], line_uuids=["l9"], lines=[(1, 1)], total=7)
    assert same_sale(stored, resend)
    assert not same_sale(stored, other)
    # Paid in the back office since: its payments are not the register's, its lines are.
    paid_since = SaleIdentity.of(payment_uuids=["bo-1"], line_uuids=["l1"], lines=[(1, 1)], total=7)
    assert same_sale(paid_since, resend)


def test_a_csv_resend_of_an_order_paid_in_the_back_office_is_the_same_sale():
    stored = SaleIdentity.of(payment_uuids=["bo-1"], line_uuids=["l1"], lines=[(1, 2)], total=7)
    csv_row = SaleIdentity.of(payment_uuids=["card-1"], lines=[(1, 2)], total=7)  # no line uuids
    assert same_sale(stored, csv_row)
    assert not same_sale(stored, SaleIdentity.of(payment_uuids=["c"], lines=[(1, 3)], total=9))


def test_without_uuids_the_goods_and_total_decide():
    # A CSV row has no line uuids; a declined card left no payment.
    stored = SaleIdentity.of(lines=[(1, 2), (3, 1)], total=9.5)
    assert same_sale(stored, SaleIdentity.of(lines=[(3, 1), (1, 2)], total=9.504))
    assert not same_sale(stored, SaleIdentity.of(lines=[(1, 2)], total=9.5))
    assert not same_sale(stored, SaleIdentity.of(lines=[(1, 2), (3, 1)], total=9.6))


def test_the_reused_uuid_is_stable_per_sale_and_differs_between_sales():
    first = plain_order("u-1", reference="R1")
    second = plain_order("u-1", reference="R1")
    second["payments"][0]["uuid"] = "cash-2"
    third = plain_order("u-1", reference="R1")
    third["payments"][0]["uuid"] = "cash-3"
    again = reused_uuid("u-1", identity_of(second))
    assert again == reused_uuid("u-1", identity_of(second))
    assert again != reused_uuid("u-1", identity_of(third))
    assert again != "u-1" and reused_uuid("u-2", identity_of(second)) != again
    assert identity_of(first) != identity_of(second)


def test_odoo_ui_line_uuids_are_read_from_the_odoo_part():
    order = plain_order("u-1", reference="R1", payments=[])
    order["odoo"] = {"lines": [[0, 0, {"uuid": "line-a", "product_id": 1, "qty": 1}]]}
    assert identity_of(order).line_uuids == frozenset({"line-a"})


def test_a_stale_copy_with_another_sales_lines_added_is_another_sale():
    stored = SaleIdentity.of(payment_uuids=["p1"], line_uuids=["l1"], lines=[(1, 1)], total=7)
    extended = SaleIdentity.of(
        payment_uuids=["p2"], line_uuids=["l1", "l2"], lines=[(1, 1), (4, 2)], total=19
    )
    assert not same_sale(stored, extended)
    # A tip added to the paid order since: its payment is still the register's.
    tipped = SaleIdentity.of(
        payment_uuids=["p1"], line_uuids=["l1", "tip"], lines=[(1, 1), (9, 1)], total=8
    )
    assert same_sale(stored, tipped)
