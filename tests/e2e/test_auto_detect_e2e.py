"""Auto-detect: the browser's connection switches the icon by itself; with auto-detect off,
nothing switches by itself."""

from e2e_pos import STATUS, open_register, pos_data, sell, set_settings, stored_orders
from playwright.sync_api import expect

# How long auto-detect-off is given to (wrongly) switch by itself: several heartbeat periods of
# the sandbox register and well past the `offline` event, which fires at once. Not a timing
# assertion: the test only checks that the state did not change.
QUIET_WAIT_MS = 3_000


def test_auto_detect_follows_the_connection(sandbox, page, context):
    assert pos_data(page, sandbox.url)["config"]["allow_offline_auto_detect"] is False
    set_settings(page, sandbox.url, offline=True, auto_detect=True)
    data = pos_data(page, sandbox.url)
    assert data["config"]["allow_offline_auto_detect"] is True
    open_register(page, sandbox.url)
    status = page.locator(STATUS)
    expect(status).to_have_attribute("data-offline", "false")

    context.set_offline(True)
    expect(status).to_have_attribute("data-offline", "true")
    expect(status).to_have_attribute("aria-label", "Offline: click to go back online")
    uuid = sell(page, [0], expect_status="offline")
    assert {r["uuid"] for r in stored_orders(page, data)} == {uuid}

    context.set_offline(False)
    expect(status).to_have_attribute("data-offline", "false", timeout=20_000)
    expect(status).to_have_attribute("aria-label", "Online: click to work offline")


def test_without_auto_detect_nothing_switches_by_itself(sandbox, page, context):
    set_settings(page, sandbox.url, offline=True, auto_detect=False)
    data = pos_data(page, sandbox.url)
    open_register(page, sandbox.url)
    status = page.locator(STATUS)
    expect(status).to_have_attribute("data-offline", "false")

    context.set_offline(True)
    page.wait_for_timeout(QUIET_WAIT_MS)
    expect(status).to_have_attribute("data-offline", "false")

    # Offline mode is on, so a sale the server cannot receive is kept offline, never lost.
    uuid = sell(page, [0])
    assert {r["uuid"] for r in stored_orders(page, data)} == {uuid}
    expect(status).to_have_attribute("data-offline", "false")

    # And a manual click still works without auto-detect.
    context.set_offline(False)
    status.click()
    expect(status).to_have_attribute("data-offline", "true")
