"""Issue 9 in real Chromium: orders sold offline while the session is closed in the back office
are synced afterwards into the register's rescue session, once, and the cashier is told so."""

import re

from e2e_pos import (
    backoffice_uuids,
    check_rows,
    go_offline,
    go_online,
    open_register,
    open_sync_dialog,
    pos_data,
    row,
    sell,
    set_settings,
    stored_uuids,
)
from playwright.sync_api import expect


def test_orders_of_a_closed_session_sync_once_into_the_rescue_session(sandbox, page):
    set_settings(page, sandbox.url, offline=True)
    data = pos_data(page, sandbox.url)
    session_id = data["config"]["session_id"]
    assert session_id
    open_register(page, sandbox.url)
    go_offline(page)
    uuids = [sell(page, [i], expect_status="offline") for i in range(2)]

    # The night's closing in the back office, while the register still holds the orders.
    closed = page.request.post(
        f"{sandbox.url}/backoffice/sessions",
        form={"close": str(session_id)},
        headers={"Origin": sandbox.url},
        max_redirects=0,
    )
    assert closed.status == 303

    go_online(page)
    dialog = open_sync_dialog(page)
    check_rows(page, uuids)
    dialog.locator("[data-test=sync-submit]").click()
    rescue = re.compile(r"Its session was closed: it is in the rescue session \S+ \(RESCUE FOR ")
    for uuid in uuids:
        expect(row(page, uuid).locator("[data-test=row-status]")).to_contain_text("Synced")
        expect(row(page, uuid).locator("[data-test=row-status-detail]")).to_have_text(rescue)
    expect(dialog.locator("[data-test=sync-message]")).to_contain_text(
        "2 of them went to the rescue session"
    )
    assert sorted(backoffice_uuids(page, sandbox.url)) == sorted(uuids)
    assert stored_uuids(page, data) == set()

    # The back office lists the rescue session, with both orders, and closes it.
    page.goto(f"{sandbox.url}/backoffice/sessions")
    rescue_row = page.locator("#sessions tr[data-rescue='1']")
    expect(rescue_row).to_have_count(1)
    expect(rescue_row.locator(".orders")).to_have_text("2")
    expect(rescue_row.locator(".badge.rescue")).to_have_text("Rescue")
    rescue_row.locator("button.close-session").click()
    expect(page.locator("#sessions tr[data-rescue='1']")).to_have_attribute("data-state", "closed")
