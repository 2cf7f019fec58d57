"""Cards captured offline and charged at sync, in real Chromium against the sandbox and a real
localstripe: green/red Process, paid/unpaid orders, exactly one PaymentIntent per order under a
double click, two tabs and a dropped answer, the risk limits, decline recovery in the back
office, and no card number or CVC left in IndexedDB, the SQLite file or the server log."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.card_support import (
    VISA_DECLINED,
    VISA_OK,
    delay_stripe,
    payment_intents,
    succeeded_for_order,
)
from tests.e2e.e2e_pos import (
    DIALOG,
    go_offline,
    go_online,
    open_register,
    open_sync_dialog,
    pos_data,
    row,
    set_settings,
)

CVC = "919"
CARD_METHOD = "[data-test=payment-method][data-method-id='2']"

# Every object store of every IndexedDB database of the page, as JSON text.
DUMP_INDEXEDDB = """async () => {
    const out = {};
    for (const info of await indexedDB.databases()) {
        const db = await new Promise((resolve, reject) => {
            const req = indexedDB.open(info.name);
            req.onsuccess = () => resolve(req.result);
            req.onerror = () => reject(req.error);
        });
        try {
            for (const name of db.objectStoreNames) {
                out[info.name + "/" + name] = await new Promise((resolve, reject) => {
                    const req = db.transaction(name, "readonly").objectStore(name).getAll();
                    req.onsuccess = () => resolve(req.result);
                    req.onerror = () => reject(req.error);
                });
            }
        } finally { db.close(); }
    }
    return JSON.stringify(out) + JSON.stringify(Object.entries(localStorage));
}"""


def set_limits(page: Page, url: str, amount=0, total=0, hours=0) -> None:
    page.goto(f"{url}/settings")
    page.get_by_label("Allow Offline Mode").set_checked(True)
    page.fill("#offline_card_max_amount", str(amount))
    page.fill("#offline_card_max_total", str(total))
    page.fill("#offline_card_max_age_hours", str(hours))
    page.get_by_role("button", name=re.compile("save", re.I)).click()
    page.wait_for_load_state()


def open_card_form(page: Page, products=(0, 0)):
    for index in products:
        page.locator("[data-test=product]").nth(index).click()
    page.locator(CARD_METHOD).click()
    page.locator("[data-test=validate]").click()
    form = page.locator("[data-test=card-form]")
    expect(form).to_be_visible()
    return form


def take_card(page: Page, number=VISA_OK, products=(0, 0)) -> str:
    """Sells with the offline card method; returns the order uuid once it is kept offline."""
    form = open_card_form(page, products)
    form.locator("[data-test=card-number]").fill(" ".join(re.findall("....", number)))
    expect(form.locator("[data-test=card-brand]")).to_have_text("VISA")
    form.locator("[data-test=card-expiry]").fill("12/30")
    form.locator("[data-test=card-cvc]").fill(CVC)
    form.locator("[data-test=card-name]").fill("Ada Lovelace")
    form.locator("[data-test=card-confirm]").click()
    receipt = page.locator("[data-test=receipt]")
    expect(receipt).to_have_attribute("data-status", "offline")
    uuid = receipt.get_attribute("data-uuid")
    page.locator("[data-test=new-order]").click()
    return uuid


def offline_register(page: Page, url: str) -> None:
    set_settings(page, url, offline=True)
    open_register(page, url)
    # One online load caches the card key; then the cashier goes offline.
    go_offline(page)


def process_button(page: Page, uuid: str):
    return row(page, uuid).locator("[data-test=process-card-button]")


def sync_rows(page: Page, uuids) -> None:
    for uuid in uuids:
        row(page, uuid).locator("[data-test=row-check]").check()
    page.locator(f"{DIALOG} [data-test=sync-submit]").click()
    for uuid in uuids:
        expect(row(page, uuid).locator("[data-test=row-status] [data-status]")).to_have_attribute(
            "data-status", "ok"
        )


def order_page(page: Page, url: str, uuid: str) -> Page:
    other = page.context.new_page()
    other.goto(f"{url}/backoffice/order/{uuid}")
    return other


def assert_no_card_data(page: Page, card_sandbox, numbers) -> None:
    cvc = re.compile(r"cvc\W{0,8}" + CVC)
    texts = {
        "IndexedDB": page.evaluate(DUMP_INDEXEDDB),
        "SQLite file": b"".join(
            p.read_bytes()
            for p in card_sandbox.db_path.parent.glob(card_sandbox.db_path.name + "*")
        ).decode("latin-1"),
        "server log": card_sandbox.log,
    }
    for where, text in texts.items():
        for number in numbers:
            assert number not in text, f"card number found in the {where}"
        assert not cvc.search(text), f"CVC found in the {where}"


def test_card_offline_process_green_sync_paid_once(page: Page, card_sandbox):
    url = card_sandbox.url
    offline_register(page, url)
    # The card method is offered only while offline.
    uuid = take_card(page)
    go_online(page)
    expect(page.locator(CARD_METHOD)).to_have_count(0)
    open_sync_dialog(page)
    button = process_button(page, uuid)
    expect(button).to_have_text("Process")
    button.click()
    expect(button).to_have_attribute("data-status", "succeeded")
    expect(button).to_have_text("Approved")
    sync_rows(page, [uuid])
    other = order_page(page, url, uuid)
    expect(other.locator("#order-status")).to_have_text("Paid")
    expect(other.locator("#order-payments")).to_contain_text("VISA **** 4242")
    expect(other.locator("#order-payments")).to_contain_text("pi_")
    (pi,) = succeeded_for_order(card_sandbox.stripe_url, uuid)
    expect(other.locator("#order-payments")).to_contain_text(pi["id"])
    assert len(payment_intents(card_sandbox.stripe_url, pos_order_uuid=uuid)) == 1
    assert_no_card_data(page, card_sandbox, [VISA_OK])


def test_decline_red_unpaid_then_charge_new_card(page: Page, card_sandbox):
    url = card_sandbox.url
    offline_register(page, url)
    uuid = take_card(page, VISA_DECLINED)
    go_online(page)
    open_sync_dialog(page)
    process_button(page, uuid).click()
    button = process_button(page, uuid)
    expect(button).to_have_attribute("data-status", "failed")
    message = row(page, uuid).locator("[data-test=card-message]")
    expect(message).to_have_text("The card was declined. Ask the customer for another card.")
    sync_rows(page, [uuid])
    other = order_page(page, url, uuid)
    expect(other.locator("#order-status")).to_have_text("Unpaid")
    expect(other.locator("#order-note")).to_contain_text("The card was declined.")
    form = other.locator("#charge-new-card")
    other.fill("#cc-number", "4242 4242 4242 4241")
    other.fill("#cc-expiry", "12/30")
    other.fill("#cc-cvc", CVC)
    other.fill("#cc-name", "Ada Lovelace")
    form.locator("#charge-submit").click()
    expect(form.locator("[data-error=number]")).to_have_text(
        "This card number is not valid: check the digits."
    )
    other.fill("#cc-number", VISA_OK)
    form.locator("#charge-submit").click()
    expect(other.locator("#order-status")).to_have_text("Paid", timeout=15_000)
    expect(other.locator("tr.card-attempt")).to_have_count(2)
    assert len(succeeded_for_order(card_sandbox.stripe_url, uuid)) == 1
    assert_no_card_data(other, card_sandbox, [VISA_OK, VISA_DECLINED])


def test_double_click_charges_once(page: Page, card_sandbox):
    offline_register(page, card_sandbox.url)
    uuid = take_card(page)
    go_online(page)
    open_sync_dialog(page)
    process_button(page, uuid).dblclick()
    expect(process_button(page, uuid)).to_have_attribute("data-status", "succeeded")
    assert len(payment_intents(card_sandbox.stripe_url, pos_order_uuid=uuid)) == 1


def test_two_tabs_processing_the_same_card_charge_once(page: Page, card_sandbox):
    offline_register(page, card_sandbox.url)
    uuid = take_card(page)
    go_online(page)
    second = page.context.new_page()
    open_register(second, card_sandbox.url)
    # Both requests are held back until both tabs have asked, and Stripe takes a second to
    # create the PaymentIntent: the server is charging for one tab when the other one asks.
    held, answers = [], []

    def hold(route):
        held.append(route)

    for tab in (page, second):
        tab.route("**/rpc/offline_process_card", hold)
        tab.on(
            "response",
            lambda r: (
                answers.append(r.json()["result"]["status"])
                if r.url.endswith("/rpc/offline_process_card")
                else None
            ),
        )
        open_sync_dialog(tab)
        process_button(tab, uuid).click()
    deadline = 100
    while len(held) < 2 and deadline:
        page.wait_for_timeout(50)
        deadline -= 1
    assert len(held) == 2
    delay_stripe(card_sandbox.stripe_url, r"^/v1/payment_intents$", ms=1000)
    for route in held:
        route.continue_()
    for tab in (page, second):  # before the follow-up asks (1.5 s later) meet the hold
        tab.unroute("**/rpc/offline_process_card")
    # Both tabs show the one outcome with no further click: the tab told "being charged
    # elsewhere" asks again by itself.
    for tab in (page, second):
        expect(process_button(tab, uuid)).to_have_attribute(
            "data-status", "succeeded", timeout=15_000
        )
    assert "in_progress" in answers, answers
    assert len(payment_intents(card_sandbox.stripe_url, pos_order_uuid=uuid)) == 1
    assert len(succeeded_for_order(card_sandbox.stripe_url, uuid)) == 1
    second.close()


def test_dropped_answer_then_retry_charges_once(page: Page, card_sandbox):
    offline_register(page, card_sandbox.url)
    uuid = take_card(page)
    go_online(page)
    open_sync_dialog(page)

    def drop(route):
        route.fetch()  # the server processes the card...
        route.abort()  # ...and its answer is lost

    page.route("**/rpc/offline_process_card", drop)
    process_button(page, uuid).click()
    expect(row(page, uuid).locator("[data-test=card-message]")).to_contain_text("No answer")
    expect(process_button(page, uuid)).to_be_enabled()
    assert len(succeeded_for_order(card_sandbox.stripe_url, uuid)) == 1
    page.unroute("**/rpc/offline_process_card")
    process_button(page, uuid).click()
    expect(process_button(page, uuid)).to_have_attribute("data-status", "succeeded")
    assert len(payment_intents(card_sandbox.stripe_url, pos_order_uuid=uuid)) == 1


def test_sync_processes_unprocessed_cards_first(page: Page, card_sandbox):
    offline_register(page, card_sandbox.url)
    ok = take_card(page)
    declined = take_card(page, VISA_DECLINED)
    go_online(page)
    open_sync_dialog(page)
    sync_rows(page, [ok, declined])
    expect(process_button(page, ok)).to_have_attribute("data-status", "succeeded")
    expect(process_button(page, declined)).to_have_attribute("data-status", "failed")
    assert len(succeeded_for_order(card_sandbox.stripe_url, ok)) == 1
    other = order_page(page, card_sandbox.url, declined)
    expect(other.locator("#order-status")).to_have_text("Unpaid")


@pytest.mark.parametrize(
    "limits, takes_first, message",
    [
        ({"amount": 5}, False, "is over this POS's limit of 5.00 USD per offline card payment"),
        ({"total": 10}, True, "Unprocessed offline card payments would reach 14.00 USD"),
        ({"hours": 0.0002}, True, "An offline card payment has waited more than 0.0002 hours."),
    ],
)
def test_risk_limits_refuse_with_their_message(
    page: Page, card_sandbox, limits, takes_first, message
):
    set_limits(page, card_sandbox.url, **limits)
    assert pos_data(page, card_sandbox.url)["config"]["offline_card_max_amount"] == limits.get(
        "amount", 0
    )
    open_register(page, card_sandbox.url)
    go_offline(page)
    if takes_first:
        take_card(page)  # 7.00 waiting unprocessed
        page.wait_for_timeout(1000)  # the age limit above is 0.72 s
    if "hours" in limits:
        age = page.locator("[data-test=sync-card-age]")
        expect(age).to_have_attribute("data-level", "overdue")
        expect(age).to_have_text("Offline cards are overdue: sync and process them now.")
    form = open_card_form(page)
    expect(form.locator("[data-test=card-refusal]")).to_contain_text(message)
    expect(form.locator("[data-test=card-confirm]")).to_be_disabled()
    expect(form.locator("[data-test=card-number]")).to_have_count(0)


def test_card_form_checks_fields_inline(page: Page, card_sandbox):
    offline_register(page, card_sandbox.url)
    form = open_card_form(page)
    form.locator("[data-test=card-number]").fill("4242 4242 4242 4241")
    form.locator("[data-test=card-expiry]").fill("01/20")
    form.locator("[data-test=card-cvc]").fill("1")
    form.locator("[data-test=card-confirm]").click()
    expect(form.locator("[data-test=error-number]")).to_have_text(
        "This card number is not valid: check the digits."
    )
    expect(form.locator("[data-test=error-expiry]")).to_have_text("This card has expired.")
    expect(form.locator("[data-test=error-cvc]")).to_have_text(
        "Enter the 3-digit security code (CVC)."
    )
    expect(form.locator("[data-test=error-name]")).to_have_text("Enter the cardholder's name.")
    form.locator("[data-test=card-cancel]").click()
    expect(form).to_have_count(0)


def test_sync_icon_counts_down_to_the_age_limit(page: Page, card_sandbox):
    set_limits(page, card_sandbox.url, hours=24)
    open_register(page, card_sandbox.url)
    go_offline(page)
    age = page.locator("[data-test=sync-card-age]")
    expect(age).to_have_count(0)
    take_card(page)
    expect(age).to_have_attribute("data-level", "ok")
    expect(age).to_have_text(re.compile(r"^Process offline cards within 23 h 5\d min\.$"))
    sync = page.locator("[data-test=sync-button]")
    expect(sync).to_have_attribute("aria-label", "Sync to Server: 1 offline order waiting")
    expect(sync).to_have_accessible_description(re.compile(r"^Process offline cards within"))
    expect(sync).to_have_attribute(
        "title", re.compile(r"1 offline order waiting\. Process offline cards within")
    )
