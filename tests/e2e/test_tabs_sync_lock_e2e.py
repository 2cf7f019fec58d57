"""One sync at a time across the tabs of one browser profile (issue 11), in real Chromium: the
Web Lock on the store's name lets one tab send while the other shows its live progress; every
order reaches the back office once; a tab closed while holding the lock lets the other take
over; a wait for the lock never lasts forever."""

from __future__ import annotations

import copy
import json
import uuid as uuidlib

from e2e_pos import (
    DIALOG,
    backoffice_uuids,
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
    sync_log,
)
from playwright.sync_api import expect

SYNC_RPC = "**/rpc/offline_sync_orders"


def _wait_until(page, condition, what, tries=300):
    """Polls `condition` (Playwright's own waits cannot watch a Python list)."""
    for _ in range(tries):
        if condition():
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"timed out waiting for {what}")


def _orders_waiting(sandbox, page, count):
    """`count` offline orders in the profile's store (one sold, the rest copies of it)."""
    set_settings(page, sandbox.url, offline=True)
    data = pos_data(page, sandbox.url)
    open_register(page, sandbox.url)
    go_offline(page)
    sell(page, [0, 1], expect_status="offline")
    if count > 1:
        (record,) = stored_orders(page, data)
        copies = []
        for i in range(count - 1):
            rec = copy.deepcopy(record)
            rec["uuid"] = rec["order"]["uuid"] = str(uuidlib.uuid4())
            rec["order"]["reference"] = f"Order tab-{i:04d}"
            copies.append(rec)
        put_raw_records(page, data, copies)
        page.reload()
        login(page)
    go_online(page)
    expect(page.locator("[data-test=sync-button]")).to_have_attribute("data-count", str(count))
    return data


def _dialog_all_selected(tab, count):
    dialog = open_sync_dialog(tab)
    dialog.locator("[data-test=select-all]").check()
    expect(dialog.locator("[data-test=selection-count]")).to_have_text(
        f"{count} of {count} selected"
    )
    return dialog


def _requests_by_page(context, first, second):
    sent = {first: [], second: []}

    def on_request(request):
        if request.url.endswith("/rpc/offline_sync_orders"):
            sent[request.frame.page].append(len(json.loads(request.post_data)["orders"]))

    context.on("request", on_request)
    return sent


def test_two_tabs_press_sync_at_once_one_request_stream(sandbox, page):
    """150 orders, two tabs, Sync pressed in both: one tab sends (two batches), the other
    shows "syncing in another window" with the live count, and every order lands once."""
    data = _orders_waiting(sandbox, page, 150)
    context = page.context
    second = context.new_page()
    open_register(second, sandbox.url)
    expect(second.locator("[data-test=sync-button]")).to_have_attribute("data-count", "150")
    tabs = (page, second)
    dialogs = {tab: _dialog_all_selected(tab, 150) for tab in tabs}
    sent = _requests_by_page(context, page, second)
    held, through = [], []  # `through` non-empty: later batches are not held
    context.route(SYNC_RPC, lambda route: route.continue_() if through else held.append(route))

    # Both press Sync at once: whichever takes the lock sends, the other waits for it.
    for tab in tabs:
        dialogs[tab].locator("[data-test=sync-submit]").click()
    _wait_until(page, lambda: held, "the first batch")
    holder = held[0].request.frame.page
    waiter = second if holder is page else page
    waiting = dialogs[waiter]
    expect(waiting.locator("[data-test=waiting-for-other]")).to_be_visible()
    remote = waiting.locator("[data-test=remote-sync]")
    expect(remote).to_contain_text("Syncing in another window")
    expect(remote).to_have_attribute("data-done", "0")
    expect(remote).to_have_attribute("data-total", "150")

    first_batch = len(held[0].request.post_data_json["orders"])  # sized by the engine
    assert first_batch < 150
    held[0].continue_()
    _wait_until(page, lambda: len(held) == 2, "the second batch")
    # The waiting tab follows the other's progress live.
    expect(remote).to_have_attribute("data-done", str(first_batch))
    expect(remote).to_contain_text(f"{first_batch} / 150")
    assert len(held) == 2
    through.append(True)  # the later batches go straight through
    held[1].continue_()

    expect(dialogs[holder].locator("[data-test=sync-message]")).to_have_text("150 orders synced.")
    # Then the waiting tab takes the lock, finds every order gone and sends nothing.
    expect(waiting.locator("[data-test=sync-message]")).to_have_text(
        "150 were no longer waiting in this browser."
    )
    expect(waiting.locator("[data-test=remote-sync]")).to_have_count(0)
    first_row = stored_orders(holder, data)
    assert first_row == []
    sample = held[0].request.post_data_json["orders"][0]["uuid"]
    expect(row(waiter, sample).locator("[data-test=row-status]")).to_contain_text(
        "Not here any more"
    )
    assert sum(sent[holder]) == 150 and len(sent[holder]) >= 2, sent[holder]
    assert sent[waiter] == []
    listed = backoffice_uuids(page, sandbox.url)
    assert len(listed) == 150 and len(set(listed)) == 150
    # Counted at the server: one sync, two batches, every order stored once.
    (entry,) = sync_log(page, sandbox.url)
    assert entry["batches"] == len(sent[holder])
    assert (entry["sent"], entry["created"], entry["refused"]) == (150, 150, 0)
    for tab in tabs:
        expect(tab.locator("[data-test=sync-button]")).to_have_attribute("data-count", "0")


