"""Sync of the checked orders: exactly those reach the back office, the rest still waits; the
same batch sent again creates nothing; a response lost after the server committed, then a
retry, creates no duplicate and the order leaves the browser only after the confirmed retry."""

import copy
import json
import re
import uuid as uuidlib

from e2e_pos import (
    DIALOG,
    SYNC,
    backoffice_uuids,
    check_rows,
    go_offline,
    go_online,
    login,
    open_register,
    open_sync_dialog,
    pos_data,
    put_raw_records,
    row,
    sell,
    set_settings,
    stored_orders,
    stored_uuids,
)
from playwright.sync_api import expect

SYNC_RPC = "**/rpc/offline_sync_orders"
PAGE_SIZE = 200  # rows the dialog renders before "Show more" (sync_dialog.js PAGE_SIZE)


def _three_offline_orders(sandbox, page):
    set_settings(page, sandbox.url, offline=True)
    data = pos_data(page, sandbox.url)
    open_register(page, sandbox.url)
    go_offline(page)
    uuids = [sell(page, [i], expect_status="offline") for i in range(3)]
    go_online(page)
    return data, uuids


def test_sync_checked_two_of_three_then_replay_creates_nothing(sandbox, page):
    data, (a, b, c) = _three_offline_orders(sandbox, page)
    dialog = open_sync_dialog(page)
    check_rows(page, [a, c])
    submit = dialog.locator("[data-test=sync-submit]")
    expect(submit).to_be_enabled()

    with page.expect_request(SYNC_RPC) as request_info:
        submit.click()
    body = request_info.value.post_data
    for uuid in (a, c):
        expect(row(page, uuid).locator("[data-test=row-status]")).to_have_text("Synced")
    expect(row(page, b).locator("[data-test=row-status]")).to_have_text("Waiting")

    assert sorted(backoffice_uuids(page, sandbox.url)) == sorted([a, c])
    assert stored_uuids(page, data) == {b}
    expect(page.locator(SYNC)).to_have_attribute("data-count", "1")

    # The very same request body again (a client that did not hear the answer): nothing new.
    sent = json.loads(body)
    assert sorted(o["uuid"] for o in sent["orders"]) == sorted([a, c])
    replay = page.request.post(
        f"{sandbox.url}/rpc/offline_sync_orders",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    assert replay.status == 200
    results = replay.json()["result"]["results"]
    assert [r["uuid"] for r in results] == [o["uuid"] for o in sent["orders"]]
    assert all(r["ok"] and r["status"] == "exists" for r in results)
    assert sorted(backoffice_uuids(page, sandbox.url)) == sorted([a, c])


def test_lost_response_then_retry_creates_no_duplicate(sandbox, page):
    data, (a, b, c) = _three_offline_orders(sandbox, page)
    answered = []

    def drop_the_answer(route):
        # The server receives and commits the batch; the browser never hears back.
        response = route.fetch()
        answered.append(response.status)
        route.abort("connectionreset")

    page.route(SYNC_RPC, drop_the_answer)
    dialog = open_sync_dialog(page)
    check_rows(page, [a])
    dialog.locator("[data-test=sync-submit]").click()
    status = row(page, a).locator("[data-test=row-status]")
    expect(status.locator("[data-status=pending]")).to_be_visible()
    assert answered == [200]

    # Committed on the server, but unconfirmed in the browser: the order must still wait.
    assert backoffice_uuids(page, sandbox.url) == [a]
    assert stored_uuids(page, data) == {a, b, c}
    expect(page.locator(SYNC)).to_have_attribute("data-count", "3")

    page.unroute(SYNC_RPC, drop_the_answer)
    expect(row(page, a).locator("[data-test=row-check]")).to_be_checked()
    with page.expect_response(SYNC_RPC) as response_info:
        dialog.locator("[data-test=sync-submit]").click()
    results = response_info.value.json()["result"]["results"]
    assert [(r["uuid"], r["ok"], r["status"]) for r in results] == [(a, True, "exists")]
    expect(status).to_have_text(re.compile(r"^\s*Synced\s+The back office already had it\.\s*$"))

    assert backoffice_uuids(page, sandbox.url) == [a]
    assert stored_uuids(page, data) == {b, c}
    expect(page.locator(SYNC)).to_have_attribute("data-count", "2")
    expect(page.locator(DIALOG).locator("[data-test=sync-row]")).to_have_count(3)


def test_many_orders_paged_select_all_selects_every_order(sandbox, page):
    """250 waiting orders: the dialog renders a first page, "Select all" still means all 250,
    and one sync sends them in bounded batches, all reaching the back office once."""
    set_settings(page, sandbox.url, offline=True)
    data = pos_data(page, sandbox.url)
    open_register(page, sandbox.url)
    go_offline(page)
    sell(page, [0, 1], expect_status="offline")
    (record,) = stored_orders(page, data)
    copies = []
    for i in range(249):
        rec = copy.deepcopy(record)
        rec["uuid"] = rec["order"]["uuid"] = str(uuidlib.uuid4())
        rec["order"]["reference"] = f"Order bulk-{i:04d}"
        copies.append(rec)
    put_raw_records(page, data, copies)
    page.reload()
    login(page)
    go_online(page)
    expect(page.locator(SYNC)).to_have_attribute("data-count", "250")

    dialog = open_sync_dialog(page)
    rows = dialog.locator("[data-test=sync-row]")
    expect(rows).to_have_count(PAGE_SIZE)
    expect(dialog.locator("[data-test=show-more]")).to_contain_text("50 more")
    dialog.locator("[data-test=select-all]").check()
    expect(dialog.locator("[data-test=selection-count]")).to_have_text("250 of 250 selected")
    dialog.locator("[data-test=show-more]").click()
    expect(rows).to_have_count(250)
    expect(dialog.locator("[data-test=show-more]")).to_have_count(0)
    checks = dialog.locator("[data-test=row-check]")
    assert checks.evaluate_all("boxes => boxes.filter((b) => b.checked).length") == 250

    batches = []
    page.on(
        "request",
        lambda r: (
            batches.append(len(json.loads(r.post_data)["orders"]))
            if r.url.endswith("/rpc/offline_sync_orders")
            else None
        ),
    )
    dialog.locator("[data-test=sync-submit]").click()
    expect(dialog.locator("[data-test=sync-message]")).to_have_text("250 orders synced.")
    assert sum(batches) == 250 and len(batches) > 1 and max(batches) <= 500
    assert len(set(backoffice_uuids(page, sandbox.url))) == 250
    assert len(backoffice_uuids(page, sandbox.url)) == 250
    assert stored_orders(page, data) == []
    expect(page.locator(SYNC)).to_have_attribute("data-count", "0")
    # Nothing waits any more: the icon is neutral again.
    expect(page.locator(SYNC)).not_to_have_class(re.compile("o_pos_offline_has_pending"))
