"""The register's screens at the sizes registers have: 1280x800, a 1024x768 tablet and a 390 px
phone (Odoo's mobile POS width). The sync dialog shows its longest texts (a real decline from
localstripe, a real "no answer" from a dropped request, a real refusal from the server) and the
card form shows every field error; nothing may stick out, scroll sideways or be cut.

Screenshots go to var/screenshots/ (so `make test` leaves the tree clean); to refresh the
committed ones: `SCREENSHOTS_DIR=docs/screenshots .venv/bin/python -m pytest
tests/e2e/cards/test_screens_e2e.py`."""

from __future__ import annotations

import copy
import os
import uuid as uuidlib

import pytest
from playwright.sync_api import Page, expect

from tests.card_support import VISA_DECLINED, VISA_OK, payment_intents
from tests.e2e.cards.test_cards_e2e import (
    offline_register,
    open_card_form,
    process_button,
    take_card,
)
from tests.e2e.e2e_pos import (
    DIALOG,
    ROOT,
    go_online,
    login,
    open_sync_dialog,
    overflow_problems,
    pos_data,
    put_raw_records,
    row,
    sell,
    stored_orders,
)

SHOTS = ROOT / os.environ.get("SCREENSHOTS_DIR", "var/screenshots")
SIZES = [(1280, 800), (1024, 768), (390, 844)]
CASH = "[data-test=payment-method][data-method-id='1']"
LONG_CUSTOMER = "Deco Addict International Office Furniture Wholesale Cooperative"
SYNC_RPC = "**/rpc/offline_sync_orders"


def _dialog_with_long_texts(page: Page, url: str) -> dict:
    """A dialog showing a decline, an approval, a refusal by the server and a lost answer."""
    offline_register(page, url)
    declined = take_card(page, VISA_DECLINED)
    approved = take_card(page, VISA_OK)
    page.locator(CASH).click()
    lost = sell(page, [0, 1], customer=LONG_CUSTOMER, expect_status="offline")
    data = pos_data(page, url)
    (record,) = [r for r in stored_orders(page, data) if r["uuid"] == lost]
    # An order an older client left with a product the server does not know: refused.
    bad = copy.deepcopy(record)
    bad["uuid"] = bad["order"]["uuid"] = str(uuidlib.uuid4())
    bad["order"]["reference"] += "-bad"
    bad["order"]["lines"][0]["product_id"] = 999_999
    put_raw_records(page, data, [bad])
    page.reload()
    login(page)
    go_online(page)

    dialog = open_sync_dialog(page)
    for uuid in (declined, approved):
        process_button(page, uuid).click()
    expect(process_button(page, declined)).to_have_attribute("data-status", "failed")
    expect(process_button(page, approved)).to_have_attribute("data-status", "succeeded")

    row(page, bad["uuid"]).locator("[data-test=row-check]").check()
    dialog.locator("[data-test=sync-submit]").click()
    expect(row(page, bad["uuid"]).locator("[data-status=error]")).to_be_visible()

    page.route(SYNC_RPC, lambda route: route.abort("connectionreset"))
    row(page, bad["uuid"]).locator("[data-test=row-check]").uncheck()
    row(page, lost).locator("[data-test=row-check]").check()
    dialog.locator("[data-test=sync-submit]").click()
    expect(row(page, lost).locator("[data-status=pending]")).to_be_visible()
    page.unroute(SYNC_RPC)
    return {"declined": declined, "approved": approved, "lost": lost, "bad": bad["uuid"]}


