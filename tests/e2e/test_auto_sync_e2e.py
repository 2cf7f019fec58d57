"""Auto-sync on reconnect (issue 11), in real Chromium on the sandbox: offline sales land with
no click once the connection is back; a server failing the first two sync calls is retried with
growing, jittered gaps (read from the server's own request log) and the third call lands; the
cashier's own sync is never doubled by it; two tabs of one profile send one request stream.

The register's auto-sync timings come from its URL (a sandbox test hook) so the tests need not
wait the shipped 5 s; the scheduler itself is the shipped one (tests/js/auto_sync.test.mjs)."""

from __future__ import annotations

import json

import pytest
from e2e_pos import (
    DIALOG,
    STATUS,
    SYNC,
    backoffice_uuids,
    go_offline,
    go_online,
    login,
    open_sync_dialog,
    pos_data,
    sell,
    set_settings,
    stored_uuids,
)
from playwright.sync_api import expect

from sandbox.launcher import start_sandbox


@pytest.fixture
def faulty(tmp_path):
    """A sandbox with the test-only fault switch and sync request log on."""
    server = start_sandbox(tmp_path / "db.sqlite3", ["--test-faults"])
    yield server
    server.stop()


@pytest.fixture
def slow_faulty(tmp_path):
    """The same, storing every order 2.5 s slower (a cashier's sync that lasts)."""
    server = start_sandbox(
        tmp_path / "db.sqlite3", ["--test-faults", "--test-order-delay-ms", "2500"]
    )
    yield server
    server.stop()


def _fail_next_syncs(page, url, count):
    response = page.request.post(
        f"{url}/test/faults", data=json.dumps({"fail_sync": count}), headers={"Origin": url}
    )
    assert response.ok, response.text()


def _sync_requests(page, url):
    response = page.request.get(f"{url}/test/sync_requests")
    assert response.ok, response.text()
    return response.json()["requests"]


def _open(page, url, query):
    page.goto(f"{url}/pos?{query}")
    login(page)


def _record_auto_phases(page):
    """Every value the Sync icon's data-auto-sync takes from now on (in the page)."""
    page.evaluate(
        """() => {
            window.__autoPhases = [];
            const seen = (el) => window.__autoPhases.push(el.dataset.autoSync || "");
            const button = document.querySelector("[data-test=sync-button]");
            seen(button);
            new MutationObserver(() => seen(button)).observe(button, {
                attributes: true, attributeFilter: ["data-auto-sync"],
            });
        }"""
    )


def test_fault_switch_is_off_by_default(sandbox, page):
    for method, path in (("get", "/test/sync_requests"), ("post", "/test/faults")):
        response = getattr(page.request, method)(f"{sandbox.url}{path}")
        assert response.status == 404, (path, response.status)


def test_auto_sync_off_by_default_nothing_is_sent(faulty, page):
    set_settings(page, faulty.url, offline=True)
    data = pos_data(page, faulty.url)
    assert data["config"]["offline_auto_sync"] is False
    _open(page, faulty.url, "auto_sync_settle_ms=100")
    go_offline(page)
    uuid = sell(page, [0], expect_status="offline")
    go_online(page)
    # The cashier chooses what to send (the help page): nothing leaves by itself.
    page.wait_for_timeout(1500)
    assert _sync_requests(page, faulty.url) == []
    assert stored_uuids(page, data) == {uuid}
    expect(page.locator(SYNC)).not_to_have_attribute("data-auto-sync", "waiting")


def test_connection_back_the_orders_land_with_no_click(faulty, page, context):
    """The browser's own connection drops (auto-detect) and comes back: both sales land."""
    set_settings(page, faulty.url, offline=True, auto_detect=True, auto_sync=True)
    data = pos_data(page, faulty.url)
    assert data["config"]["offline_auto_sync"] is True
    _open(page, faulty.url, "auto_sync_settle_ms=300")
    status = page.locator(STATUS)
    context.set_offline(True)
    expect(status).to_have_attribute("data-offline", "true")
    uuids = {sell(page, [0], expect_status="offline"), sell(page, [1, 1], expect_status="offline")}
    expect(page.locator(SYNC)).to_have_attribute("data-count", "2")
    assert _sync_requests(page, faulty.url) == []

    context.set_offline(False)
    expect(status).to_have_attribute("data-offline", "false", timeout=20_000)
    # No click: the icon's count drops to 0 by itself and the back office has both, once.
    expect(page.locator(SYNC)).to_have_attribute("data-count", "0", timeout=20_000)
    assert stored_uuids(page, data) == set()
    listed = backoffice_uuids(page, faulty.url)
    assert sorted(listed) == sorted(uuids)
    requests = _sync_requests(page, faulty.url)
    assert [r["status"] for r in requests] == [200]
    expect(page.locator(DIALOG)).to_have_count(0)


