"""Validate while the register captures offline (real Odoo 19, headless Chromium).

The receipt is drawn at once, as Odoo's own offline path draws it, while the order's IndexedDB
write runs; nothing on it can be acted on before that write has committed. Each way the write
can go is made real rather than simulated:

- Slow: another connection to the register's offline database keeps a readwrite transaction
  open on its orders (IndexedDB runs overlapping readwrite transactions one after the other),
  so the capture's write waits behind it. Meanwhile the receipt shows, Odoo's block overlay
  past 300 ms, the cashier's click on New Order does nothing yet, and nothing is committed.
  Once the other transaction ends: stored once, paid, and the click held is made then (the
  next order starts without another click).
- Cut: the page is reloaded while the write waits (a crash between the receipt and the
  commit). Nothing half-written, nothing lost: Odoo brings the order back as the open order
  it was (its line and payment; validated again, stored once), or, if its own save of the paid
  order came first, as that order, which the register's next sync captures; either way stored
  once, landed once.
- Failed: the offline store's connection is closed under the register, so the write throws.
  Odoo's own path keeps the order (pending in its own sync, and its Connection Lost dialog
  shown as without the addon): the receipt's New Order works, and back online the order
  reaches the database once.
- Drawn first: the capture (the order's serialization and its write) begins once the receipt
  is in the page, not in Validate's own tick, and a second sync of Odoo's in that tick does
  not capture the order again.
- Refused: the write fails with the network up (manual offline) and Odoo's own sync, which the
  order then falls back to, is refused by the server (the cashier lost the POS rights
  meanwhile). The register goes back to the order's payment screen, where Odoo stays after a
  refusal, and the order is draft again.
"""

from __future__ import annotations

from contextlib import contextmanager

from playwright.sync_api import expect, sync_playwright

from tests.browser_wait import wait_for_promise
from tests.odoo_browser.test_cold_boot_odoo import (
    STATUS,
    SYNC,
    WAIT_MS,
    open_register,
    prepare,
    start_register,
)
from tools.odoo_server import Rpc

NEW_ORDER = ".receipt-screen [name='done']"
NEW_ORDER_READY = ".receipt-screen .button.next.highlight[name='done']"

# A second connection to the register's offline database holding a readwrite transaction on
# its orders until window.__blocker.release is set: requests chained in their own success
# callbacks keep a transaction alive (it commits once none is pending).
BLOCK_WRITES = """async () => {
    const name = window.posmodel.offlineSync.store.db.name;
    const db = await new Promise((resolve, reject) => {
        const request = indexedDB.open(name);
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
    });
    const blocker = (window.__blocker = { release: false, spins: 0 });
    const tx = db.transaction(["orders"], "readwrite");
    const orders = tx.objectStore("orders");
    const spin = () => {
        blocker.spins++;
        if (!blocker.release) {
            orders.get("no such order").onsuccess = spin;
        }
    };
    spin();
    blocker.done = new Promise((resolve) => {
        tx.oncomplete = () => { db.close(); resolve(true); };
    });
    return true;
}"""
RELEASE = "async () => { window.__blocker.release = true; return await window.__blocker.done; }"
STORED_UUIDS = "async () => await window.posmodel.offlineSync.listPendingUuids()"
CURRENT_UUID = "() => window.posmodel.getOrder()?.uuid"
VALIDATE = ".payment-screen button.validation-button.next"


def pay_in_cash(page, product: str) -> str:
    """One unit of `product`, the payment screen, cash; the order's uuid."""
    page.locator("article.product .product-name", has_text=product).click()
    uuid = page.evaluate(CURRENT_UUID)
    page.locator(".product-screen .pay-order-button").click()
    page.locator(".paymentmethods .button.paymentmethod .payment-name", has_text="Cash").click()
    return uuid


def pay_and_validate(page, product: str) -> str:
    """One unit of `product`, paid in cash, Validate clicked; the order's uuid."""
    uuid = pay_in_cash(page, product)
    page.locator(VALIDATE).click()
    return uuid


