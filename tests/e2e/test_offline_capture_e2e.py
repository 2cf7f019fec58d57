"""Manual offline: red icon, sales captured in the real IndexedDB, red sync icon with the count,
sync refused while offline; the icons work from the keyboard."""

import re

from e2e_pos import (
    STATUS,
    SYNC,
    backoffice_uuids,
    go_offline,
    open_register,
    open_sync_dialog,
    pos_data,
    sell,
    set_settings,
    stored_orders,
)
from playwright.sync_api import expect


def test_manual_offline_captures_sales_and_refuses_sync(sandbox, page):
    set_settings(page, sandbox.url, offline=True)
    data = pos_data(page, sandbox.url)
    open_register(page, sandbox.url)

    go_offline(page)
    status = page.locator(STATUS)
    expect(status).to_have_attribute("aria-pressed", "true")
    expect(status).to_have_attribute("aria-label", "Offline: click to go back online")
    expect(status).to_have_class(re.compile("o_pos_offline_is_offline"))

    first = sell(page, [0, 0, 1], customer="Deco Addict", expect_status="offline")
    second = sell(page, [2], refund=True, expect_status="offline")

    records = {r["uuid"]: r for r in stored_orders(page, data)}
    assert set(records) == {first, second}
    sale = records[first]["order"]
    assert sale["customer"]["name"] == "Deco Addict"
    assert [line["qty"] for line in sale["lines"]] == [2, 1]
    assert sale["is_return"] is False
    refund = records[second]["order"]
    assert refund["is_return"] is True and refund["amount_total"] < 0
    assert all(line["qty"] < 0 for line in refund["lines"])

    sync = page.locator(SYNC)
    expect(sync).to_have_attribute("data-count", "2")
    expect(sync).to_have_class(re.compile("o_pos_offline_has_pending"))
    expect(sync).to_have_attribute("aria-label", "Sync to Server: 2 offline orders waiting")
    expect(page.locator("[data-test=sync-count]")).to_have_text("2")

    dialog = open_sync_dialog(page)
    expect(dialog.locator("[data-test=sync-row]")).to_have_count(2)
    expect(dialog.locator("[data-test=offline-reason]")).to_have_text(
        "You are offline: cards can be processed and orders synced only when the POS is online."
    )
    dialog.locator("[data-test=select-all]").check()
    expect(dialog.locator("[data-test=sync-submit]")).to_be_disabled()
    # Even a call that goes around the disabled button is refused while offline.
    refused = page.evaluate(
        """async (uuids) => {
            const controller = window.__posSandbox.app.root.component.state.controller;
            try { await controller.sync(uuids); return "synced"; } catch (e) { return e.message; }
        }""",
        [first, second],
    )
    assert "only when the POS is online" in refused
    assert backoffice_uuids(page, sandbox.url) == []
    assert {r["uuid"] for r in stored_orders(page, data)} == {first, second}


def test_icons_work_from_the_keyboard(sandbox, page):
    set_settings(page, sandbox.url, offline=True)
    open_register(page, sandbox.url)
    status = page.locator(STATUS)

    status.focus()
    page.keyboard.press("Enter")
    expect(status).to_have_attribute("data-offline", "true")
    page.keyboard.press("Space")
    expect(status).to_have_attribute("data-offline", "false")

    page.locator(SYNC).focus()
    page.keyboard.press("Enter")
    dialog = page.locator("[data-test=sync-dialog]")
    expect(dialog).to_be_visible()
    expect(dialog).to_have_attribute("role", "dialog")
    expect(dialog.locator("[data-test=no-orders]")).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(page.locator(SYNC)).to_be_focused()
