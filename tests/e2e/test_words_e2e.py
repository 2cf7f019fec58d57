"""Words a cashier understands: a lost answer (the server refused nothing) reads "not sent ...
kept and can be sent again", a server that died mid-way too; storage persistence is a sentence."""

import re

from e2e_pos import (
    DIALOG,
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

SYNC_RPC = "**/rpc/offline_sync_orders"


def test_lost_answer_reads_not_sent_and_kept_never_refused(sandbox, page):
    set_settings(page, sandbox.url, offline=True)
    data = pos_data(page, sandbox.url)
    open_register(page, sandbox.url)
    go_offline(page)
    uuids = [sell(page, [i], expect_status="offline") for i in range(3)]
    go_online(page)

    # The server stores the batch and dies before answering.
    def server_dies(route):
        route.fetch()
        route.fulfill(status=502, body="Bad Gateway")

    page.route(SYNC_RPC, server_dies)
    dialog = open_sync_dialog(page)
    dialog.locator("[data-test=select-all]").check()
    dialog.locator("[data-test=sync-submit]").click()
    message = dialog.locator("[data-test=sync-message]")
    expect(message).to_have_text(
        "3 not sent: no answer from the server; they are kept and can be sent again."
    )
    expect(message).not_to_contain_text(re.compile("refused|0 orders", re.I))
    for uuid in uuids:
        status = row(page, uuid).locator("[data-test=row-status]")
        expect(status.locator("[data-status=pending]")).to_have_text("Not sent")
        expect(status.locator("[data-test=row-status-detail]")).to_have_text(
            "No answer from the server. It is kept here and can be sent again."
        )
    assert stored_uuids(page, data) == set(uuids)

    # Sent again: the back office had them already, and says so.
    page.unroute(SYNC_RPC)
    dialog.locator("[data-test=sync-submit]").click()
    expect(message).to_have_text("3 orders synced.")
    expect(row(page, uuids[0]).locator("[data-test=row-status-detail]")).to_have_text(
        "The back office already had it."
    )
    assert stored_uuids(page, data) == set()


def test_storage_persistence_is_a_sentence(sandbox, page):
    set_settings(page, sandbox.url, offline=True)
    open_register(page, sandbox.url)
    note = open_sync_dialog(page).locator("[data-test=storage-note]")
    expect(note).to_have_text(
        re.compile(r"^This browser (keeps|may delete|cannot promise to keep) the offline orders")
    )
    expect(page.locator(DIALOG)).not_to_contain_text("best-effort")