def test_sync_dialog_fits_every_register_size(page: Page, card_sandbox):
    SHOTS.mkdir(parents=True, exist_ok=True)
    uuids = _dialog_with_long_texts(page, card_sandbox.url)
    dialog = page.locator(DIALOG)
    decline = row(page, uuids["declined"]).locator("[data-test=card-message]")
    lost = row(page, uuids["lost"]).locator("[data-test=row-status-detail]")
    refused = row(page, uuids["bad"]).locator("[data-test=row-status-detail]")
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        # Every long text is there whole, and seen once scrolled to.
        for text in (decline, lost, refused):
            text.scroll_into_view_if_needed()
            expect(text).to_be_visible()
        expect(decline).to_have_text("The card was declined. Ask the customer for another card.")
        expect(lost).to_have_text(
            "No answer from the server. It is kept here and can be sent again."
        )
        expect(refused).to_contain_text("999999")
        assert overflow_problems(page, DIALOG) == [], (width, overflow_problems(page, DIALOG))
        headers = dialog.locator("thead th")
        if width >= 1024:
            # A table: every column's header is shown, inside the dialog.
            for i in range(headers.count()):
                expect(headers.nth(i)).to_be_visible()
            assert (
                dialog.locator("[data-test=sync-row]").first.evaluate(
                    "r => getComputedStyle(r).display"
                )
                == "table-row"
            )
        else:
            # Folded: one card per order, each value preceded by its column's name.
            lost_row = row(page, uuids["lost"])
            assert lost_row.evaluate("r => getComputedStyle(r).display") == "grid"
            labels = lost_row.locator("td[data-label]").evaluate_all(
                """cells => cells.filter((c) => c.getClientRects().length)
                    .map((c) => getComputedStyle(c, "::before").content)"""
            )
            assert '"Date: "' in labels and '"Status: "' in labels, labels
        body = dialog.locator(".o_pos_offline_dialog_body")
        body.evaluate("b => b.scrollTo(0, 0)")
        page.screenshot(path=str(SHOTS / f"sandbox-sync-dialog-{width}x{height}.png"))
        if width < 1024:
            # The rest of the cards: the refusal, the lost answer and the result sentence.
            body.evaluate("b => b.scrollTo(0, b.scrollHeight)")
            page.screenshot(path=str(SHOTS / f"sandbox-sync-dialog-{width}x{height}-end.png"))


@pytest.mark.parametrize("width, height", SIZES)
def test_card_form_fits_with_every_error_shown(page: Page, card_sandbox, width, height):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": width, "height": height})
    offline_register(page, card_sandbox.url)
    form = open_card_form(page)
    form.locator("[data-test=card-number]").fill("4242 4242 4242 4241")
    form.locator("[data-test=card-expiry]").fill("01/20")
    form.locator("[data-test=card-cvc]").fill("1")
    form.locator("[data-test=card-confirm]").click()
    for field in ("number", "expiry", "cvc", "name"):
        expect(form.locator(f"[data-test=error-{field}]")).to_be_visible()
    assert overflow_problems(page, "[data-test=card-overlay] [role=dialog]") == []
    # "Confirm card" and "Cancel" do not touch.
    gap = page.evaluate(
        """() => {
            const a = document.querySelector("[data-test=card-confirm]").getBoundingClientRect();
            const b = document.querySelector("[data-test=card-cancel]").getBoundingClientRect();
            return b.top >= a.bottom ? b.top - a.bottom : b.left - a.right;
        }"""
    )
    assert gap >= 8, gap
    if width == 1280:
        page.screenshot(path=str(SHOTS / "sandbox-card-form.png"))
    else:
        page.screenshot(path=str(SHOTS / f"sandbox-card-form-{width}x{height}.png"))


def test_results_read_as_results_not_as_disabled_buttons(page: Page, card_sandbox):
    uuids = _dialog_with_long_texts(page, card_sandbox.url)
    for uuid, colour in ((uuids["approved"], "rgb(30, 123, 58)"), (uuids["declined"], None)):
        result = process_button(page, uuid)
        looks = result.evaluate(
            """(el) => ({tag: el.tagName, disabled: el.disabled === true,
                opacity: getComputedStyle(el).opacity, bg: getComputedStyle(el).backgroundColor,
                color: getComputedStyle(el).color, icon: Boolean(el.querySelector("svg"))})"""
        )
        assert looks["tag"] == "SPAN" and not looks["disabled"], looks
        assert looks["opacity"] == "1" and looks["icon"] and looks["color"] == "rgb(255, 255, 255)"
        if colour:
            assert looks["bg"] == colour, looks
    expect(process_button(page, uuids["approved"])).to_have_text("Approved")
    expect(process_button(page, uuids["declined"])).to_have_text("Declined")
    # The sync results too: a solid badge with its icon.
    badge = row(page, uuids["lost"]).locator("[data-status=pending]")
    expect(badge).to_have_text("Not sent")
    assert badge.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(138, 90, 0)"
    assert badge.locator("svg").count() == 1


