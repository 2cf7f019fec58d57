"""Settings off: no icons, no offline capture. Settings on: both icons after a reload."""

import re

from e2e_pos import (
    STATUS,
    SYNC,
    backoffice_uuids,
    login,
    logout,
    open_register,
    pos_data,
    sell,
    set_settings,
    stored_orders,
)
from playwright.sync_api import expect


def test_settings_off_no_icons_no_capture(sandbox, page):
    set_settings(page, sandbox.url, offline=False)
    data = pos_data(page, sandbox.url)
    assert data["config"]["allow_offline_mode"] is False

    open_register(page, sandbox.url)
    expect(page.locator("[data-test=cashier-name]")).to_be_visible()
    expect(page.locator(STATUS)).to_have_count(0)
    expect(page.locator(SYNC)).to_have_count(0)

    uuid = sell(page, [0, 1], expect_status="synced")
    # Straight to the back office, as without the addon; the browser keeps nothing.
    assert backoffice_uuids(page, sandbox.url) == [uuid]
    assert not stored_orders(page, data)


def test_settings_on_shows_both_icons_after_reload(sandbox, page):
    set_settings(page, sandbox.url, offline=False)
    open_register(page, sandbox.url)
    expect(page.locator(STATUS)).to_have_count(0)

    set_settings(page, sandbox.url, offline=True)
    assert pos_data(page, sandbox.url)["config"]["allow_offline_mode"] is True
    open_register(page, sandbox.url)
    status = page.locator(STATUS)
    expect(status).to_be_visible()
    expect(status).to_have_attribute("data-offline", "false")
    expect(status).to_have_attribute("aria-label", "Online: click to work offline")
    sync = page.locator(SYNC)
    expect(sync).to_be_visible()
    expect(sync).to_have_attribute("aria-label", "Sync to Server: 0 offline orders waiting")
    expect(sync).to_have_class(re.compile("o_pos_offline_no_pending"))
    expect(page.locator("[data-test=sync-count]")).to_have_count(0)
    # Whether the browser keeps the orders, in words: no "storage: best-effort" jargon.
    storage = page.locator("[data-test=storage]")
    expect(storage).to_have_attribute(
        "data-persistence", re.compile(r"^(persisted|best-effort|unsupported)$")
    )
    expect(storage).to_have_attribute(
        "title",
        re.compile(r"^This browser (keeps|may delete|cannot promise to keep) the offline orders"),
    )
    expect(storage).not_to_contain_text("storage")

    # Online with offline mode on: a sale still goes straight to the back office.
    data = pos_data(page, sandbox.url)
    uuid = sell(page, [0], expect_status="synced")
    assert backoffice_uuids(page, sandbox.url) == [uuid]
    assert not stored_orders(page, data)


def test_settings_changed_then_log_out_log_in_shows_the_icons_without_a_reload(sandbox, page):
    set_settings(page, sandbox.url, offline=False)
    open_register(page, sandbox.url)
    expect(page.locator(STATUS)).to_have_count(0)
    # Offline mode off: no icons, and no divider left before the cashier's name.
    expect(page.locator("[data-test=offline-icons]")).to_have_count(0)
    cashier = page.locator("[data-test=cashier-name]")
    assert cashier.evaluate("e => getComputedStyle(e).borderLeftWidth") == "0px"
    page.evaluate("window.__notReloaded = true")

    # The administrator turns offline mode on in another tab; the register is not reloaded.
    admin = page.context.new_page()
    set_settings(admin, sandbox.url, offline=True)
    expect(admin.locator("#flash")).to_contain_text("log out and back in")
    admin.close()
    logout(page)
    login(page)
    expect(page.locator(STATUS)).to_be_visible()
    expect(page.locator(SYNC)).to_be_visible()
    assert page.evaluate("window.__notReloaded === true")
    # The divider now belongs to the icons, between them and the cashier.
    icons = page.locator("[data-test=offline-icons]")
    assert icons.evaluate("e => getComputedStyle(e).borderRightWidth") == "1px"

    # And off again the same way: the icons go.
    admin = page.context.new_page()
    set_settings(admin, sandbox.url, offline=False)
    admin.close()
    logout(page)
    login(page)
    expect(page.locator(STATUS)).to_have_count(0)
    assert page.evaluate("window.__notReloaded === true")