def lines_of(rpc, product_id):
    return rpc("pos.order.line", "search_read", [("product_id", "=", product_id)], ["order_id"])


# The Validate's finalization (the offline write) still running.
VALIDATING = "(uuid) => Boolean(window.posmodel.offlineValidations?.has(uuid))"
PENDING_COUNT = "() => window.posmodel.offlineSync.state.pendingCount"
IS_STORED = "async (uuid) => (await window.posmodel.offlineSync.listPendingUuids()).includes(uuid)"
STORED = "async (uuid) => await window.posmodel.offlineSync.getRecord(uuid)"
STATE_OF = "(uuid) => window.posmodel.models['pos.order'].getBy('uuid', uuid)?.state"
IN_DATABASE = (
    "async (uuid) => (await window.posmodel.data.orm.searchCount("
    "'pos.order', [['uuid', '=', uuid]])) === 1"
)


def go_offline(page) -> None:
    page.locator(STATUS).click()
    expect(page.locator(f"{STATUS}[data-offline='true']")).to_be_visible()


@contextmanager
def offline_register(odoo, tmp_path, config_id, *login):
    """The register opened (as `login`, password, when given) and switched to manual offline:
    (context, page); the browser closed after."""
    with sync_playwright() as pw:
        context, page = open_register(pw, odoo, tmp_path, config_id, *login)
        try:
            go_offline(page)
            yield context, page
        finally:
            context.close()


def click_where_drawn(page, selector: str) -> None:
    """The cashier's click (a real pointer event) where the element is drawn, whatever lies
    over it (Odoo's block overlay past 300 ms): Playwright's own click would wait for it."""
    box = page.locator(selector).first.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def test_the_receipt_waits_for_a_slow_write_before_anything_can_be_done(odoo, tmp_path):
    rpc = Rpc(odoo.url, odoo.db)
    setup = prepare(rpc)
    with offline_register(odoo, tmp_path, setup["config_id"]) as (context, page):
        before = page.evaluate(STORED_UUIDS)
        assert page.evaluate(BLOCK_WRITES)

        uuid = pay_and_validate(page, setup["product"])
        expect(page.locator(".receipt-screen")).to_be_visible()
        # Its payment cannot be edited in the back office's form: it is not there yet.
        expect(page.locator(".receipt-screen .edit-order-payment")).to_have_count(0)
        # Held, Odoo's overlay past 300 ms: the cashier's click on New Order does nothing yet.
        expect(page.locator(".o_blockUI")).to_be_visible()
        click_where_drawn(page, NEW_ORDER)
        page.wait_for_timeout(300)
        expect(page.locator(".receipt-screen")).to_be_visible()
        assert page.evaluate(CURRENT_UUID) == uuid
        assert page.evaluate("() => window.__blocker.spins") > 10
        # Not committed (a read of the store would itself wait behind the other transaction):
        # the finalization still runs and the count is the one before.
        assert page.evaluate(VALIDATING, uuid)
        assert page.evaluate(PENDING_COUNT) == len(before)

        # Committed: the click held is made then (the next order), without clicking again.
        assert page.evaluate(RELEASE)
        expect(page.locator(".product-screen")).to_be_visible()
        assert page.evaluate(CURRENT_UUID) != uuid
        expect(page.locator(".o_blockUI")).to_have_count(0)
        stored = page.evaluate(STORED_UUIDS)
        assert stored.count(uuid) == 1 and len(stored) == len(before) + 1, stored
        assert page.evaluate(STORED, uuid)["order"]["odoo"]["state"] == "paid"
        expect(page.locator(f"{SYNC}[data-count='{len(before) + 1}']")).to_be_visible()
    # In the browser only: nothing reached the server behind the cashier's back.
    assert lines_of(rpc, setup["product_id"]) == []


