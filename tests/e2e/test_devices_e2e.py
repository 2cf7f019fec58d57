"""Devices known to the back office (issue 11), in real Chromium: two registers in two browser
profiles hold offline orders; the sandbox's Devices page lists both with their counts, oldest
orders, unprocessed cards and cashier; once one syncs, its row drops to 0 on the open page
(no reload); a rename shows up the same way."""

from __future__ import annotations

import os
from datetime import datetime, timezone

from e2e_pos import (
    ROOT,
    go_offline,
    go_online,
    open_register,
    open_sync_dialog,
    pos_data,
    sell,
    stored_orders,
    sync_log,
)
from playwright.sync_api import expect

from tests.e2e.cards.test_cards_e2e import set_limits, take_card

# As test_screenshots.py: var/screenshots unless SCREENSHOTS_DIR=docs/screenshots.
SHOTS = ROOT / os.environ.get("SCREENSHOTS_DIR", "var/screenshots")

READ_DEVICE = """async (name) => {
    const db = await new Promise((resolve, reject) => {
        const req = indexedDB.open(name);
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
    });
    try {
        return await new Promise((resolve, reject) => {
            const req = db.transaction("device", "readonly").objectStore("device").get("self");
            req.onsuccess = () => resolve(req.result);
            req.onerror = () => reject(req.error);
        });
    } finally { db.close(); }
}"""


def _device(page, data):
    return page.evaluate(READ_DEVICE, f"pos_offline_sync-{data['db_name']}-device")


def _oldest(page, data) -> datetime:
    created = min(r["created_at"] for r in stored_orders(page, data))
    return datetime.fromisoformat(created).replace(microsecond=0).astimezone(timezone.utc)


def _device_row(page, device_id):
    return page.locator(f'#devices tr[data-device-id="{device_id}"]')


def test_two_registers_are_listed_and_a_sync_drops_to_zero_without_reload(sandbox, browser):
    first = browser.new_context()
    second = browser.new_context()
    office = browser.new_context()
    try:
        a = first.new_page()
        set_limits(a, sandbox.url, hours=24)
        data = pos_data(a, sandbox.url)
        open_register(a, sandbox.url, cashier=0)
        go_offline(a)
        sell(a, [0], expect_status="offline")
        sell(a, [1, 2], expect_status="offline")
        go_online(a)

        b = second.new_page()
        open_register(b, sandbox.url, cashier=1)
        go_offline(b)
        sell(b, [3], expect_status="offline")
        take_card(b, products=(0, 0))  # 7.00 on a card, waiting to be processed
        go_online(b)

        device_a, device_b = _device(a, data), _device(b, data)
        assert device_a["id"] != device_b["id"]

        page = office.new_page()
        page.goto(f"{sandbox.url}/backoffice/devices")
        page.evaluate("window.__notReloaded = true")
        row_a, row_b = _device_row(page, device_a["id"]), _device_row(page, device_b["id"])
        expect(row_a).to_have_attribute("data-waiting", "2")
        expect(row_b).to_have_attribute("data-waiting", "2")
        expect(row_b).to_have_attribute("data-card-count", "1")
        expect(row_b).to_have_attribute("data-card-amount", "7.0")
        expect(page.locator("#devices-summary")).to_have_text("4 order(s) waiting on 2 device(s)")
        for row, tab in ((row_a, a), (row_b, b)):
            oldest = datetime.fromisoformat(row.get_attribute("data-oldest-at"))
            assert oldest == _oldest(tab, data)
            expect(row.locator(".oldest")).to_contain_text("ago")
            expect(row.locator(".register")).to_have_text("Shop")
            expect(row).to_have_attribute("data-stale", "false")
        expect(row_a.locator(".cashier")).to_have_text("Mitchell Admin")
        expect(row_b.locator(".cashier")).to_have_text("Marc Demo")
        expect(row_b.locator(".cards")).to_contain_text("23 h")  # of the 24 h age limit
        expect(row_a.locator(".cards")).to_have_text("none")
        expect(row_a.locator(".device-name")).to_contain_text(device_a["name"])
        persistence = a.locator("[data-test=storage]").get_attribute("data-persistence")
        expect(row_a).to_have_attribute("data-storage", persistence)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.set_viewport_size({"width": 1280, "height": 560})
        page.screenshot(path=str(SHOTS / "sandbox-devices.png"))

        # Register A syncs everything: its row drops to 0 on the open page.
        dialog = open_sync_dialog(a)
        dialog.locator("[data-test=select-all]").check()
        dialog.locator("[data-test=sync-submit]").click()
        expect(dialog.locator("[data-test=sync-message]")).to_have_text("2 orders synced.")
        expect(row_a).to_have_attribute("data-waiting", "0")
        expect(row_a).to_have_attribute("data-oldest-at", "")
        expect(row_b).to_have_attribute("data-waiting", "2")
        expect(page.locator("#devices-summary")).to_have_text("2 order(s) waiting on 1 device(s)")
        # The sync log has that sync, with this device and its cashier.
        (entry,) = sync_log(page, sandbox.url)
        assert entry["device_id"] == device_a["id"]
        assert (entry["sent"], entry["created"], entry["refused"]) == (2, 2, 0)
        assert entry["cashier"] == "Mitchell Admin"

        # A rename at register B reaches the page the same way.
        dialog_b = open_sync_dialog(b)
        dialog_b.locator("[data-test=device-rename]").click()
        dialog_b.locator("[data-test=device-name-input]").fill("Back counter")
        dialog_b.locator("[data-test=device-save]").click()
        expect(dialog_b.locator("[data-test=device-name-text]")).to_have_text("Back counter")
        expect(row_b.locator(".device-name")).to_contain_text("Back counter")
        assert _device(b, data)["name"] == "Back counter"
        assert page.evaluate("window.__notReloaded") is True
        assert int(page.locator("#devices").get_attribute("data-polls")) > 0
    finally:
        for ctx in (first, second, office):
            ctx.close()


def test_a_device_name_is_checked_at_the_register(sandbox, page):
    set_limits(page, sandbox.url)
    open_register(page, sandbox.url)
    dialog = open_sync_dialog(page)
    dialog.locator("[data-test=device-rename]").click()
    field = dialog.locator("[data-test=device-name-input]")
    field.fill("   ")
    dialog.locator("[data-test=device-save]").click()
    expect(dialog.locator("[data-test=device-name-error]")).to_have_text(
        "The device name cannot be empty."
    )
    # Escape leaves the field, not the dialog.
    field.press("Escape")
    expect(dialog).to_be_visible()
    expect(dialog.locator("[data-test=device-name-input]")).to_have_count(0)
