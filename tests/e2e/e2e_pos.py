"""Page helpers of the e2e tests: drive the sandbox register like a cashier and read back what
the browser (IndexedDB) and the back office really hold."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from sandbox.launcher import chromium_options

ROOT = Path(__file__).resolve().parents[2]

STATUS = "[data-test=offline-status]"
SYNC = "[data-test=sync-button]"
DIALOG = "[data-test=sync-dialog]"


def launch_options() -> dict:
    """Debian's Chromium, headless, with the project's fixed flags (never a downloaded browser)."""
    try:
        return chromium_options()
    except RuntimeError as exc:
        pytest.fail(str(exc))


def csv_columns() -> list[str]:
    """The documented CSV columns, read from the single source (csv_schema.js markers)."""
    text = (ROOT / "pos_offline_sync/static/src/core/csv_schema.js").read_text()
    body = text.split("// BEGIN CSV_COLUMNS", 1)[1].split("// END CSV_COLUMNS", 1)[0]
    return json.loads(body[body.index("[") : body.rindex("]") + 1])


def set_settings(
    page: Page, url: str, *, offline: bool, auto_detect: bool = False, auto_sync: bool = False
) -> None:
    """Sets the POS flags through the sandbox's settings page, as an administrator would."""
    page.goto(f"{url}/settings")
    offline_box = page.get_by_label("Allow Offline Mode")
    offline_box.set_checked(offline)
    auto_box = page.get_by_label("Allow Auto-Detect Online-Offline")
    if auto_box.is_enabled() and auto_box.is_visible():
        auto_box.set_checked(auto_detect)
    elif auto_detect:
        raise AssertionError("auto-detect cannot be set on the settings page")
    sync_box = page.get_by_label("Sync automatically when back online")
    if sync_box.is_enabled() and sync_box.is_visible():
        sync_box.set_checked(auto_sync)
    elif auto_sync:
        raise AssertionError("auto-sync cannot be set on the settings page")
    page.get_by_role("button", name=re.compile("save", re.I)).click()
    page.wait_for_load_state()


def pos_data(page: Page, url: str) -> dict:
    response = page.request.get(f"{url}/api/pos_data")
    assert response.ok, response.text()
    return response.json()


def open_register(page: Page, url: str, cashier: int = 0) -> None:
    """Loads the register and logs in the given cashier."""
    page.goto(f"{url}/pos")
    login(page, cashier)


def login(page: Page, cashier: int = 0) -> None:
    page.locator("[data-test=cashier]").nth(cashier).click()
    expect(page.locator("[data-test=register-screen]")).to_be_visible()


def logout(page: Page) -> None:
    page.locator("[data-test=logout]").click()
    expect(page.locator("[data-test=login-screen]")).to_be_visible()


def sell(
    page: Page,
    products: list[int] = (0,),
    *,
    customer: str | None = None,
    refund: bool = False,
    expect_status: str | None = None,
) -> str:
    """Rings up one order (product button indexes, repeats add quantity), validates it in cash
    and returns its uuid once the receipt shows. `expect_status`: "offline" or "synced"."""
    for index in products:
        page.locator("[data-test=product]").nth(index).click()
    if customer is not None:
        page.locator("[data-test=customer]").fill(customer)
    if refund:
        page.locator("[data-test=return-toggle]").click()
    page.locator("[data-test=validate]").click()
    receipt = page.locator("[data-test=receipt]")
    expect(receipt).to_be_visible()
    if expect_status:
        expect(receipt).to_have_attribute("data-status", expect_status)
    uuid = receipt.get_attribute("data-uuid")
    page.locator("[data-test=new-order]").click()
    expect(page.locator("[data-test=register-screen]")).to_be_visible()
    return uuid


def go_offline(page: Page) -> None:
    button = page.locator(STATUS)
    expect(button).to_have_attribute("data-offline", "false")
    button.click()
    expect(button).to_have_attribute("data-offline", "true")


def go_online(page: Page) -> None:
    button = page.locator(STATUS)
    expect(button).to_have_attribute("data-offline", "true")
    button.click()
    expect(button).to_have_attribute("data-offline", "false")


def store_name(data: dict) -> str:
    return f"pos_offline_sync-{data['db_name']}-{data['config']['id']}"


# Opens the real IndexedDB of the register (never created here: a missing DB stays missing).
_READ_STORE = """async (name) => {
    const names = (await indexedDB.databases()).map((d) => d.name);
    if (!names.includes(name)) { return null; }
    const db = await new Promise((resolve, reject) => {
        const req = indexedDB.open(name);
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
    });
    try {
        return await new Promise((resolve, reject) => {
            const req = db.transaction("orders", "readonly").objectStore("orders").getAll();
            req.onsuccess = () => resolve(req.result);
            req.onerror = () => reject(req.error);
        });
    } finally { db.close(); }
}"""