def test_process_is_refused_in_manual_offline_as_sync_is(page: Page, card_sandbox):
    offline_register(page, card_sandbox.url)
    uuid = take_card(page)
    # Still offline by hand (the server is reachable): nothing may be charged.
    dialog = open_sync_dialog(page)
    reason = dialog.locator("[data-test=offline-reason]")
    expect(reason).to_have_text(
        "You are offline: cards can be processed and orders synced only when the POS is online."
    )
    button = process_button(page, uuid)
    expect(button).to_be_disabled()
    expect(button).to_have_attribute(
        "title", "You are offline: cards can be processed only when the POS is online."
    )
    expect(button).to_have_attribute("aria-describedby", "o_pos_offline_offline_reason")
    expect(dialog.locator("[data-test=sync-submit]")).to_be_disabled()
    # Even a call that goes around the disabled button is refused, and nothing is asked.
    calls = []
    page.on(
        "request",
        lambda r: calls.append(r.url) if r.url.endswith("/rpc/offline_process_card") else None,
    )
    refused = page.evaluate(
        """async (uuid) => {
            const { controller } = window.__posSandbox.app.root.component.state;
            const record = await controller.getRecord(uuid);
            const payment = record.order.payments[0].uuid;
            return await controller.cardProcessor.processPayment(uuid, payment);
        }""",
        uuid,
    )
    assert refused == {
        "status": "offline",
        "message": "You are offline: cards can be processed only when the POS is online.",
    }
    assert calls == []
    assert payment_intents(card_sandbox.stripe_url, pos_order_uuid=uuid) == []
    expect(button).to_have_attribute("data-status", "unprocessed")

    # Back online, the same button charges the card.
    dialog.locator("[data-test=dialog-close]").click()
    go_online(page)
    open_sync_dialog(page)
    process_button(page, uuid).click()
    expect(process_button(page, uuid)).to_have_attribute("data-status", "succeeded")
    assert len(payment_intents(card_sandbox.stripe_url, pos_order_uuid=uuid)) == 1


def test_card_form_from_the_keyboard(page: Page, card_sandbox):
    offline_register(page, card_sandbox.url)
    page.locator("[data-test=product]").nth(0).click()
    page.locator("[data-test=payment-method][data-method-id='2']").click()
    validate = page.locator("[data-test=validate]")
    validate.focus()
    page.keyboard.press("Enter")
    form = page.locator("[data-test=card-form]")
    # Focus enters on the first field, inside a modal dialog named by the form's title.
    expect(form.locator("[data-test=card-number]")).to_be_focused()
    overlay = page.locator("[data-test=card-overlay] [role=dialog]")
    expect(overlay).to_have_attribute("aria-modal", "true")
    expect(overlay).to_have_accessible_name("Card payment (charged at sync)")
    stops = []
    for _ in range(14):
        page.keyboard.press("Tab")
        stops.append(
            page.evaluate(
                """() => document.querySelector("[data-test=card-form]")
                    .contains(document.activeElement) ? document.activeElement.dataset.test
                    : "outside:" + document.activeElement.tagName"""
            )
        )
    assert not [s for s in stops if s.startswith("outside")], stops
    cycle = stops[: stops.index(stops[0], 1)]
    assert cycle == ["card-expiry", "card-cvc", "card-name", "card-confirm", "card-cancel",
                     "card-number"], cycle  # fmt: skip
    page.keyboard.press("Escape")
    expect(form).to_have_count(0)
    expect(validate).to_be_focused()