def test_tab_closed_while_holding_the_lock_the_other_takes_over(sandbox, page):
    """The tab syncing is closed while its request is held: the browser releases its lock and
    the waiting tab sends the orders itself, each landing once."""
    data = _orders_waiting(sandbox, page, 3)
    context = page.context
    second = context.new_page()
    open_register(second, sandbox.url)
    dialogs = {tab: _dialog_all_selected(tab, 3) for tab in (page, second)}
    sent = _requests_by_page(context, page, second)
    held = []
    holding = [True]

    def hold(route):
        if holding[0]:
            held.append(route)
        else:
            route.continue_()

    context.route(SYNC_RPC, hold)
    dialogs[page].locator("[data-test=sync-submit]").click()
    _wait_until(page, lambda: held, "the first tab's request")
    dialogs[second].locator("[data-test=sync-submit]").click()
    waiting = dialogs[second]
    expect(waiting.locator("[data-test=waiting-for-other]")).to_be_visible()
    expect(waiting.locator("[data-test=remote-sync]")).to_have_attribute("data-total", "3")

    # Killed mid-sync: the browser releases its lock.
    holding[0] = False
    page.close()
    expect(waiting.locator("[data-test=sync-message]")).to_have_text("3 orders synced.")
    expect(waiting.locator("[data-test=waiting-for-other]")).to_have_count(0)
    expect(waiting.locator("[data-test=remote-sync]")).to_have_count(0)
    assert sent[second] == [3]
    listed = backoffice_uuids(second, sandbox.url)
    assert len(listed) == 3 and len(set(listed)) == 3
    # At the server: the taking-over tab's sync sent all 3; the closed tab's held request may
    # or may not have gone out as its page closed; either way each order was created once.
    entries = sync_log(second, sandbox.url)
    assert len(entries) in (1, 2), entries
    assert (entries[0]["batches"], entries[0]["sent"]) == (1, 3)
    assert sum(e["created"] for e in entries) == 3
    assert stored_uuids(second, data) == set()
    expect(second.locator("[data-test=sync-button]")).to_have_attribute("data-count", "0")


# Runs the core's SyncLock in the page (the real navigator.locks of Chromium).
_LOCK_WAIT = """async ([name, waitMs, abortAfterMs]) => {
    const { SyncLock } = await import('/core/sync_lock.js');
    const lock = new SyncLock({ name, waitMs });
    const abort = new AbortController();
    if (abortAfterMs !== null) { setTimeout(() => abort.abort(), abortAfterMs); }
    let waited = false;
    const started = Date.now();
    try {
        const onWait = () => { waited = true; };
        await lock.run(async () => 'ran', { onWait, signal: abort.signal });
        return { outcome: 'ran', waited };
    } catch (error) {
        return { outcome: error.name, message: error.message, waited, ms: Date.now() - started };
    }
}"""

_HOLD_FOREVER = """(name) => {
    navigator.locks.request(name, () => new Promise(() => {}));
    return true;
}"""


def test_a_wait_for_the_lock_never_lasts_forever(sandbox, page):
    """While another tab holds the lock for good, a sync gives up after its wait (or at once
    when the cashier stops waiting); once that tab is closed the lock is free again."""
    page.goto(f"{sandbox.url}/pos")
    other = page.context.new_page()
    other.goto(f"{sandbox.url}/pos")
    name = "pos_offline_sync-sandbox-1"
    other.evaluate(_HOLD_FOREVER, name)
    timed_out = page.evaluate(_LOCK_WAIT, [name, 300, None])
    assert timed_out["outcome"] == "LockWaitError", timed_out
    assert timed_out["waited"] and timed_out["ms"] >= 300
    assert "still syncing" in timed_out["message"]
    stopped = page.evaluate(_LOCK_WAIT, [name, 60_000, 200])
    assert stopped["outcome"] == "LockWaitError", stopped
    assert "Stopped waiting" in stopped["message"]
    other.close()
    # Released with the closed tab (the browser may take a moment to tell): it runs.
    assert page.evaluate(_LOCK_WAIT, [name, 5_000, None])["outcome"] == "ran"


def test_stop_waiting_sends_nothing_and_the_orders_still_wait(sandbox, page):
    data = _orders_waiting(sandbox, page, 2)
    second = page.context.new_page()
    open_register(second, sandbox.url)
    held = []
    page.context.route(SYNC_RPC, lambda route: held.append(route))
    first = _dialog_all_selected(page, 2)
    first.locator("[data-test=sync-submit]").click()
    _wait_until(page, lambda: held, "the first tab's request")
    waiting = _dialog_all_selected(second, 2)
    waiting.locator("[data-test=sync-submit]").click()
    waiting.locator("[data-test=stop-waiting]").click()
    expect(waiting.locator("[data-test=sync-message]")).to_contain_text("Stopped waiting")
    expect(waiting.locator("[data-test=sync-submit]")).to_be_enabled()
    assert len(held) == 1
    held[0].abort("connectionreset")
    expect(first.locator("[data-test=sync-message]")).to_contain_text("2 not sent: no answer")
    assert len(stored_uuids(second, data)) == 2
    expect(second.locator(DIALOG)).to_be_visible()
