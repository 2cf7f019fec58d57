"""Odoo 19's own offline mode against the addon's, in a real Odoo POS in headless Chromium.

    python -m bench.odoo_browser_bench --odoo-bin PATH --odoo-python PATH [--odoo-config CFG]
        [--addons-path PATHS] [--db NAME] [--port 8290] [--reps 3] [--landing-orders 50]
        [--validate-orders 20] [--reuse-db]

Starts the installed Odoo (never downloads one) on its own database (dropped and made afresh
with the addon and Odoo's demo data unless `--reuse-db`), opens the register in Chromium and
rings up cash orders of one product through the POS's own screens (product, Pay, Cash,
Validate, New Order), with the network down (Playwright's `context.set_offline`). Each
repetition, both paths side by side:

- landing: `--landing-orders` orders rung up offline, then back online. Addon off (the
  register's offline mode not allowed): Odoo's own reconnect sends them; addon on (offline mode
  with auto-detect): the cashier opens the sync dialog, selects all, Sync to Back-Office
  (clicked in the page, as the sales are: `syncAll()`). Both timed from going online until
  every order is in the database (read through XML-RPC).
- validate: `--validate-orders` orders per mode, Validate click to the receipt's "New Order"
  button present and visible (timed in the page): addon off with the network down, addon on
  with the network down (auto-detect), addon on in manual offline with the network up. The
  addon draws the receipt at once as Odoo does and holds the receipt's input until its write
  is committed: `offline_validate_committed_ms_addon` is Validate -> that commit.

Prints `bench <name>: <value> <unit>` lines (medians over the repetitions' figures, p90 over
every sample) and fails (exit 1) if an order did not land exactly once.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import xmlrpc.client
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench.odoo_workers import landed, log_lines, report
from tools.odoo_server import LOGIN, PASSWORD, OdooServer, Rpc

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = "Desk Pad"  # demo data, on the register's first screen

# In the page: one sale through the POS's screens, as a cashier clicks it.
DRIVER = """
(() => {
    const SEL = {
        product: "article.product",
        line: ".order-container .orderline, .order-summary .orderline, .orderline",
        pay: ".product-screen .pay-order-button",
        method: ".paymentmethods .button.paymentmethod",
        paymentLine: ".paymentlines .paymentline, .payment-lines .paymentline, .paymentline",
        validate: ".payment-screen button.validation-button.next",
        next: ".receipt-screen .button.next.highlight[name='done']",
        productScreen: ".product-screen",
    };
    const visible = (el) => el && el.isConnected && el.getClientRects().length > 0;
    function find(selector, text) {
        for (const el of document.querySelectorAll(selector)) {
            if (visible(el) && (!text || el.textContent.includes(text))) {
                return el;
            }
        }
        return null;
    }
    // Resolves with the element as soon as the DOM has it visible (a mutation observer: no
    // polling interval adds to what is measured).
    function waitFor(selector, text = null, timeout = 60000) {
        const now = find(selector, text);
        if (now) {
            return Promise.resolve(now);
        }
        return new Promise((resolve, reject) => {
            const observer = new MutationObserver(() => {
                const el = find(selector, text);
                if (el) {
                    observer.disconnect();
                    clearTimeout(timer);
                    resolve(el);
                }
            });
            const timer = setTimeout(() => {
                observer.disconnect();
                reject(new Error(`not shown in ${timeout} ms: ${selector} ${text || ""}`));
            }, timeout);
            observer.observe(document.body, {
                childList: true, subtree: true, attributes: true, characterData: true,
            });
        });
    }
    async function sale({ product, method }) {
        await waitFor(SEL.productScreen);
        const order = window.posmodel.getOrder();
        (await waitFor(SEL.product, product)).click();
        await waitFor(SEL.line, product);
        (await waitFor(SEL.pay)).click();
        (await waitFor(SEL.method, method)).click();
        await waitFor(SEL.paymentLine);
        const validate = await waitFor(SEL.validate);
        const start = performance.now();
        validate.click();
        const next = await waitFor(SEL.next);
        const ms = performance.now() - start;
        // The addon's write, committed (until then the receipt takes no input); Odoo's own
        // path has none to wait for.
        const pos = window.posmodel;
        const writing = pos.offlineValidations?.get(order.uuid)?.finalized;
        await writing;
        // Settled before the receipt was seen: committed by then.
        const done = pos.offlineCapturedUuids?.has(order.uuid);
        const committedMs = writing ? performance.now() - start : done ? ms : null;
        next.click();
        await waitFor(SEL.productScreen);
        return { uuid: order.uuid, ms, committedMs };
    }
    // Resolves on the first animation frame where `test()` holds (state, not DOM: the
    // controller's online flag).
    function until(test, timeout = 60000) {
        return new Promise((resolve, reject) => {
            const end = performance.now() + timeout;
            const check = () => {
                if (test()) {
                    resolve();
                } else if (performance.now() > end) {
                    reject(new Error(`not true in ${timeout} ms: ${test}`));
                } else {
                    requestAnimationFrame(check);
                }
            };
            check();
        });
    }
    // The cashier's part of a landing, clicked in the page as sale() is: once the register
    // is back online, the Sync icon, "Select all" once the rows are listed, then Sync to
    // Back-Office once it is enabled. Resolves when that last click is made.
    async function syncAll() {
        const sync = window.posmodel.offlineSync;
        await until(() => sync.state.online);
        (await waitFor(".pos-offline-sync-icons [data-test='sync-button']")).click();
        await waitFor(".modal [data-test='sync-row']");
        const selectAll = await waitFor(".modal [data-test='select-all']");
        if (!selectAll.checked) {
            selectAll.click();
        }
        const submit = await waitFor(".modal [data-test='sync-submit']:not([disabled])");
        const clicked = performance.now();
        submit.click();
        return { clicked };
    }
    window.__latency = { sale, syncAll, waitFor, find };
})();
"""


def prepare(rpc: Rpc) -> dict:
    """The first register with an open session (opening control done, so no cash dialog at
    each load), its cash method."""
    [config] = rpc("pos.config", "search_read", [], ["id", "name"], limit=1, order="id")
    [cash] = rpc(
        "pos.payment.method",
        "search_read",
        [("config_ids", "in", [config["id"]]), ("is_cash_count", "=", True)],
        ["id", "name"],
        limit=1,
    )
    sessions = rpc(
        "pos.session",
        "search_read",
        [("config_id", "=", config["id"]), ("state", "in", ["opening_control", "opened"])],
        ["id", "state"],
    )
    if not sessions:
        session_id = rpc("pos.session", "create", {"config_id": config["id"], "user_id": rpc.uid})
        state = "opening_control"
    else:
        session_id, state = sessions[0]["id"], sessions[0]["state"]
    if state == "opening_control":
        try:
            rpc("pos.session", "set_opening_control", [session_id], 0, "")
        except xmlrpc.client.Fault as fault:  # done; its None answer cannot go over XML-RPC
            if "cannot marshal None" not in fault.faultString:
                raise
    return {"id": config["id"], "name": config["name"], "cash": cash["name"], "session": session_id}


class Register:
    """The register's page in one Chromium context."""

    def __init__(self, pw, url: str, db: str, config: dict, profile: str):
        from sandbox.launcher import chromium_options

        self.url, self.config = url, config
        self.context = pw.chromium.launch_persistent_context(profile, **chromium_options())
        self.context.set_default_timeout(120_000)
        self.context.add_init_script(DRIVER)
        self.page = self.context.pages[0] if self.context.pages else self.context.new_page()
        self.page.on("pageerror", lambda error: print(f"  page error: {error}", flush=True))
        login = self.page.request.post(
            f"{url}/web/session/authenticate",
            data={
                "jsonrpc": "2.0",
                "method": "call",
                "params": {"db": db, "login": LOGIN, "password": PASSWORD},
            },
        )
        if not login.ok or "error" in login.json():
            raise RuntimeError(f"cannot log into {db}: {login.text()[:300]}")

    def load(self) -> None:
        """Opens (or reopens) the register online and waits for its product screen."""
        self.context.set_offline(False)
        self.page.goto(f"{self.url}/pos/ui/{self.config['id']}")
        # The register's login screen first ("Open Register"), as a cashier sees it.
        deadline = time.monotonic() + 180
        while not self.page.locator(".product-screen").is_visible():
            opener = self.page.get_by_text("Open Register", exact=True)
            if opener.count() and opener.first.is_visible():
                opener.first.click()
            if time.monotonic() > deadline:
                self.page.screenshot(path=str(ROOT / "var" / "odoo-browser-load.png"))
                raise RuntimeError("the register did not open (var/odoo-browser-load.png)")
            time.sleep(0.2)
        self.page.wait_for_function("() => window.posmodel && window.__latency")
        self.page.wait_for_selector(f"article.product:has-text('{PRODUCT}')")

    def set_offline(self, offline: bool, *, wait_for: str) -> None:
        self.context.set_offline(offline)
        self.page.wait_for_function(wait_for, timeout=60_000)

    def sale(self) -> dict:
        return self.page.evaluate(
            "(a) => window.__latency.sale(a)", {"product": PRODUCT, "method": self.config["cash"]}
        )

    def close(self) -> None:
        self.context.close()