# Odoo's work after the write (auto print, other addons' after-validation steps) made to wait
# until window.__slowAfter.release() is called: a printer that does not answer.
SLOW_AFTER_VALIDATION = """() => {
    const module = odoo.loader.modules.get("@point_of_sale/app/utils/order_payment_validation");
    // Odoo's module transpiler keeps a default export under Symbol.for("default").
    const proto = (module[Symbol.for("default")] || module.default).prototype;
    const original = proto.afterOrderValidation;
    window.__slowAfter = {};
    proto.afterOrderValidation = async function (...args) {
        await new Promise((resolve) => { window.__slowAfter.release = resolve; });
        return original.apply(this, args);
    };
}"""


def test_slow_work_after_the_write_does_not_hold_the_receipt(odoo, tmp_path):
    rpc = Rpc(odoo.url, odoo.db)
    setup = prepare(rpc)
    with offline_register(odoo, tmp_path, setup["config_id"]) as (context, page):
        page.evaluate(SLOW_AFTER_VALIDATION)
        uuid = pay_and_validate(page, setup["product"])
        expect(page.locator(".receipt-screen")).to_be_visible()
        wait_for_promise(page, IS_STORED, uuid)
        # Committed, while the finalization still waits for its after-validation work: the
        # receipt takes the cashier's click now.
        assert page.evaluate(VALIDATING, uuid)
        page.locator(NEW_ORDER_READY).first.click()
        expect(page.locator(".product-screen")).to_be_visible()
        assert page.evaluate(CURRENT_UUID) != uuid
        assert page.evaluate(VALIDATING, uuid)
        page.evaluate("() => window.__slowAfter.release()")
        wait_for_promise(
            page, "async (uuid) => !window.posmodel.offlineValidations.has(uuid)", uuid
        )
        assert page.evaluate(STORED_UUIDS).count(uuid) == 1


# Each capture of the register's controller, noting whether the receipt was in the page when
# it began (the capture starts after the receipt is drawn, not in the same tick as Validate).
WATCH_CAPTURES = """() => {
    const sync = window.posmodel.offlineSync;
    const capture = sync.captureOrder.bind(sync);
    window.__captures = [];
    sync.captureOrder = (order) => {
        window.__captures.push({
            uuid: order.uuid,
            receiptDrawn: Boolean(document.querySelector(".receipt-screen")),
        });
        return capture(order);
    };
}"""


def test_the_capture_begins_once_the_receipt_is_drawn_and_once_per_order(odoo, tmp_path):
    rpc = Rpc(odoo.url, odoo.db)
    setup = prepare(rpc)
    with offline_register(odoo, tmp_path, setup["config_id"]) as (context, page):
        page.evaluate(WATCH_CAPTURES)
        uuid = pay_in_cash(page, setup["product"])
        # Validate, and right after it (its capture begun, not committed) a second sync of
        # Odoo's (its debounced one, a closing): both would capture the order; once is enough.
        page.evaluate(
            """(selector) => new Promise((resolve) => {
                document.querySelector(selector).click();
                setTimeout(() => {
                    window.__secondSawCapture = window.posmodel.offlineCapturing?.size > 0;
                    window.__second = window.posmodel.syncAllOrders();
                    resolve();
                }, 0);
            })""",
            VALIDATE,
        )
        wait_for_promise(page, IS_STORED, uuid)
        page.evaluate("async () => { await window.__second; }")
        # The second sync came while the Validate's capture was under way.
        assert page.evaluate("() => window.__secondSawCapture")
        expect(page.locator(NEW_ORDER_READY)).to_be_visible()
        captures = page.evaluate("() => window.__captures")
        assert captures == [{"uuid": uuid, "receiptDrawn": True}], captures
        assert page.evaluate(STORED_UUIDS).count(uuid) == 1


# What Odoo does when another device closes the session (PosStore.closingSessionNotification):
# every paid order not synced back in its pending orders, then its sync.
CLOSING_ELSEWHERE = """async () => {
    const pos = window.posmodel;
    const paid = pos.models["pos.order"].filter((o) => o.state === "paid" && !o.isSynced);
    pos.addPendingOrder(paid.map((o) => o.id));
    await pos.syncAllOrders({ throw: true });
}"""