_PUT_RECORDS = """async ([name, records]) => {
    const db = await new Promise((resolve, reject) => {
        const req = indexedDB.open(name);
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
    });
    try {
        await new Promise((resolve, reject) => {
            const tx = db.transaction("orders", "readwrite");
            for (const r of records) { tx.objectStore("orders").put(r); }
            tx.oncomplete = resolve;
            tx.onerror = () => reject(tx.error);
        });
    } finally { db.close(); }
}"""


def stored_orders(page: Page, data: dict) -> list[dict] | None:
    """The records of the offline store, or None when the database does not exist."""
    return page.evaluate(_READ_STORE, store_name(data))


def stored_uuids(page: Page, data: dict) -> set[str]:
    return {r["uuid"] for r in stored_orders(page, data) or []}


def put_raw_records(page: Page, data: dict, records: list[dict]) -> None:
    """Writes records straight into the store, bypassing the register's own checks."""
    page.evaluate(_PUT_RECORDS, [store_name(data), records])


def backoffice_uuids(page: Page, url: str) -> list[str]:
    """The uuids listed by the back office (a list, so a duplicate would show twice)."""
    other = page.context.new_page()
    try:
        other.goto(f"{url}/backoffice")
        rows = other.locator("#orders tr[data-uuid]")
        return [rows.nth(i).get_attribute("data-uuid") for i in range(rows.count())]
    finally:
        other.close()


def open_sync_dialog(page: Page):
    page.locator(SYNC).click()
    dialog = page.locator(DIALOG)
    expect(dialog).to_be_visible()
    expect(dialog.get_by_text("Loading offline orders")).to_have_count(0)
    return dialog


def row(page: Page, uuid: str):
    return page.locator(f'{DIALOG} tr[data-test=sync-row][data-uuid="{uuid}"]')


def check_rows(page: Page, uuids) -> None:
    for uuid in uuids:
        row(page, uuid).locator("[data-test=row-check]").check()


# Everything that sticks out of `root` sideways, scrolls sideways or is cut, as sentences;
# an empty list when it fits. Visually hidden helpers (clipped 1 px boxes) are skipped.
_OVERFLOW = """(selector) => {
    const root = document.querySelector(selector);
    if (!root) { return [`${selector} is not on the page`]; }
    const width = document.documentElement.clientWidth;
    const problems = [];
    const page = document.documentElement.scrollWidth;
    if (page > width + 1) { problems.push(`the page scrolls sideways: ${page} > ${width}`); }
    const box = root.getBoundingClientRect();
    if (box.left < -1 || box.right > width + 1) {
        problems.push(`${selector} spans ${box.left}..${box.right}, the window 0..${width}`);
    }
    const name = (el) => el.tagName.toLowerCase()
        + (el.dataset.test ? `[${el.dataset.test}]` : "")
        + (typeof el.className === "string" && el.className
            ? "." + el.className.split(" ")[0] : "");
    const clipped = (el) => {
        for (let a = el; a && a !== root.parentElement; a = a.parentElement) {
            const cs = getComputedStyle(a);
            if (cs.display === "none" || (cs.clip && cs.clip !== "auto")) { return true; }
        }
        return false;
    };
    for (const el of [root, ...root.querySelectorAll("*")]) {
        if (clipped(el)) { continue; }
        const r = el.getBoundingClientRect();
        if (!r.width && !r.height) { continue; }
        if (r.right > box.right + 1 || r.left < box.left - 1) {
            problems.push(
                `${name(el)} sticks out: ${r.left}..${r.right} in ${box.left}..${box.right}`);
        }
        const cs = getComputedStyle(el);
        const cuts = ["auto", "scroll", "hidden", "clip"].includes(cs.overflowX)
            || cs.textOverflow === "ellipsis";
        if (cuts && el.scrollWidth > el.clientWidth + 1) {
            problems.push(
                `${name(el)} is cut or scrolls sideways: ${el.scrollWidth} > ${el.clientWidth}`);
        }
    }
    return problems;
}"""


def overflow_problems(page: Page, selector: str) -> list[str]:
    """What sticks out of, scrolls inside or is cut in the element (and the page) sideways."""
    return page.evaluate(_OVERFLOW, selector)


def sync_log(page: Page, url: str) -> list[dict]:
    """The back office's sync log rows (newest first): one per sync, counted at the server."""
    other = page.context.new_page()
    try:
        other.goto(f"{url}/backoffice/sync-log")
        return other.locator("#sync-log tr.sync").evaluate_all(
            """rows => rows.map((r) => ({
                sync_id: r.dataset.syncId, device_id: r.dataset.deviceId,
                sent: Number(r.dataset.sent), created: Number(r.dataset.created),
                existing: Number(r.dataset.existing), refused: Number(r.dataset.refused),
                batches: Number(r.querySelector('.batches').textContent),
                cashier: r.querySelector('.cashier').textContent,
            }))"""
        )
    finally:
        other.close()
