"""Cold boot offline in the sandbox (issue 11): a browser process started while the server is
down, or while something on its port takes connections and never answers, opens the register
from the sandbox's service worker (the page, the unchanged core files, the last
/api/pos_data), lists the order waiting in IndexedDB, captures a new sale, a card sale too;
the server back, every order syncs once and the card is charged once.

Its own persistent profile (the shared `context` fixture blocks service workers) on one fixed
port, so that the restarted server is the same origin for the browser."""

from __future__ import annotations

import re
import socket
import threading

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
    row,
    sell,
    set_settings,
    stored_uuids,
)
from playwright.sync_api import expect

from sandbox.launcher import new_kek_file, start_sandbox
from tests.browser_wait import wait_for_promise
from tests.card_support import (
    SECRET_KEY,
    VISA_OK,
    localstripe,
    payment_intents,
    succeeded_for_order,
)
from tests.e2e.cards.test_cards_e2e import (  # the card e2e tests' steps
    assert_no_card_data,
    process_button,
    sync_rows,
    take_card,
)

# What the browser logs for a request its network refused (the server is down on purpose).
NETWORK_REFUSED = re.compile(
    r"net::ERR_(INTERNET_DISCONNECTED|CONNECTION_REFUSED|CONNECTION_RESET|CONNECTION_CLOSED"
    r"|EMPTY_RESPONSE|FAILED)"
)

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
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Unanswering:
    """Takes every connection on the port and never answers: a hung server, or a network
    that lets the connection through and no reply back."""

    def __init__(self, port: int):
        self.sock = socket.create_server(("127.0.0.1", port))
        self.taken: list[socket.socket] = []
        threading.Thread(target=self.take, daemon=True).start()

    def take(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed
            self.taken.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.taken:
            conn.close()


class Register:
    """One sandbox (database, card key, port) and one browser profile across its restarts."""

    def __init__(self, tmp_path, playwright_session, stripe_url=None):
        self.pw = playwright_session
        self.port = free_port()
        self.db = tmp_path / "db.sqlite3"
        self.profile = tmp_path / "profile"
        self.stripe_url = stripe_url
        # Cards need the same key file after the restart (the key is kept apart from the data).
        self.kek = new_kek_file()[0] if stripe_url else False
        self.servers = []
        self.errors: list[str] = []
        self.context = None
        self.start_server()

    @property
    def url(self) -> str:
        return self.servers[-1].url

    def start_server(self):
        cards = {"stripe_url": self.stripe_url, "stripe_key": SECRET_KEY} if self.stripe_url else {}
        self.servers.append(start_sandbox(self.db, port=self.port, kek_file=self.kek, **cards))

    def stop_server(self) -> None:
        self.servers[-1].stop()

    def launch(self):
        """A new browser process on the profile; returns its page."""
        options = {**launch_options(), "viewport": {"width": 1280, "height": 800}}
        self.context = self.pw.chromium.launch_persistent_context(str(self.profile), **options)
        self.context.set_default_timeout(15_000)
        page = self.context.new_page()
        watch(page, self.errors)
        return page

    def close_browser(self) -> None:
        self.context.close()

    def first_online_load(self, sell_one: bool = True):
        """Online, offline mode on: the register loads once (the worker installs and caches
        it), the cashier goes offline and (sell_one) sells one order; the browser closed."""
        page = self.launch()
        set_settings(page, self.url, offline=True)
        data = pos_data(page, self.url)
        open_register(page, self.url)
        wait_for_promise(page, CACHED)
        go_offline(page)
        first = sell(page, [0, 1], expect_status="offline") if sell_one else None
        if first:
            expect(page.locator(SYNC)).to_have_attribute("data-count", "1")
        self.close_browser()
        return data, first

    def cold_start(self, page, waiting: list[str], goto_timeout_ms: int = 15_000) -> None:
        """Opens the register with no server: no boot error, the cashier logs in, the waiting
        orders are listed."""
        page.goto(f"{self.url}/pos", timeout=goto_timeout_ms)
        page.wait_for_load_state("load")
        boot_error = page.locator("[data-test=boot-error]")
        # Past the worker's wait for the page and the data when the server does not answer.
        expect(page.locator("[data-test=cashier]").first.or_(boot_error)).to_be_visible(
            timeout=60_000
        )
        assert not boot_error.count(), boot_error.first.inner_text()
        login(page)
        expect(page.locator(STATUS)).to_have_attribute("data-offline", "true")
        expect(page.locator(SYNC)).to_have_attribute("data-count", str(len(waiting)))
        dialog = open_sync_dialog(page)
        rows = dialog.locator("[data-test=sync-row]")
        expect(rows).to_have_count(len(waiting))
        for uuid in waiting:
            expect(row(page, uuid)).to_have_count(1)
        dialog.locator("[data-test=dialog-close]").click()
        expect(page.locator(DIALOG)).to_have_count(0)

    def sync_all_back_online(self, page, expected: list[str]) -> None:
        """The server back on the same port and database: one sync of every waiting order."""
        self.start_server()
        go_online(page)
        dialog = open_sync_dialog(page)
        expect(dialog.locator("[data-test=sync-row]")).to_have_count(len(expected))
        dialog.locator("[data-test=select-all]").check()
        dialog.locator("[data-test=sync-submit]").click()
        expect(page.locator(SYNC)).to_have_attribute("data-count", "0")
        assert sorted(backoffice_uuids(page, self.url)) == sorted(expected)

    def close(self) -> None:
        if self.context:
            self.context.close()
        for server in self.servers:
            if server.process.poll() is None:
                server.stop()


@pytest.fixture
def register(tmp_path, playwright_session):
    made = []

    def make(**kwargs):
        made.append(Register(tmp_path, playwright_session, **kwargs))
        return made[-1]

    yield make
    for each in made:
        each.close()


def test_cold_boot_with_the_server_down(register):
    reg = register()
    data, first = reg.first_online_load()
    # The server stopped: its port refuses every connection, what a register sees when the
    # network or the server is down.
    reg.stop_server()
    page = reg.launch()
    reg.cold_start(page, [first])
    second = sell(page, [2], expect_status="offline")
    expect(page.locator(SYNC)).to_have_attribute("data-count", "2")
    assert stored_uuids(page, data) == {first, second}
    reg.sync_all_back_online(page, [first, second])
    assert not reg.errors, reg.errors


def test_cold_boot_with_a_server_that_never_answers(register):
    """Something on the port takes the connection and never replies (a hung server, a captive
    network): the worker answers from its cache after its wait, so the register still opens
    (network-first alone would wait for ever)."""
    reg = register()
    data, first = reg.first_online_load()
    reg.stop_server()
    hole = Unanswering(reg.port)
    try:
        page = reg.launch()
        reg.cold_start(page, [first], goto_timeout_ms=90_000)
        assert hole.taken, "the browser never tried the server"
        second = sell(page, [2], expect_status="offline")
        assert stored_uuids(page, data) == {first, second}
    finally:
        hole.close()
    reg.sync_all_back_online(page, [first, second])
    assert not reg.errors, reg.errors


@pytest.fixture(scope="module")
def stripe_url():
    with localstripe() as url:
        yield url


def test_a_card_sale_at_cold_boot_is_sealed_then_charged_once(register, stripe_url):
    """The card key came with the first online load: a browser started with the server down
    still seals a card; back online, Process charges it once and the order lands paid."""
    reg = register(stripe_url=stripe_url)
    reg.first_online_load(sell_one=False)
    reg.stop_server()
    page = reg.launch()
    reg.cold_start(page, [])
    uuid = take_card(page, VISA_OK, products=(0,))
    expect(page.locator(SYNC)).to_have_attribute("data-count", "1")
    reg.start_server()
    go_online(page)
    open_sync_dialog(page)
    button = process_button(page, uuid)
    button.click()
    expect(button).to_have_attribute("data-status", "succeeded")
    sync_rows(page, [uuid])
    (intent,) = succeeded_for_order(stripe_url, uuid)
    assert len(payment_intents(stripe_url, pos_order_uuid=uuid)) == 1, intent
    expect(page.locator(SYNC)).to_have_attribute("data-count", "0")
    assert uuid in backoffice_uuids(page, reg.url)
    assert_no_card_data(page, reg.servers[-1], [VISA_OK])
    assert not reg.errors, reg.errors