def test_an_offline_order_put_back_in_pending_is_not_captured_again_nor_sent_by_odoo(
    odoo, tmp_path
):
    rpc = Rpc(odoo.url, odoo.db)
    setup = prepare(rpc)
    with offline_register(odoo, tmp_path, setup["config_id"]) as (context, page):
        page.evaluate(WATCH_CAPTURES)
        uuid = pay_and_validate(page, setup["product"])
        wait_for_promise(page, IS_STORED, uuid)
        page.locator(NEW_ORDER_READY).first.click()
        expect(page.locator(".product-screen")).to_be_visible()
        kept = page.evaluate(STORED, uuid)

        # Still offline: captured once, its stored copy (with the commands the first capture
        # consumed) untouched.
        page.evaluate(CLOSING_ELSEWHERE)
        assert [c["uuid"] for c in page.evaluate("() => window.__captures")] == [uuid]
        assert page.evaluate(STORED, uuid)["order"] == kept["order"]

        # Back online, the order still waiting in the offline store and changed in Odoo's
        # memory (as a reprint counts): Odoo's own sync does not send it behind the store.
        sent = []
        page.on(
            "request",
            lambda r: (
                "/pos.order/sync_from_ui" in r.url
                and uuid in (r.post_data or "")
                and sent.append(r.url)
            ),
        )
        page.locator(STATUS).click()
        expect(page.locator(f"{STATUS}[data-offline='false']")).to_be_visible()
        page.evaluate(
            "(uuid) => { window.posmodel.models['pos.order'].getBy('uuid', uuid).nb_print = 1; }",
            uuid,
        )
        page.evaluate(CLOSING_ELSEWHERE)
        assert sent == []
        assert rpc("pos.order", "search_count", [("uuid", "=", uuid)]) == 0
        assert page.evaluate(STORED_UUIDS).count(uuid) == 1


def test_a_reload_during_the_write_loses_nothing_and_stores_nothing_twice(odoo, tmp_path):
    rpc = Rpc(odoo.url, odoo.db)
    setup = prepare(rpc)
    with offline_register(odoo, tmp_path, setup["config_id"]) as (context, page):
        uuid = pay_in_cash(page, setup["product"])
        # Odoo keeps its open order in its own IndexedDB 300 ms after a change.
        page.wait_for_timeout(800)
        assert page.evaluate(BLOCK_WRITES)
        page.locator(VALIDATE).click()
        expect(page.locator(".receipt-screen")).to_be_visible()
        assert page.evaluate(VALIDATING, uuid)
        page.reload()  # the write still waits: the page's transaction dies with it
        # Back on the receipt if Odoo's own save of the paid order came first, else opened
        # again on the order as it was.
        back = page.locator(".receipt-screen, .product-screen, .screen-login .open-register-btn")
        expect(back.first).to_be_visible(timeout=WAIT_MS)
        if not page.locator(".receipt-screen").is_visible():
            start_register(page)
        wait_for_promise(page, "async () => Boolean(window.posmodel.offlineSync)")

        # Nothing half-written, nothing lost. Odoo saves its orders 300 ms after a change:
        # reloaded sooner it brings the order back as the open, paid-for draft it was, to be
        # validated again; later, as the paid order it became, which the register's next sync
        # captures. Either way it is kept exactly once.
        restored = page.evaluate(
            "(uuid) => { const o = window.posmodel.models['pos.order'].getBy('uuid', uuid);"
            " return o && {state: o.state, lines: o.lines.length,"
            " paid: o.payment_ids.reduce((s, p) => s + p.amount, 0)}; }",
            uuid,
        )
        stored = page.evaluate(STORED, uuid)
        if stored is None and restored and restored["state"] == "paid":
            # Odoo's pending paid order: its next sync, capturing offline, stores it.
            page.evaluate("async () => { await window.posmodel.syncAllOrders(); }")
            stored = page.evaluate(STORED, uuid)
            assert stored is not None, restored
        if stored is None:
            assert restored == {"state": "draft", "lines": 1, "paid": 2.5}, restored
            page.evaluate(
                "(uuid) => { const pos = window.posmodel;"
                " pos.setOrder(pos.models['pos.order'].getBy('uuid', uuid));"
                " pos.navigate('PaymentScreen', {orderUuid: uuid}); }",
                uuid,
            )
            page.locator(VALIDATE).click()
            expect(page.locator(NEW_ORDER_READY)).to_be_visible()
        else:
            assert stored["order"]["odoo"]["state"] == "paid", stored
            assert restored is None or restored["state"] != "draft", restored
        assert page.evaluate(STORED_UUIDS).count(uuid) == 1
        # Lands once.
        go_online = "() => window.posmodel.offlineSync.setManualOffline(false)"
        page.evaluate(go_online)
        page.evaluate("async (uuid) => { await window.posmodel.offlineSync.sync([uuid]); }", uuid)
        wait_for_promise(page, IN_DATABASE, uuid)
    assert len(lines_of(rpc, setup["product_id"])) == 1


