"""Two devices on one register (real Odoo 19, headless Chromium): a landing tells the devices
once, not once per order, and never the device that synced.

Odoo's sync_from_ui sends a "synchronisation" notice for every order it stores, naming the
device whose sync it was; every other device of the register then reads its open orders again
(pos.config.read_config_open_orders). The addon's sync stored each order through sync_from_ui
and named no device: a landing of 50 made 50 reads from the syncing register itself (a
second-long task on its page) and 50 from each other register. Now the notice is sent once per
sync request and names the syncing device.

Device A sells offline (manual switch) and syncs its orders from the dialog; device B, the same
register in another browser, stays online. B reads its open orders once for the landing (the
notice did reach it: the bus works); A never.
"""

from __future__ import annotations

from playwright.sync_api import expect, sync_playwright

from tests.odoo_browser.test_cold_boot_odoo import STATUS, SYNC, open_register, prepare, sell
from tests.odoo_browser.test_validate_write_odoo import go_offline, lines_of
from tools.odoo_server import Rpc

ORDERS = 3
READ_OPEN_ORDERS = "/pos.config/read_config_open_orders"
SYNC_CALL = "/pos.order/offline_sync_orders"


def calls_to(page, path: str) -> list[str]:
    """The page's requests to `path` from now on (the list grows as they are made)."""
    seen: list[str] = []
    page.on("request", lambda request: path in request.url and seen.append(request.url))
    return seen


def test_a_landing_tells_the_other_device_once_and_the_syncing_one_never(odoo, tmp_path):
    rpc = Rpc(odoo.url, odoo.db)
    setup = prepare(rpc)
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    with sync_playwright() as pw:
        context_a, page_a = open_register(pw, odoo, tmp_path / "a", setup["config_id"])
        context_b, page_b = open_register(pw, odoo, tmp_path / "b", setup["config_id"])
        try:
            go_offline(page_a)
            for _ in range(ORDERS):
                sell(page_a, setup["product"], 1)
            expect(page_a.locator(f"{SYNC}[data-count='{ORDERS}']")).to_be_visible()

            reads_a = calls_to(page_a, READ_OPEN_ORDERS)
            reads_b = calls_to(page_b, READ_OPEN_ORDERS)
            syncs_a = calls_to(page_a, SYNC_CALL)
            page_a.locator(STATUS).click()
            expect(page_a.locator(f"{STATUS}[data-offline='false']")).to_be_visible()
            page_a.locator(SYNC).click()
            expect(page_a.locator(".modal [data-test='sync-row']")).to_have_count(ORDERS)
            page_a.locator(".modal [data-test='select-all']").click()
            page_a.locator(".modal [data-test='sync-submit']").click()
            expect(page_a.locator(f"{SYNC}[data-count='0']")).to_be_visible()
            assert len(lines_of(rpc, setup["product_id"])) == ORDERS

            # The notice reaches B (its read is the proof the bus delivers), then any further
            # notice of this landing would have come with it: a few seconds more.
            for _ in range(300):  # 30 s
                if reads_b:
                    break
                page_b.wait_for_timeout(100)
            assert reads_b, "device B was never told of the landing"
            page_b.wait_for_timeout(3000)
            assert len(syncs_a) == 1, syncs_a
            assert len(reads_b) == len(syncs_a), reads_b
            assert reads_a == []
        finally:
            context_a.close()
            context_b.close()
