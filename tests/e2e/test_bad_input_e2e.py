"""Bad input: a malformed order is reported with its reason, the others sync, nothing the server
did not confirm leaves the browser; the sandbox answers malformed JSON with a clear 400."""

import copy
import json
import re
import uuid as uuidlib

from e2e_pos import (
    SYNC,
    backoffice_uuids,
    go_offline,
    go_online,
    login,
    open_register,
    open_sync_dialog,
    pos_data,
    put_raw_records,
    row,
    sell,
    set_settings,
    stored_orders,
    stored_uuids,
)
from playwright.sync_api import expect


def _variant(record: dict, mutate) -> dict:
    out = copy.deepcopy(record)
    new = str(uuidlib.uuid4())
    out["uuid"] = out["order"]["uuid"] = new
    out["order"]["reference"] += "-bad"
    out["last_result"] = None
    mutate(out["order"])
    return out


def test_malformed_orders_reported_others_synced(sandbox, page):
    set_settings(page, sandbox.url, offline=True)
    data = pos_data(page, sandbox.url)
    open_register(page, sandbox.url)
    go_offline(page)
    good = sell(page, [0, 1], expect_status="offline")
    (record,) = stored_orders(page, data)

    def bad_qty(order):
        order["lines"][0]["qty"] = "two"

    def bad_product(order):
        order["lines"][1]["product_id"] = 999_999

    # Straight into the real IndexedDB, as an old or corrupted client would have left them.
    qty_rec, product_rec = _variant(record, bad_qty), _variant(record, bad_product)
    put_raw_records(page, data, [qty_rec, product_rec])
    page.reload()
    login(page)
    expect(page.locator(SYNC)).to_have_attribute("data-count", "3")
    go_online(page)

    dialog = open_sync_dialog(page)
    dialog.locator("[data-test=select-all]").check()
    dialog.locator("[data-test=sync-submit]").click()
    expect(row(page, good).locator("[data-test=row-status]")).to_have_text("Synced")
    qty_status = row(page, qty_rec["uuid"]).locator("[data-test=row-status]")
    expect(qty_status).to_have_text(re.compile(r"^\s*Refused\s.*line 1.*quantity", re.I))
    product_status = row(page, product_rec["uuid"]).locator("[data-test=row-status]")
    expect(product_status).to_have_text(re.compile(r"^\s*Refused\s.*product", re.I))

    assert backoffice_uuids(page, sandbox.url) == [good]
    assert stored_uuids(page, data) == {qty_rec["uuid"], product_rec["uuid"]}
    expect(page.locator(SYNC)).to_have_attribute("data-count", "2")
    # The stored orders are untouched: the cashier can still export or fix them.
    kept = {r["uuid"]: r["order"] for r in stored_orders(page, data)}
    assert kept[qty_rec["uuid"]]["lines"][0]["qty"] == "two"


def test_raw_batch_with_missing_uuid_and_malformed_json(sandbox, page):
    set_settings(page, sandbox.url, offline=True)
    data = pos_data(page, sandbox.url)
    open_register(page, sandbox.url)
    go_offline(page)
    sell(page, [0], expect_status="offline")
    (record,) = stored_orders(page, data)

    no_uuid = copy.deepcopy(record["order"])
    del no_uuid["uuid"]
    fine = copy.deepcopy(record["order"])
    fine["uuid"] = str(uuidlib.uuid4())
    fine["reference"] += "-raw"
    url = f"{sandbox.url}/rpc/offline_sync_orders"
    batch = {"v": 1, "config_id": data["config"]["id"], "orders": [no_uuid, fine]}
    answer = page.request.post(url, data=json.dumps(batch))
    assert answer.status == 200
    first, second = answer.json()["result"]["results"]
    assert first["uuid"] is None and first["ok"] is False and first["status"] == "error"
    assert "uuid" in first["reason"]
    assert second == {**second, "uuid": fine["uuid"], "ok": True, "status": "created"}
    assert backoffice_uuids(page, sandbox.url) == [fine["uuid"]]

    for body in ("{not json", "", "[1, 2", '"just a string"'):
        bad = page.request.post(url, data=body, headers={"Content-Type": "application/json"})
        assert bad.status == 400, (body, bad.status, bad.text())
        error = bad.json()["error"]
        assert error["code"] == "bad_request" and error["message"]
    assert backoffice_uuids(page, sandbox.url) == [fine["uuid"]]
