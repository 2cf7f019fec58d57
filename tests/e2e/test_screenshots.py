"""Screenshots for the docs: the register offline with both icons and 2 orders waiting, and the
open sync dialog. Also a check that the page is styled (a raw-HTML page would fail it).

Written to var/screenshots/ so that `make test` leaves the tree clean; to refresh the committed
ones: `SCREENSHOTS_DIR=docs/screenshots .venv/bin/python -m pytest tests/e2e/test_screenshots.py`
"""

import os

from e2e_pos import ROOT, SYNC, go_offline, open_register, open_sync_dialog, sell, set_settings
from playwright.sync_api import expect

SHOTS = ROOT / os.environ.get("SCREENSHOTS_DIR", "var/screenshots")


def test_screenshots(sandbox, page):
    SHOTS.mkdir(parents=True, exist_ok=True)
    set_settings(page, sandbox.url, offline=True)
    open_register(page, sandbox.url)
    go_offline(page)
    sell(page, [0, 0, 1], customer="Deco Addict", expect_status="offline")
    sell(page, [2], refund=True, expect_status="offline")
    expect(page.locator(SYNC)).to_have_attribute("data-count", "2")
    page.locator("[data-test=product]").nth(3).click()
    page.locator("[data-test=product]").nth(4).click()

    # Styled, not raw HTML: the navbar is laid out as a flex row and the icon is red.
    assert page.locator(".pos-navbar").evaluate("e => getComputedStyle(e).display") == "flex"
    red = page.locator("[data-test=offline-status]").evaluate(
        "e => getComputedStyle(e).backgroundColor"
    )
    assert red == "rgb(217, 52, 43)"
    page.screenshot(path=str(SHOTS / "sandbox-register.png"))

    # The readiness popover beside the status icon (issue 11), orders waiting, not persisted.
    page.locator("[data-test=readiness-button]").click()
    expect(page.locator("[data-test=readiness-panel]")).to_be_visible()
    expect(page.locator("[data-test=readiness-space]")).to_contain_text("used")
    page.screenshot(path=str(SHOTS / "sandbox-readiness.png"))
    page.keyboard.press("Escape")
    expect(page.locator("[data-test=readiness-panel]")).to_have_count(0)

    dialog = open_sync_dialog(page)
    dialog.locator("[data-test=sync-row]").first.locator("[data-test=row-check]").check()
    page.screenshot(path=str(SHOTS / "sandbox-sync-dialog.png"))
