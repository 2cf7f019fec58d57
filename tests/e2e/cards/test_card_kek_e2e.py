"""The register without a KEK on the server, in real Chromium: a register that cached the card
key while the server had its KEK drops it once the server refuses to hand one out, and its
card form says card capture is unavailable and why; the settings page warns; with the KEK back
the same key seals again."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from sandbox.launcher import new_kek_file, start_sandbox
from tests.e2e.cards.test_cards_e2e import open_card_form
from tests.e2e.e2e_pos import STATUS, go_offline, open_register, set_settings

KEY_ITEMS = """() => Object.keys(localStorage)
    .filter((k) => k.startsWith("pos_offline_sync.card_key"))"""


def _restart(db, port, kek_file):
    return start_sandbox(db, ["--port", str(port)], kek_file=kek_file)


def _card_form_state(page: Page, url: str, *, first=False):
    open_register(page, url)
    if first:
        go_offline(page)
    else:
        # The cashier's manual offline mode outlives a reload; the POS data still came online.
        expect(page.locator(STATUS)).to_have_attribute("data-offline", "true")
    return open_card_form(page)


def test_register_drops_its_cached_key_and_says_why_when_the_server_has_no_kek(
    page: Page, tmp_path
):
    db = tmp_path / "shop" / "kek.sqlite3"
    db.parent.mkdir()
    kek_file, _ = new_kek_file()
    server = start_sandbox(db, kek_file=kek_file)
    port = int(server.url.rsplit(":", 1)[1])
    try:
        set_settings(page, server.url, offline=True)
        form = _card_form_state(page, server.url, first=True)
        expect(form.locator("[data-test=card-number]")).to_be_visible()
        expect(form.locator("[data-test=card-unavailable]")).to_have_count(0)
        cached = page.evaluate(KEY_ITEMS)
        assert len(cached) == 1
        kid = page.evaluate(f"() => JSON.parse(localStorage.getItem({cached[0]!r})).kid")
    finally:
        server.stop()

    # Same origin, same database, no KEK: the server hands out no key, the cache is dropped.
    server = _restart(db, port, False)
    try:
        form = _card_form_state(page, server.url)
        unavailable = form.locator("[data-test=card-unavailable]")
        expect(unavailable).to_be_visible()
        expect(unavailable).to_have_attribute("data-reason", "refused")
        expect(unavailable).to_contain_text("Card capture is unavailable")
        expect(form.locator("[data-test=card-unavailable-reason]")).to_contain_text(
            "key-encryption key"
        )
        expect(form.locator("[data-test=card-number]")).to_have_count(0)
        expect(form.locator("[data-test=card-confirm]")).to_be_disabled()
        assert page.evaluate(KEY_ITEMS) == []
        page.goto(f"{server.url}/settings")
        expect(page.locator("#card-key-warning")).to_contain_text(
            re.compile("Cards cannot be taken offline: No key-encryption key")
        )
    finally:
        server.stop()

    # The KEK is back: the same key again, and the form takes cards.
    server = _restart(db, port, kek_file)
    try:
        form = _card_form_state(page, server.url)
        expect(form.locator("[data-test=card-number]")).to_be_visible()
        (item,) = page.evaluate(KEY_ITEMS)
        assert page.evaluate(f"() => JSON.parse(localStorage.getItem({item!r})).kid") == kid
        page.goto(f"{server.url}/settings")
        expect(page.locator("#card-key-warning")).to_have_count(0)
    finally:
        server.stop()
        kek_file.unlink()
        kek_file.parent.rmdir()
