"""Screenshots and axe-core scan of the readiness popover and the Devices list in a real Odoo 19
(not part of `make test`: it needs a running Odoo with this addon and its demo data).

    python tools/odoo_readiness_screens.py --url http://127.0.0.1:8069 --config 1 [--out DIR]

Logs in as admin/admin, turns offline mode on for the register (card age limit 24 h), sells
one order offline, opens the readiness popover (screenshot, axe-core on it, keyboard: Escape
back to its button), goes back online so the device reports, and takes the register's Devices
list in the back office. Exits 1 on a serious or critical axe violation or a keyboard failure.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from odoo_screens import MODAL, STATUS, SYNC, axe, counts_of, sell  # noqa: E402

from sandbox.launcher import chromium_options  # noqa: E402

READINESS = ".pos-offline-sync-icons [data-test='readiness-button']"
PANEL = ".pos-offline-sync-icons [data-test='readiness-panel']"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8069")
    parser.add_argument("--config", type=int, default=1)
    parser.add_argument("--out", default=str(ROOT / "var" / "screenshots"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    expect.set_options(timeout=30_000)
    failed = False
    with sync_playwright() as pw:
        browser = pw.chromium.launch(**chromium_options())
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        # Leaving the POS with an unpersisted order waiting asks first: say "leave".
        context.on("dialog", lambda dialog: dialog.accept())
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{args.url}/web/login")
        page.fill("input[name=login]", "admin")
        page.fill("input[name=password]", "admin")
        page.locator("form button[type=submit]").first.click()
        page.wait_for_url("**/odoo**", timeout=120_000)
        written = page.request.post(
            f"{args.url}/web/dataset/call_kw/pos.config/write",
            data={
                "jsonrpc": "2.0",
                "method": "call",
                "params": {
                    "model": "pos.config",
                    "method": "write",
                    "args": [
                        [args.config],
                        {"allow_offline_mode": True, "offline_card_max_age_hours": 24},
                    ],
                    "kwargs": {},
                },
            },
        )
        assert written.ok and "error" not in written.json(), written.text()
        page.goto(f"{args.url}/pos/ui?config_id={args.config}")
        opening = page.locator(".screen-login .btn.open-register-btn")
        expect(opening.or_(page.locator(".product-screen"))).to_be_visible(timeout=60_000)
        if opening.is_visible():
            opening.click()
            confirm = page.locator(f"{MODAL} .modal-footer .btn-primary")
            if confirm.count():
                confirm.first.click()
        expect(page.locator(STATUS)).to_be_visible()
        page.locator(STATUS).click()
        expect(page.locator(STATUS)).to_have_attribute("data-offline", "true")
        sell(page, "Cash")
        expect(page.locator(SYNC)).to_have_attribute("data-count", "1")

        button = page.locator(READINESS)
        button.click()
        expect(button).to_have_attribute("aria-expanded", "true")
        panel = page.locator(PANEL)
        expect(panel.locator("[data-test=readiness-space]")).to_contain_text("used")
        page.wait_for_timeout(300)
        page.screenshot(path=str(out / "odoo-readiness.png"))
        ours = axe(page, [PANEL])
        severe = [v for v in ours if v["impact"] in ("serious", "critical")]
        print(f"odoo readiness popover: axe {counts_of(ours)}")
        for v in severe:
            print("   ", f"{v['id']} ({v['impact']}): {v['nodes']}")
        page.keyboard.press("Escape")
        expect(panel).to_have_count(0)
        focused = page.evaluate("() => document.activeElement?.dataset.test")
        print(f"odoo readiness keyboard: Escape closes, focus back on={focused}")
        failed = bool(severe) or focused != "readiness-button"

        # Online again (the order stays waiting): the device reports it to the back office.
        page.locator(STATUS).click()
        expect(page.locator(STATUS)).to_have_attribute("data-offline", "false")
        back = context.new_page()
        back.set_viewport_size({"width": 1600, "height": 500})  # every column readable
        back.goto(f"{args.url}/odoo/action-pos_offline_sync.action_pos_offline_device")
        rows = back.locator(".o_list_view .o_data_row")
        expect(rows.first).to_be_visible(timeout=60_000)
        back.wait_for_timeout(500)
        back.screenshot(path=str(out / "odoo-devices.png"))
        print(f"odoo devices list: {rows.count()} row(s)")
        browser.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
