"""axe-core (npm) over the sandbox's pages in real Chromium: the register (login, selling,
offline with orders waiting), the sync dialog with results shown, and the back-office pages
(orders, an order, settings, CSV import with its results). 0 serious or critical violations;
every page's counts are printed at the end of the run. The card form and a dialog with
declines are scanned in tests/e2e/cards/test_axe_cards_e2e.py."""

import json

from e2e_pos import (
    DIALOG,
    go_offline,
    go_online,
    open_register,
    open_sync_dialog,
    row,
    sell,
    set_settings,
)
from playwright.sync_api import expect

SYNC_RPC = "**/rpc/offline_sync_orders"


def _clean(result):
    assert result["severe"] == [], json.dumps(result["severe"], indent=1)


def test_axe_register_and_sync_dialog(sandbox, page, axe):
    set_settings(page, sandbox.url, offline=True)
    page.goto(f"{sandbox.url}/pos")
    expect(page.locator("[data-test=login-screen]")).to_be_visible()
    _clean(axe(page, "register: login"))
    open_register(page, sandbox.url)
    go_offline(page)
    kept = sell(page, [0, 1], customer="Deco Addict", expect_status="offline")
    lost = sell(page, [2], refund=True, expect_status="offline")
    page.locator("[data-test=product]").nth(3).click()
    _clean(axe(page, "register: offline, 2 orders waiting"))

    go_online(page)
    dialog = open_sync_dialog(page)
    _clean(axe(page, "sync dialog: list"))
    row(page, kept).locator("[data-test=row-check]").check()
    dialog.locator("[data-test=sync-submit]").click()
    expect(row(page, kept).locator("[data-status=ok]")).to_be_visible()
    page.route(SYNC_RPC, lambda route: route.abort("connectionreset"))
    row(page, lost).locator("[data-test=row-check]").check()
    dialog.locator("[data-test=sync-submit]").click()
    expect(row(page, lost).locator("[data-status=pending]")).to_be_visible()
    _clean(axe(page, "sync dialog: synced and not sent"))
    page.set_viewport_size({"width": 390, "height": 844})
    _clean(axe(page, "sync dialog: 390 px, folded"))


def test_axe_back_office_pages(sandbox, page, axe, tmp_path):
    set_settings(page, sandbox.url, offline=True)
    _clean(axe(page, "back office: settings (saved)"))
    open_register(page, sandbox.url)
    go_offline(page)
    uuid = sell(page, [0, 1], customer="Deco Addict", expect_status="offline")
    dialog = open_sync_dialog(page)
    row(page, uuid).locator("[data-test=row-check]").check()
    with page.expect_download() as download:
        dialog.locator("[data-test=csv-export]").click()
    path = tmp_path / "orders.csv"
    download.value.save_as(path)
    dialog.locator("[data-test=dialog-close]").click()
    expect(page.locator(DIALOG)).to_have_count(0)

    back = page.context.new_page()
    back.goto(f"{sandbox.url}/backoffice/import")
    _clean(axe(back, "back office: CSV import"))
    back.set_input_files("#csv-file", str(path))
    back.locator("#import").click()
    expect(back.locator("#import-results")).to_be_visible()
    _clean(axe(back, "back office: CSV import results"))
    back.goto(f"{sandbox.url}/backoffice")
    _clean(axe(back, "back office: orders"))
    back.goto(f"{sandbox.url}/backoffice/order/{uuid}")
    _clean(axe(back, "back office: an order"))
    back.goto(f"{sandbox.url}/settings")
    _clean(axe(back, "back office: settings"))
    back.goto(f"{sandbox.url}/backoffice/sessions")
    _clean(axe(back, "back office: sessions"))
