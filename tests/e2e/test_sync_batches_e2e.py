"""Big backlogs in the real register (issue 10), Chromium + the sandbox: a server made slow per
order (the test hook) defers what its time budget leaves over, the browser sends those again at
once and sizes its batches down; a fast server sees the batches grow from 20 towards 500 and
the open dialog paints its progress batch after batch. (How long the main thread is blocked is
a figure of `make bench`, sync_10000_longest_task_ms, not of a test.)"""

import copy
import json
import re
import sqlite3
import uuid as uuidlib
from pathlib import Path

import pytest
from e2e_pos import (
    go_offline,
    go_online,
    login,
    open_register,
    open_sync_dialog,
    pos_data,
    put_raw_records,
    sell,
    set_settings,
    stored_orders,
)
from playwright.sync_api import expect

from sandbox.launcher import start_sandbox

SYNC_RPC = "/rpc/offline_sync_orders"
# The engine's first batch, before it has measured the server (read from the engine itself).
ENGINE_JS = Path(__file__).resolve().parents[2] / "pos_offline_sync/static/src/core/sync_engine.js"
FIRST_BATCH = int(re.search(r"DEFAULT_BATCH_SIZE = (\d+);", ENGINE_JS.read_text()).group(1))


def _waiting_orders(sandbox, page, count):
    """`count` offline orders in the register's store: one rung up offline, the rest copies."""
    set_settings(page, sandbox.url, offline=True)
    data = pos_data(page, sandbox.url)
    open_register(page, sandbox.url)
    go_offline(page)
    sell(page, [0, 1], expect_status="offline")
    (record,) = stored_orders(page, data)
    copies = []
    for i in range(count - 1):
        rec = copy.deepcopy(record)
        rec["uuid"] = rec["order"]["uuid"] = str(uuidlib.uuid4())
        rec["order"]["reference"] = f"Order bulk-{i:05d}"
        for payment in rec["order"]["payments"]:
            payment["uuid"] = str(uuidlib.uuid4())
        copies.append(rec)
    for start in range(0, len(copies), 1000):
        put_raw_records(page, data, copies[start : start + 1000])
    page.reload()
    login(page)
    go_online(page)
    return data


def _watch_sync_calls(page):
    """Each offline_sync_orders call: (orders sent, statuses answered)."""
    calls = []

    def on_response(response):
        if response.url.endswith(SYNC_RPC):
            sent = json.loads(response.request.post_data)["orders"]
            results = response.json()["result"]["results"]
            calls.append(([o["uuid"] for o in sent], [r["status"] for r in results]))

    page.on("response", on_response)
    return calls


def _db_uuids(db_path):
    conn = sqlite3.connect(db_path)
    try:
        return [r[0] for r in conn.execute("SELECT uuid FROM orders")]
    finally:
        conn.close()


def _sync_all(page, count):
    dialog = open_sync_dialog(page)
    dialog.locator("[data-test=select-all]").check()
    expect(dialog.locator("[data-test=selection-count]")).to_have_text(
        f"{count} of {count} selected"
    )
    dialog.locator("[data-test=sync-submit]").click()
    return dialog


@pytest.fixture
def slow_sandbox(tmp_path):
    # 50 ms an order, 0.5 s a request: the first batch (50) cannot be stored whole.
    server = start_sandbox(
        tmp_path / "slow.sqlite3",
        ["--quiet", "--sync-time-budget-s", "0.5", "--test-order-delay-ms", "50"],
    )
    yield server
    server.stop()


def test_a_slow_server_defers_and_the_register_adapts(slow_sandbox, page):
    data = _waiting_orders(slow_sandbox, page, 60)
    calls = _watch_sync_calls(page)
    dialog = _sync_all(page, 60)
    expect(dialog.locator("[data-test=sync-message]")).to_have_text(
        "60 orders synced.", timeout=60_000
    )
    sizes = [len(sent) for sent, _ in calls]
    deferred = [statuses.count("deferred") for _, statuses in calls]
    assert sizes[0] == FIRST_BATCH, sizes
    assert deferred[0] > 0, f"the first batch outran the budget: {calls[0][1]}"
    # Sent again at once, first in the next batch, and the next batch smaller.
    first_deferred = [u for u, s in zip(*calls[0], strict=True) if s == "deferred"]
    n = min(len(first_deferred), sizes[1])
    assert calls[1][0][:n] == first_deferred[:n]
    assert sizes[1] < FIRST_BATCH, sizes
    assert max(sizes[1:]) < FIRST_BATCH, sizes
    # Nothing refused, nothing twice, nothing left in the browser.
    assert all(s in ("created", "deferred") for _, statuses in calls for s in statuses)
    stored = _db_uuids(slow_sandbox.db_path)
    assert len(stored) == len(set(stored)) == 60
    assert stored_orders(page, data) == []
    assert dialog.locator("[data-status=error]").count() == 0


def test_batches_grow_with_a_fast_server_and_the_dialog_paints_its_progress(sandbox, page):
    count = 3000
    data = _waiting_orders(sandbox, page, count)
    calls = _watch_sync_calls(page)
    dialog = open_sync_dialog(page)
    dialog.locator("[data-test=select-all]").check()
    expect(dialog.locator("[data-test=selection-count]")).to_have_text(
        f"{count} of {count} selected"
    )
    # What the screen shows of the progress, recorded as it changes (the DOM is patched at
    # frames only: a page frozen for the whole sync would show no step between).
    page.evaluate(
        """(selector) => {
            window.__progressSeen = [];
            const dialog = document.querySelector(selector);
            new MutationObserver(() => {
                const el = dialog.querySelector("[data-test=sync-progress]");
                if (el) {
                    window.__progressSeen.push(el.textContent.replace(/\\s+/g, " ").trim());
                }
            }).observe(dialog, { subtree: true, childList: true, characterData: true });
        }""",
        "[data-test=sync-dialog]",
    )
    dialog.locator("[data-test=sync-submit]").click()
    expect(dialog.locator("[data-test=sync-message]")).to_have_text(
        f"{count} orders synced.", timeout=60_000
    )
    seen = page.evaluate("window.__progressSeen")
    # The send phase painted step by step (one batch after another), ending at the whole count.
    steps = [text for text in dict.fromkeys(seen) if text.startswith("Syncing")]
    assert len(steps) >= 3 and steps[0] == f"Syncing…0 / {count}", steps

    sizes = [len(sent) for sent, _ in calls]
    assert sizes[0] == FIRST_BATCH and sizes[1] > FIRST_BATCH, sizes
    assert max(sizes) <= 500 and sum(sizes) == count, sizes
    assert sizes == sorted(sizes[:-1]) + sizes[-1:], f"grows, the last takes the rest: {sizes}"
    stored = _db_uuids(sandbox.db_path)
    assert len(stored) == len(set(stored)) == count
    assert stored_orders(page, data) == []
