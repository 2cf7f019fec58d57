"""A reload that restores an order already paid (real Odoo 19, headless Chromium).

Odoo writes its orders to IndexedDB 300 ms after a change, so a page reloaded sooner restores
an order already paid and synced as an open, empty draft, and makes it the current order: the
next sale then carries that order's uuid and Odoo's sync answers "sync ignored", the sale lost
(bench/odoo_browser_bench.py: 1 sale in 70). The race is made certain here: the order's draft
copy, taken before it was paid, is written back into Odoo's IndexedDB once the order is in the
database, then the page is reloaded. With offline mode on the register must not continue with
that order, and the next sale must reach the database as an order of its own."""

from __future__ import annotations

from playwright.sync_api import expect, sync_playwright

from tests.browser_wait import wait_for_promise
from tests.odoo_browser.test_cold_boot_odoo import (
    open_register,
    prepare,
    sell,
    start_register,
)
from tools.odoo_server import Rpc

# The current order's draft copy, as Odoo keeps it in IndexedDB.
SNAPSHOT = "() => window.__staleCopy = window.posmodel.getOrder().serializeForIndexedDB()"
PUT_BACK = """async () => {
    await window.posmodel.data.indexedDB.create("pos.order", [window.__staleCopy]);
    return window.__staleCopy.uuid;
}"""
IN_INDEXEDDB = """async (uuid) => {
    const all = await window.posmodel.data.indexedDB.readAll(["pos.order"]);
    return (all?.["pos.order"] || []).some((o) => o.uuid === uuid);
}"""
OPEN_UUIDS = """() => window.posmodel.models["pos.order"]
    .filter((o) => !o.finalized).map((o) => o.uuid)"""


def orders_of(rpc, product_id):
    lines = rpc(
        "pos.order.line", "search_read", [("product_id", "=", product_id)], ["order_id", "qty"]
    )
    return sorted((line["order_id"][0], line["qty"]) for line in lines)


def test_a_reload_restoring_a_paid_order_does_not_reuse_it(odoo, tmp_path):
    rpc = Rpc(odoo.url, odoo.db)
    setup = prepare(rpc)
    with sync_playwright() as pw:
        context, page = open_register(pw, odoo, tmp_path, setup["config_id"])

        # One sale online; its draft copy kept from before it was paid.
        page.evaluate(SNAPSHOT)
        stale = page.evaluate("() => window.__staleCopy.uuid")
        sell(page, setup["product"], 2)
        wait_for_promise(
            page,
            "async (id) => (await window.posmodel.data.orm.searchCount("
            "'pos.order.line', [['product_id', '=', id]])) > 0",
            setup["product_id"],
        )
        # What a quick reload finds: the paid order's draft copy in Odoo's IndexedDB.
        assert page.evaluate(PUT_BACK) == stale
        assert wait_for_promise(page, IN_INDEXEDDB, stale)
        page.reload()
        start_register(page)
        open_orders = page.evaluate(OPEN_UUIDS)
        assert stale not in open_orders, open_orders
        assert page.evaluate("() => window.posmodel.getOrder()?.uuid") != stale

        # The next sale is an order of its own in the database.
        sell(page, setup["product"], 3)
        wait_for_promise(
            page,
            "async (id) => (await window.posmodel.data.orm.searchCount("
            "'pos.order.line', [['product_id', '=', id]])) > 1",
            setup["product_id"],
        )
        expect(page.locator(".product-screen")).to_be_visible()
        context.close()
    found = orders_of(rpc, setup["product_id"])
    assert [qty for _, qty in found] == [2, 3], found
    assert len({order for order, _ in found}) == 2, found
