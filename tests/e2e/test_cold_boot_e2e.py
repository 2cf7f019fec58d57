"""Cold boot offline in the sandbox (issue 11): a browser process started while the server is
down opens the register from the sandbox's service worker (the page, the unchanged core files,
the last /api/pos_data), lists the order waiting in IndexedDB, captures a new sale; the server
back, both orders sync once.

Its own persistent profile (the shared `context` fixture blocks service workers) on one fixed
port, so that the restarted server is the same origin for the browser."""

from __future__ import annotations

import re

import pytest
from e2e_pos import (
    DIALOG,
    STATUS,
    SYNC,
    backoffice_uuids,
    go_offline,
    go_online,
    launch_options,
    login,
    open_register,
    open_sync_dialog,
    pos_data,
    sell,
    set_settings,
    stored_uuids,
)
from playwright.sync_api import expect

from sandbox.launcher import start_sandbox
from tests.browser_wait import wait_for_promise

# What the browser logs for a request its network refused (the server is down on purpose).
NETWORK_REFUSED = re.compile(r"net::ERR_(INTERNET_DISCONNECTED|CONNECTION_REFUSED|FAILED)")

# The worker is active and holds the register page, its data and the core it runs.
# Every resource the page loaded itself (same origin, not the RPC) is in the worker's cache:
# only then is the first load enough for a cold start (a loaded machine caches slowly).
CACHED = """async () => {
    const reg = await navigator.serviceWorker.getRegistration("/pos");
    if (!reg || !reg.active) return false;
    const names = (await caches.keys()).filter((n) => n.startsWith("pos-offline-sync-sandbox-"));
    if (names.length !== 1) return false;
    const cache = await caches.open(names[0]);
    const have = new Set((await cache.keys()).map((r) => {
        const url = new URL(r.url);
        return url.pathname + url.search;
    }));
    const loaded = performance.getEntriesByType("resource")
        .map((entry) => new URL(entry.name, location.href))
        .filter((url) => url.origin === location.origin && url.pathname !== "/sw.js"
            && url.pathname !== "/ping" && !url.pathname.startsWith("/rpc/"))
        .map((url) => url.pathname + url.search);
    const wanted = [location.pathname, "/api/pos_data", "/owl/owl.es.js",
        "/core/offline_controller.js", "/core/components/sync_dialog.xml", ...loaded];
    return wanted.every((path) => have.has(path));
}"""


def watch(page, errors: list[str]) -> None:
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on(
        "console",
        lambda msg: (
            msg.type == "error"
            and not NETWORK_REFUSED.search(msg.text)
            and errors.append(f"console: {msg.text} at {msg.location.get('url')}")
        ),
    )


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def servers():
    started = []
    yield started
    for server in started:
        if server.process.poll() is None:
            server.stop()


def test_cold_boot_with_the_server_down(tmp_path, playwright_session, servers):
    port = free_port()
    db = tmp_path / "db.sqlite3"
    server = start_sandbox(db, port=port, kek_file=False)
    servers.append(server)
    profile = tmp_path / "profile"
    options = {**launch_options(), "viewport": {"width": 1280, "height": 800}}
    errors: list[str] = []

    # 1. Online, offline mode on: the register loads once (the worker installs and caches
    #    it), the cashier goes offline and sells one order.
    context = playwright_session.chromium.launch_persistent_context(str(profile), **options)
    context.set_default_timeout(15_000)
    page = context.new_page()
    watch(page, errors)
    set_settings(page, server.url, offline=True)
    data = pos_data(page, server.url)
    open_register(page, server.url)
    wait_for_promise(page, CACHED)
    go_offline(page)
    first = sell(page, [0, 1], expect_status="offline")
    expect(page.locator(SYNC)).to_have_attribute("data-count", "1")
    context.close()

    # 2. The server stopped: its port refuses connections.
    server.stop()

    # 3. A new browser process on the same profile, with the server's port refusing every
    #    connection: what a register sees when the network or the server is down.
    context = playwright_session.chromium.launch_persistent_context(str(profile), **options)
    context.set_default_timeout(15_000)
    page = context.new_page()
    watch(page, errors)
    page.goto(f"{server.url}/pos")
    page.wait_for_load_state("load")
    boot_error = page.locator("[data-test=boot-error]")
    assert not boot_error.count(), boot_error.first.inner_text()
    expect(boot_error).to_have_count(0)
    login(page)
    expect(page.locator(STATUS)).to_have_attribute("data-offline", "true")
    expect(page.locator(SYNC)).to_have_attribute("data-count", "1")
    dialog = open_sync_dialog(page)
    rows = dialog.locator("[data-test=sync-row]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-uuid", first)
    dialog.locator("[data-test=dialog-close]").click()
    expect(page.locator(DIALOG)).to_have_count(0)
    second = sell(page, [2], expect_status="offline")
    expect(page.locator(SYNC)).to_have_attribute("data-count", "2")
    assert stored_uuids(page, data) == {first, second}

    # 4. The server back on the same port and database, the network back: one sync.
    servers.append(start_sandbox(db, port=port, kek_file=False))
    context.set_offline(False)
    go_online(page)
    dialog = open_sync_dialog(page)
    expect(dialog.locator("[data-test=sync-row]")).to_have_count(2)
    dialog.locator("[data-test=select-all]").check()
    dialog.locator("[data-test=sync-submit]").click()
    expect(page.locator(SYNC)).to_have_attribute("data-count", "0")
    assert sorted(backoffice_uuids(page, server.url)) == sorted([first, second])
    context.close()
    assert not errors, errors
