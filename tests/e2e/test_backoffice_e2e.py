"""The sandbox back office as an accountant's browser shows it: dates in the browser's own
locale and time zone, one title per order page, and links that reach orders whose id holds a
`/`, a `?` or a `#`."""

import json
import re

import pytest
from playwright.sync_api import expect

from tests.order_support import plain_order

ODD_IDS = ["odd/id", "what?x=1&y=2", "hash#frag", "space and %25 percent"]


def _sync(page, url, orders):
    answer = page.request.post(
        f"{url}/rpc/offline_sync_orders",
        data=json.dumps({"v": 1, "config_id": 1, "orders": orders}),
        headers={"Content-Type": "application/json"},
    )
    assert answer.ok, answer.text()
    assert all(r["ok"] for r in answer.json()["result"]["results"]), answer.text()


@pytest.mark.parametrize(
    "locale, zone, expected",
    [
        ("fr-FR", "Europe/Paris", r"^5 mars 2026.{1,4}15:07$"),
        ("en-US", "America/New_York", r"^Mar 5, 2026.{1,4}9:07\sAM$"),
    ],
)
def test_dates_in_the_browsers_locale(sandbox, browser, locale, zone, expected):
    context = browser.new_context(locale=locale, timezone_id=zone)
    try:
        page = context.new_page()
        order = plain_order(
            "00000000-0000-4000-8000-000000000001",
            reference="Order 00001-0003",
            created_at="2026-03-05T14:07:00.000Z",
        )
        _sync(page, sandbox.url, [order])
        page.goto(f"{sandbox.url}/backoffice")
        date = page.locator(f'#orders tr[data-uuid="{order["uuid"]}"] td.date time')
        expect(date).to_have_text(re.compile(expected))
        expect(date).to_have_attribute("datetime", "2026-03-05T14:07:00.000Z")
        page.locator(f'#orders tr[data-uuid="{order["uuid"]}"] a').click()
        expect(page.locator("#order time")).to_have_text(re.compile(expected))
        # One title: the reference already says "Order".
        expect(page.locator("h1")).to_have_text("Order 00001-0003")
        expect(page).to_have_title("Order 00001-0003 · Sandbox")
        expect(page.locator("body")).not_to_contain_text("Order Order")
    finally:
        context.close()


def test_links_reach_orders_whose_id_has_slash_question_mark_or_hash(sandbox, page):
    orders = [
        plain_order(uuid, reference=f"Shop/{i:04d}", created_at="2026-03-05T14:07:00.000Z")
        for i, uuid in enumerate(ODD_IDS, start=1)
    ]
    _sync(page, sandbox.url, orders)
    for order in orders:
        page.goto(f"{sandbox.url}/backoffice")
        page.locator("#orders tr", has_text=order["reference"]).locator("a").click()
        expect(page.locator("#order")).to_have_attribute("data-uuid", order["uuid"])
        # A bare reference gets the word "Order" once.
        expect(page.locator("h1")).to_have_text(f"Order {order['reference']}")
    missing = page.goto(f"{sandbox.url}/backoffice/order/odd%2Fnope")
    assert missing.status == 404