ODOO_OFFLINE = "() => window.posmodel.data.network.offline === true"
ODOO_ONLINE = "() => window.posmodel.data.network.offline === false"
ADDON_OFFLINE = "() => window.posmodel.offlineSync && !window.posmodel.offlineSync.state.online"
ADDON_ONLINE = "() => window.posmodel.offlineSync && window.posmodel.offlineSync.state.online"


def set_mode(rpc: Rpc, register: Register, addon: bool) -> None:
    """Addon off: the register's offline mode not allowed (Odoo's own offline path). Addon on:
    offline mode with auto-detect. The register reads these at its (online) load."""
    rpc(
        "pos.config",
        "write",
        [register.config["id"]],
        {"allow_offline_mode": addon, "allow_offline_auto_detect": addon},
    )
    register.load()
    enabled = register.page.evaluate("() => Boolean(window.posmodel.offlineSync?.state.enabled)")
    if enabled != addon:
        raise RuntimeError(f"the register's offline mode is {enabled}, wanted {addon}")


def wait_landed(rpc: Rpc, uuids: list[str], timeout: float = 600) -> float:
    """Seconds until every uuid is a pos.order (polled every 100 ms)."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        found = rpc("pos.order", "search_count", [("uuid", "in", uuids)])
        if found >= len(uuids):
            return time.perf_counter() - start
        time.sleep(0.1)
    raise RuntimeError(f"{len(uuids)} orders not all landed in {timeout} s")


def odoo_landing(rpc: Rpc, register: Register, orders: int) -> tuple[float, list[str]]:
    set_mode(rpc, register, addon=False)
    register.set_offline(True, wait_for=ODOO_OFFLINE)
    uuids = [register.sale()["uuid"] for _ in range(orders)]
    start = time.perf_counter()
    register.context.set_offline(False)
    wait_landed(rpc, uuids)
    return (time.perf_counter() - start) * 1000 / orders, uuids


def addon_landing(rpc: Rpc, register: Register, orders: int) -> tuple[float, list[str], float]:
    set_mode(rpc, register, addon=True)
    register.set_offline(True, wait_for=ADDON_OFFLINE)
    uuids = [register.sale()["uuid"] for _ in range(orders)]
    page = register.page
    page.wait_for_function(
        f"() => window.posmodel.offlineSync.state.pendingCount === {orders}", timeout=60_000
    )
    start = time.perf_counter()
    register.context.set_offline(False)
    # In the page, as the sales are rung: Playwright's actionability checks (a few round
    # trips per click) are the driver's time, not the register's.
    page_clicked = page.evaluate("() => window.__latency.syncAll()")["clicked"]
    wait_landed(rpc, uuids)
    done = time.perf_counter()
    # The click's moment on this clock: the page's clock read now, less the time since it.
    clicked = done - page.evaluate("(t) => performance.now() - t", page_clicked) / 1000
    page.wait_for_function("() => window.posmodel.offlineSync.state.pendingCount === 0")
    page.click(".modal [data-test='dialog-close-footer']")
    return (done - start) * 1000 / orders, uuids, (done - clicked) * 1000 / orders


def validate_samples(
    rpc: Rpc, register: Register, mode: str, orders: int
) -> tuple[list[float], list[float]]:
    """`orders` sales timed Validate -> New Order in one mode, and (addon) Validate -> the
    order's write committed; what they left waiting lands before the next mode (so each mode
    starts from an empty queue)."""
    set_mode(rpc, register, addon=mode != "odoo")
    page = register.page
    if mode == "manual":
        page.click(".pos-offline-sync-icons [data-test='offline-status']")
        page.wait_for_function(ADDON_OFFLINE)
    else:
        register.set_offline(True, wait_for=ODOO_OFFLINE if mode == "odoo" else ADDON_OFFLINE)
    sales = [register.sale() for _ in range(orders)]
    if mode == "manual":
        page.click(".pos-offline-sync-icons [data-test='offline-status']")
    else:
        register.context.set_offline(False)
    if mode != "odoo":
        page.wait_for_function(ADDON_ONLINE, timeout=60_000)
        page.evaluate(
            "async (uuids) => { await window.posmodel.offlineSync.sync(uuids); }",
            [s["uuid"] for s in sales],
        )
    wait_landed(rpc, [s["uuid"] for s in sales])
    return [s["ms"] for s in sales], [s["committedMs"] for s in sales if s["committedMs"]]


def pickings_pending(rpc: Rpc, timeout: float = 300) -> int:
    """Waits (polled every second) until no order synced from the offline store still waits
    for its deferred stock picking; how many still do at the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        pending = rpc("pos.order", "search_count", [("offline_picking_pending", "=", True)])
        if not pending or time.monotonic() > deadline:
            return pending
        time.sleep(1)


