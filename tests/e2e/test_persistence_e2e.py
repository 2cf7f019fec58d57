"""Offline orders survive a logout and log in, and a full browser close and relaunch on the same
profile directory."""

from e2e_pos import (
    SYNC,
    go_offline,
    launch_options,
    login,
    logout,
    open_register,
    open_sync_dialog,
    pos_data,
    sell,
    set_settings,
    stored_uuids,
)
from playwright.sync_api import expect


def test_orders_survive_logout_and_login(sandbox, page):
    set_settings(page, sandbox.url, offline=True)
    data = pos_data(page, sandbox.url)
    open_register(page, sandbox.url)
    go_offline(page)
    uuids = {sell(page, [0], expect_status="offline"), sell(page, [1], expect_status="offline")}

    logout(page)
    expect(page.locator(SYNC)).to_have_count(0)
    login(page, cashier=1)
    expect(page.locator(SYNC)).to_have_attribute("data-count", "2")
    dialog = open_sync_dialog(page)
    assert {
        r.get_attribute("data-uuid") for r in dialog.locator("[data-test=sync-row]").all()
    } == uuids
    assert stored_uuids(page, data) == uuids


def test_orders_survive_browser_close_and_relaunch(sandbox, playwright_session, tmp_path):
    profile = tmp_path / "profile"
    options = dict(launch_options(), accept_downloads=True)

    context = playwright_session.chromium.launch_persistent_context(str(profile), **options)
    try:
        page = context.new_page()
        set_settings(page, sandbox.url, offline=True)
        data = pos_data(page, sandbox.url)
        open_register(page, sandbox.url)
        go_offline(page)
        uuids = {sell(page, [0], expect_status="offline"), sell(page, [2], expect_status="offline")}
        assert stored_uuids(page, data) == uuids
    finally:
        # The "accidental" close: the whole browser goes away with the page still open.
        context.close()

    context = playwright_session.chromium.launch_persistent_context(str(profile), **options)
    try:
        page = context.new_page()
        open_register(page, sandbox.url)
        expect(page.locator(SYNC)).to_have_attribute("data-count", "2")
        assert stored_uuids(page, data) == uuids
        dialog = open_sync_dialog(page)
        expect(dialog.locator("[data-test=sync-row]")).to_have_count(2)
    finally:
        context.close()
