"""axe-core over the card screens: the sync dialog with a real decline, an approval, a refusal
and a lost answer shown (at 1280 px and folded at 390 px), the card form with every field
error, the card form refused by a risk limit, and the back-office order of a declined card
with its "Charge new card" form. 0 serious or critical violations."""

import json

from playwright.sync_api import Page, expect

from tests.e2e.cards.test_cards_e2e import offline_register, open_card_form, order_page, set_limits
from tests.e2e.cards.test_screens_e2e import _dialog_with_long_texts
from tests.e2e.e2e_pos import STATUS, open_register, row


def _clean(result):
    assert result["severe"] == [], json.dumps(result["severe"], indent=1)


def test_axe_dialog_with_results_and_errors(page: Page, card_sandbox, axe):
    uuids = _dialog_with_long_texts(page, card_sandbox.url)
    _clean(axe(page, "sync dialog: declined, approved, refused, not sent"))
    page.set_viewport_size({"width": 390, "height": 844})
    _clean(axe(page, "sync dialog: declined, approved, refused, not sent (390 px)"))
    page.set_viewport_size({"width": 1280, "height": 800})
    declined = row(page, uuids["declined"])
    declined.locator("[data-test=row-check]").check()
    page.locator("[data-test=sync-dialog] [data-test=sync-submit]").click()
    expect(declined.locator("[data-status=ok]")).to_be_visible()
    back = order_page(page, card_sandbox.url, uuids["declined"])
    expect(back.locator("#order")).to_be_visible()
    _clean(axe(back, "back office: order of a declined card"))


def test_axe_card_form_with_errors_and_refusal(page: Page, card_sandbox, axe):
    offline_register(page, card_sandbox.url)
    form = open_card_form(page)
    _clean(axe(page, "card form"))
    form.locator("[data-test=card-number]").fill("4242 4242 4242 4241")
    form.locator("[data-test=card-confirm]").click()
    expect(form.locator("[data-test=error-name]")).to_be_visible()
    _clean(axe(page, "card form: every field in error"))
    form.locator("[data-test=card-cancel]").click()

    set_limits(page, card_sandbox.url, amount=5)
    open_register(page, card_sandbox.url)  # still offline by hand since the first form
    expect(page.locator(STATUS)).to_have_attribute("data-offline", "true")
    form = open_card_form(page)
    expect(form.locator("[data-test=card-refusal]")).to_be_visible()
    _clean(axe(page, "card form: refused by a risk limit"))