def test_server_failing_twice_retries_spaced_then_lands(faulty, page):
    """Two 503s, then success: the gaps between the calls, at the server, grow and follow the
    jittered delays the register drew (window 2 s, then 6 s: delays in their upper halves)."""
    set_settings(page, faulty.url, offline=True, auto_sync=True)
    data = pos_data(page, faulty.url)
    _open(page, faulty.url, "auto_sync_settle_ms=200&auto_sync_base_ms=2000&auto_sync_factor=3")
    go_offline(page)
    uuid = sell(page, [0], expect_status="offline")
    _fail_next_syncs(page, faulty.url, 2)
    _record_auto_phases(page)
    go_online(page)

    expect(page.locator(SYNC)).to_have_attribute("data-count", "0", timeout=30_000)
    requests = _sync_requests(page, faulty.url)
    assert [r["status"] for r in requests] == [503, 503, 200]
    gaps = [(b["t"] - a["t"]) * 1000 for a, b in zip(requests, requests[1:], strict=False)]
    icons = page.locator("[data-test=offline-icons]")
    delays = [int(d) for d in icons.get_attribute("data-auto-sync-delays").split(",")]
    assert len(delays) == 2
    # Each drawn delay lies in the upper half of its window; the two are not the bare windows.
    assert 1000 <= delays[0] <= 2000 and 3000 <= delays[1] <= 6000, delays
    assert delays != [2000, 6000], "no jitter"
    # At the server: each gap is at least the delay drawn for it, and the gaps grow.
    assert gaps[0] >= delays[0] and gaps[1] >= delays[1], (gaps, delays)
    assert gaps[1] > gaps[0], gaps
    assert backoffice_uuids(page, faulty.url) == [uuid]
    assert stored_uuids(page, data) == set()
    phases = page.evaluate("window.__autoPhases")
    assert "retrying" in phases and phases[-1] == "", phases
    # Done: the icon's name is back to the plain count.
    expect(page.locator(SYNC)).to_have_attribute(
        "aria-label", "Sync to Server: 0 offline orders waiting"
    )


def test_never_while_the_cashiers_dialog_syncs(slow_faulty, page):
    """The cashier syncs from the dialog right after reconnecting, on a slow server: the
    auto-sync's turn comes while that sync runs, and it waits instead of sending."""
    url = slow_faulty.url
    set_settings(page, url, offline=True, auto_sync=True)
    data = pos_data(page, url)
    _open(page, url, "auto_sync_settle_ms=4000")
    go_offline(page)
    uuids = {sell(page, [0], expect_status="offline") for _ in range(3)}
    _record_auto_phases(page)
    go_online(page)
    dialog = open_sync_dialog(page)
    dialog.locator("[data-test=select-all]").check()
    dialog.locator("[data-test=sync-submit]").click()
    expect(dialog.locator("[data-test=sync-message]")).to_have_text(
        "3 orders synced.", timeout=30_000
    )
    # Past the auto-sync's settle wait (it came during the 7.5 s sync) and one more.
    expect(page.locator(SYNC)).not_to_have_attribute("data-auto-sync", "waiting", timeout=20_000)
    requests = _sync_requests(page, url)
    assert [r["status"] for r in requests] == [200], requests
    phases = page.evaluate("window.__autoPhases")
    assert "syncing" not in phases and "retrying" not in phases, phases
    assert "waiting" in phases, phases
    assert sorted(backoffice_uuids(page, url)) == sorted(uuids)
    assert stored_uuids(page, data) == set()


def test_two_tabs_one_request_stream(faulty, page, context):
    """Two tabs of one profile, both with auto-sync, see the connection come back at the same
    moment: one of them sends, every order once; the other sends nothing."""
    url = faulty.url
    set_settings(page, url, offline=True, auto_detect=True, auto_sync=True)
    data = pos_data(page, url)
    second = context.new_page()
    query = "auto_sync_settle_ms=300"
    _open(page, url, query)
    _open(second, url, query)
    sent = {page: [], second: []}
    context.on(
        "request",
        lambda r: (
            r.url.endswith("/rpc/offline_sync_orders")
            and sent[r.frame.page].append([o["uuid"] for o in json.loads(r.post_data)["orders"]])
        ),
    )
    context.set_offline(True)
    for tab in (page, second):
        expect(tab.locator(STATUS)).to_have_attribute("data-offline", "true")
    uuids = {sell(page, [0], expect_status="offline") for _ in range(3)}
    uuids |= {sell(second, [1], expect_status="offline") for _ in range(2)}
    for tab in (page, second):
        expect(tab.locator(SYNC)).to_have_attribute("data-count", "5")

    context.set_offline(False)
    for tab in (page, second):
        expect(tab.locator(SYNC)).to_have_attribute("data-count", "0", timeout=30_000)
        expect(tab.locator(SYNC)).not_to_have_attribute("data-auto-sync", "waiting")
    senders = [tab for tab in (page, second) if sent[tab]]
    assert len(senders) == 1, {id(t): v for t, v in sent.items()}
    flat = [u for batch in sent[senders[0]] for u in batch]
    assert sorted(flat) == sorted(uuids)
    assert len(_sync_requests(page, url)) == len(sent[senders[0]])
    listed = backoffice_uuids(page, url)
    assert sorted(listed) == sorted(uuids)
    assert stored_uuids(page, data) == set()