def test_a_failed_write_leaves_the_order_to_odoos_own_sync(odoo, tmp_path):
    rpc = Rpc(odoo.url, odoo.db)
    setup = prepare(rpc)
    with offline_register(odoo, tmp_path, setup["config_id"]) as (context, page):
        context.set_offline(True)
        wait_for_promise(page, "async () => window.posmodel.data.network.offline === true")
        page.evaluate("() => window.posmodel.offlineSync.store.db.close()")

        uuid = pay_and_validate(page, setup["product"])
        expect(page.locator(NEW_ORDER_READY)).to_be_visible()
        # Odoo's own offline path says so once, as without the addon.
        page.get_by_text("Continue with limited functionality").click()
        pending = page.evaluate(
            "() => window.posmodel.getPendingOrder().orderToCreate.map((o) => o.uuid)"
        )
        assert uuid in pending, pending
        page.locator(NEW_ORDER_READY).first.click()
        expect(page.locator(".product-screen")).to_be_visible()

        # Back online (and out of manual offline): Odoo's own sync sends it, once.
        context.set_offline(False)
        page.evaluate("() => window.posmodel.offlineSync.setManualOffline(false)")
        page.evaluate("async () => { await window.posmodel.syncAllOrders(); }")
        wait_for_promise(page, IN_DATABASE, uuid)
    assert len(lines_of(rpc, setup["product_id"])) == 1
    assert rpc("pos.order", "search_count", [("uuid", "=", uuid)]) == 1


def group_id(rpc, xmlid: str) -> int:
    module, name = xmlid.split(".")
    [ref] = rpc(
        "ir.model.data", "search_read", [("module", "=", module), ("name", "=", name)], ["res_id"]
    )
    return ref["res_id"]


def test_a_refused_finalization_goes_back_to_the_payment_screen(odoo, tmp_path):
    """The server refuses for real: the cashier loses the POS rights while the register is
    open, so Odoo's own sync of the order (which the failed write falls back to, the network
    being up) is answered with an access error."""
    rpc = Rpc(odoo.url, odoo.db)
    setup = prepare(rpc)
    pos_user = group_id(rpc, "point_of_sale.group_pos_user")
    login = f"refused-{setup['product_id']}"
    cashier = rpc(
        "res.users",
        "create",
        {
            "name": "Refused Cashier",
            "login": login,
            "password": login,
            "group_ids": [(6, 0, [group_id(rpc, "base.group_user"), pos_user])],
        },
    )
    with offline_register(odoo, tmp_path, setup["config_id"], login, login) as (context, page):
        uuid = pay_in_cash(page, setup["product"])
        rpc("res.users", "write", [cashier], {"group_ids": [(3, pos_user)]})
        page.evaluate("() => window.posmodel.offlineSync.store.db.close()")
        page.locator(VALIDATE).click()

        expect(page.locator(".o_error_dialog, .modal-dialog").first).to_be_visible()
        expect(page.locator(".payment-screen")).to_be_visible()
        expect(page.locator(".receipt-screen")).to_have_count(0)
        assert page.evaluate(CURRENT_UUID) == uuid
        assert page.evaluate(STATE_OF, uuid) == "draft"
    assert rpc("pos.order", "search_count", [("uuid", "=", uuid)]) == 0