def p90(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=10, method="inclusive")[8]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--odoo-bin", required=True)
    parser.add_argument("--odoo-python", required=True)
    parser.add_argument("--odoo-config")
    parser.add_argument("--addons-path", help="overrides the config's addons_path")
    parser.add_argument("--db", default="pos_offline_sync_browser")
    parser.add_argument("--port", type=int, default=8290, help="http; the next one is gevent")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--landing-orders", type=int, default=50)
    parser.add_argument("--validate-orders", type=int, default=20, help="per mode and repetition")
    parser.add_argument("--reuse-db", action="store_true", help="skip dropping and installing")
    parser.add_argument("--log-dir", default=str(ROOT / "var"))
    args = parser.parse_args(argv)

    # Threaded, as a register's Odoo in a shop: its bus on the same port.
    odoo = OdooServer.from_args(args, server_args=[])
    log_dir = Path(args.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    logfile = log_dir / f"odoo-browser-{args.db}.log"
    logfile.unlink(missing_ok=True)
    if not args.reuse_db:
        odoo.fresh_db(log_dir / f"odoo-browser-{args.db}-install.log")
    odoo.start(logfile)
    problems = []
    odoo_ms, addon_ms, dialog_ms, uuids = [], [], [], []
    validate = {"odoo": [], "auto": [], "manual": []}
    medians = {"odoo": [], "auto": [], "manual": []}
    committed = {"odoo": [], "auto": [], "manual": []}
    try:
        rpc = Rpc(odoo.url, args.db)
        config = prepare(rpc)
        with (
            tempfile.TemporaryDirectory(prefix="pos-offline-browser-") as profile,
            sync_playwright() as pw,
        ):
            register = Register(pw, odoo.url, args.db, config, profile)
            try:
                for rep in range(args.reps):
                    ms, made = odoo_landing(rpc, register, args.landing_orders)
                    odoo_ms.append(ms)
                    uuids += made
                    ms, made, dialog = addon_landing(rpc, register, args.landing_orders)
                    addon_ms.append(ms)
                    dialog_ms.append(dialog)
                    uuids += made
                    print(
                        f"rep {rep + 1}: landing {odoo_ms[-1]:.0f} ms/order (Odoo) "
                        f"{addon_ms[-1]:.0f} ms/order (addon; {dialog:.0f} from the click)",
                        flush=True,
                    )
                    # Each repetition starts with another mode: drifts of a shared machine
                    # fall on every mode alike.
                    modes = list(validate)
                    for mode in modes[rep % 3 :] + modes[: rep % 3]:
                        samples, writes = validate_samples(
                            rpc, register, mode, args.validate_orders
                        )
                        validate[mode] += samples
                        committed[mode] += writes
                        medians[mode].append(statistics.median(samples))
                    print(
                        f"rep {rep + 1}: validate median "
                        + " ".join(f"{m} {medians[m][-1]:.0f} ms" for m in validate),
                        flush=True,
                    )
            finally:
                register.close()
        found, distinct = landed(rpc, uuids)
        if found != len(uuids) or distinct != len(set(uuids)):
            problems.append(f"{found} orders found for {len(uuids)} rung up ({distinct} distinct)")
        # Stopped sooner, the pickings' cron is cut mid-chunk and its log's errors would be
        # counted as the run's (nothing of that chunk is committed).
        pending = pickings_pending(rpc)
        if pending:
            problems.append(f"{pending} orders still without their picking")
    finally:
        odoo.stop()
    _, _, errors = log_lines(logfile)
    odoo_m, addon_m = statistics.median(odoo_ms), statistics.median(addon_ms)
    report(
        "odoo_reconnect_ms_per_order",
        odoo_m,
        "ms",
        f"{args.landing_orders} orders, {args.reps} reps, " + ",".join(f"{v:.0f}" for v in odoo_ms),
    )
    report(
        "addon_landing_ms_per_order",
        addon_m,
        "ms",
        ",".join(f"{v:.0f}" for v in addon_ms)
        + f"; from the Sync click {statistics.median(dialog_ms):.0f}",
    )
    report("landing_ratio", addon_m / odoo_m, "x", "addon / Odoo, goal <= 0.15")
    v_odoo = statistics.median(medians["odoo"])
    report(
        "offline_validate_ms_odoo",
        v_odoo,
        "ms",
        f"p90 {p90(validate['odoo']):.0f}, {len(validate['odoo'])} sales",
    )
    v_auto = statistics.median(medians["auto"])
    v_manual = statistics.median(medians["manual"])
    report(
        "offline_validate_ms_addon", v_auto, "ms", f"auto-detect, p90 {p90(validate['auto']):.0f}"
    )
    report(
        "offline_validate_ms_addon_manual",
        v_manual,
        "ms",
        f"manual offline, network up, p90 {p90(validate['manual']):.0f}",
    )
    report(
        "offline_validate_ratio",
        v_auto / v_odoo,
        "x",
        f"auto-detect; manual {v_manual / v_odoo:.2f}; goal <= 1.1",
    )
    report(
        "offline_validate_p90_ratio",
        p90(validate["auto"]) / p90(validate["odoo"]),
        "x",
        f"auto-detect; manual {p90(validate['manual']) / p90(validate['odoo']):.2f}; goal <= 1.1",
    )
    if committed["auto"]:
        report(
            "offline_validate_committed_ms_addon",
            statistics.median(committed["auto"]),
            "ms",
            f"auto-detect, Validate -> write committed (the receipt takes input from then), "
            f"p90 {p90(committed['auto']):.0f}; ratio to Odoo's receipt "
            f"{statistics.median(committed['auto']) / v_odoo:.2f}",
        )
    report("browser_bench_log_errors", len(errors), "lines", f"ERROR or CRITICAL in {logfile}")
    for line in errors[:5]:
        print("  " + line, flush=True)
    for problem in problems:
        print("FAIL: " + problem, flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
