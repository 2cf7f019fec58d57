"""The sync dialog from the keyboard alone (WAI-ARIA dialog pattern): focus enters on open,
Tab and Shift+Tab cycle inside, Escape closes (while a sync runs it says why it cannot yet),
focus returns to the Sync icon, and never falls to <body> when Sync disables its button."""

from e2e_pos import (
    DIALOG,
    SYNC,
    go_offline,
    go_online,
    open_register,
    row,
    sell,
    set_settings,
)
from playwright.sync_api import Page, expect

SYNC_RPC = "**/rpc/offline_sync_orders"

# Where the focus is: inside the dialog, on <body>, or elsewhere; and what it is.
WHERE = """() => {
    const active = document.activeElement;
    const dialog = document.querySelector('[data-test=sync-dialog]');
    const where = !active || active === document.body ? "body"
        : dialog && dialog.contains(active) ? "dialog" : "outside";
    const what = active ? (active.dataset.test || active.getAttribute("aria-label")
        || active.tagName.toLowerCase()) : "none";
    return where + ":" + what;
}"""


def _orders_waiting(sandbox, page: Page, count=2) -> list[str]:
    set_settings(page, sandbox.url, offline=True)
    open_register(page, sandbox.url)
    go_offline(page)
    uuids = [sell(page, [i], expect_status="offline") for i in range(count)]
    go_online(page)
    return uuids


def _where(page: Page) -> str:
    return page.evaluate(WHERE)


def test_tab_cycles_inside_escape_closes_focus_back_on_the_icon(sandbox, page):
    _orders_waiting(sandbox, page)
    sync = page.locator(SYNC)
    sync.focus()
    page.keyboard.press("Enter")
    dialog = page.locator(DIALOG)
    expect(dialog.locator("[data-test=sync-row]")).to_have_count(2)
    assert _where(page).startswith("dialog:"), _where(page)

    # Tab goes round the dialog's controls and never leaves it.
    stops = []
    for _ in range(16):
        page.keyboard.press("Tab")
        stops.append(_where(page))
    assert all(stop.startswith("dialog:") for stop in stops), stops
    cycle = stops[: stops.index(stops[0], 1)]
    assert {"dialog:dialog-close", "dialog:select-all", "dialog:dialog-close-footer"} <= set(
        cycle
    ), cycle
    assert stops[len(cycle) : 2 * len(cycle)] == cycle, stops  # the same round again

    # Shift+Tab from the first control goes to the last one.
    dialog.locator("[data-test=dialog-close]").focus()
    page.keyboard.press("Shift+Tab")
    expect(dialog.locator("[data-test=dialog-close-footer]")).to_be_focused()

    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(sync).to_be_focused()


def test_sync_from_the_keyboard_keeps_the_focus_in_the_dialog(sandbox, page):
    first, _second = _orders_waiting(sandbox, page)
    sync = page.locator(SYNC)
    sync.focus()
    page.keyboard.press("Enter")
    dialog = page.locator(DIALOG)
    check = row(page, first).locator("[data-test=row-check]")
    check.focus()
    page.keyboard.press("Space")
    expect(check).to_be_checked()

    held = []

    def hold(route):
        held.append(route)

    page.route(SYNC_RPC, hold)
    submit = dialog.locator("[data-test=sync-submit]")
    # Enabled once the dialog has taken the selection (and the register is back online): a
    # disabled button takes no focus, and the Enter would go to the checkbox.
    expect(submit).to_be_enabled()
    submit.focus()
    expect(submit).to_be_focused()
    page.keyboard.press("Enter")
    expect(dialog.locator("[data-test=sync-progress]")).to_be_visible()
    expect(submit).to_be_disabled()
    assert _where(page).startswith("dialog:"), _where(page)

    # While it runs, Escape does not close the dialog: it says why.
    page.keyboard.press("Escape")
    expect(dialog.locator("[data-test=close-note]")).to_have_text(
        "A sync is running: this window can be closed once it has finished, "
        "so that every order gets its result."
    )
    expect(dialog).to_be_visible()
    assert _where(page).startswith("dialog:"), _where(page)

    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert len(held) == 1
    held[0].continue_()
    page.unroute(SYNC_RPC)
    expect(row(page, first).locator("[data-test=row-status] [data-status]")).to_have_attribute(
        "data-status", "ok"
    )
    expect(dialog.locator("[data-test=close-note]")).to_have_count(0)
    # The Sync button is disabled again (nothing checked): the focus stayed in the dialog.
    expect(submit).to_be_disabled()
    assert _where(page).startswith("dialog:"), _where(page)
    page.keyboard.press("Tab")
    assert _where(page).startswith("dialog:"), _where(page)

    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(sync).to_be_focused()
