"""Screenshots, fit check and axe-core scan of the real Odoo 19 POS with the sync dialog open
(not part of `make test`: it needs a running Odoo with this addon and its demo data).

    python tools/odoo_screens.py --url http://127.0.0.1:8069 --config 1 [--out docs/screenshots]

The POS config must allow offline mode, its "Card" method capture cards offline and a Stripe
provider point at a localstripe (pos_offline_sync.stripe_api_base); log in is admin/admin.
It sells three orders offline (a declined card, an accepted card, cash), goes back online,
processes both cards, loses the answer of the cash order's sync, then at 1280x800, 1024x768
and 390x844: checks nothing sticks out of the dialog sideways, takes a screenshot and runs
axe-core, printing its counts. Exits 1 if something does not fit or axe finds a serious or
critical violation.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from e2e_pos import overflow_problems  # noqa: E402

from sandbox.launcher import chromium_options  # noqa: E402

AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
STATUS = ".pos-offline-sync-icons [data-test='offline-status']"
SYNC = ".pos-offline-sync-icons [data-test='sync-button']"
MODAL = ".modal:not(.o_inactive_modal)"
DIALOG = f"{MODAL} [data-test='sync-dialog']"
SIZES = [(1280, 800), (1024, 768), (390, 844)]


def sell(page, method: str, card: str | None = None) -> None:
    page.locator(".product-list article.product", has_text="Monitor Stand").first.click()
    page.locator(".product-screen .pay-order-button").click()
    page.locator(".paymentmethods .button.paymentmethod .payment-name", has_text=method).click()
    if card:
        form = page.locator(f"{MODAL} [data-test='card-form']")
        expect(form).to_be_visible()
        form.locator("[data-test=card-number]").fill(card)
        form.locator("[data-test=card-expiry]").fill("12/30")
        form.locator("[data-test=card-cvc]").fill("123")
        form.locator("[data-test=card-name]").fill("Ada Lovelace")
        form.locator("[data-test=card-confirm]").click()
        expect(form).to_have_count(0)
    page.locator(".payment-screen button.validation-button.next").click()
    page.locator(".receipt-screen .button.next.highlight[name='done']").click()
    expect(page.locator(".product-screen")).to_be_visible()


# What this addon puts on the page: its navbar icons and the modal holding its dialog.
OURS = [".pos-offline-sync-icons", "[role=dialog]:has([data-test=sync-dialog])"]


def axe(page, include=None) -> list:
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE_JS))
    return page.evaluate(
        """async (include) => {
            const r = await axe.run(include ? {include: include.map((s) => [s])} : document,
                                    {resultTypes: ["violations"]});
            return r.violations.map((v) => ({id: v.id, impact: v.impact,
                nodes: v.nodes.map((n) => n.target.join(" "))}));
        }""",
        include,
    )


def counts_of(violations) -> dict:
    return {
        k: sum(len(v["nodes"]) for v in violations if v["impact"] == k)
        for k in ("critical", "serious", "moderate", "minor")
    }


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
        page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{args.url}/web/login")
        page.fill("input[name=login]", "admin")
        page.fill("input[name=password]", "admin")
        page.locator("form button[type=submit]").first.click()
        page.wait_for_url("**/odoo**")
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
        try:
            sell(page, "Card", "4000 0000 0000 0341")
            sell(page, "Card", "4242 4242 4242 4242")
            sell(page, "Cash")
        except Exception:
            page.screenshot(path=str(out / "odoo-failed.png"))
            raise
        expect(page.locator(SYNC)).to_have_attribute("data-count", "3")
        page.screenshot(
            path=str(out / "odoo-navbar.png"), clip={"x": 0, "y": 0, "width": 1280, "height": 64}
        )
        page.locator(STATUS).click()
        expect(page.locator(STATUS)).to_have_attribute("data-offline", "false")
        page.locator(SYNC).click()
        dialog = page.locator(DIALOG)
        rows = dialog.locator("[data-test=sync-row]")
        expect(rows).to_have_count(3)
        for i in range(2):
            rows.nth(i).locator("[data-test=process-card-button]").click()
        expect(dialog.locator("[data-test=process-card-button][data-status=failed]")).to_have_count(
            1
        )
        expect(
            dialog.locator("[data-test=process-card-button][data-status=succeeded]")
        ).to_have_count(1)
        page.route("**/offline_sync_orders", lambda route: route.abort("connectionreset"))
        rows.nth(2).locator("[data-test=row-check]").check()
        dialog.locator("[data-test=sync-submit]").click()
        expect(dialog.locator("[data-test=row-status] [data-status=pending]")).to_have_count(1)
        page.unroute("**/offline_sync_orders")
        for width, height in SIZES:
            page.set_viewport_size({"width": width, "height": height})
            page.wait_for_timeout(500)  # Odoo's ui service re-lays out on resize
            problems = overflow_problems(page, DIALOG)
            ours = axe(page, OURS)
            severe = [v for v in ours if v["impact"] in ("serious", "critical")]
            print(
                f"odoo {width}x{height}: fits={not problems}; axe, the addon's icons and "
                f"dialog: {counts_of(ours)}; axe, the whole POS page: {counts_of(axe(page))}"
            )
            for item in problems + [f"{v['id']} ({v['impact']}): {v['nodes']}" for v in severe]:
                print("   ", item)
            failed = failed or bool(problems or severe)
            page.screenshot(path=str(out / f"odoo-sync-dialog-{width}x{height}.png"))
        page.set_viewport_size({"width": 1280, "height": 800})
        page.wait_for_timeout(500)
        page.screenshot(path=str(out / "odoo-sync-dialog.png"))

        # The keyboard in Odoo's Dialog: Tab stays in it, Escape closes, focus back on the icon.
        page.keyboard.press("Escape")
        expect(dialog).to_have_count(0)
        page.locator(SYNC).focus()
        page.keyboard.press("Enter")
        expect(dialog.locator("[data-test=sync-row]")).to_have_count(3)
        inside = []
        for _ in range(12):
            page.keyboard.press("Tab")
            inside.append(page.evaluate("() => !!document.activeElement.closest('.modal')"))
        page.keyboard.press("Escape")
        expect(dialog).to_have_count(0)
        back = page.evaluate("() => document.activeElement && document.activeElement.dataset.test")
        keyboard_ok = all(inside) and back == "sync-button"
        print(f"odoo keyboard: Tab stays in the dialog={all(inside)}, focus back on={back}")
        failed = failed or not keyboard_ok
        browser.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
