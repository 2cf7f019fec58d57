"""The sandbox's sync log over a real SQLite file: the batches of one sync in one row, the
refusal reasons kept, a malformed `sync` object never refusing orders, and the search."""

from __future__ import annotations

import json
import sqlite3
import uuid as uuidlib

from tests.order_support import plain_order as _plain_order

JSON = {"Content-Type": "application/json"}
SYNC_ID = "5" * 32
DEVICE = "d" * 32


def plain_order():
    uuid = str(uuidlib.uuid4())
    return _plain_order(uuid, reference=f"Order {uuid[:8]}")


def sync(client, orders, meta):
    payload = {"v": 1, "config_id": 1, "orders": orders}
    if meta is not None:
        payload["sync"] = meta
    answer = client.post("/rpc/offline_sync_orders", data=json.dumps(payload), headers=JSON)
    assert answer.status_code == 200, answer.text
    return answer.json["result"]["results"]


def log_rows(db_path):
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM offline_sync_log ORDER BY id")]
    finally:
        conn.close()


def test_the_batches_of_one_sync_make_one_row(client, db_path):
    meta = {"id": SYNC_ID, "device_id": DEVICE, "cashier": "Marc Demo"}
    first = [plain_order() for _ in range(3)]
    bad = plain_order()
    bad["lines"][0]["product_id"] = 999
    sync(client, first, meta)
    sync(client, [first[0], bad], meta)  # one sent again, one refused
    (row,) = log_rows(db_path)
    assert (row["batches"], row["sent"], row["created"], row["existing"], row["refused"]) == (
        2,
        5,
        3,
        1,
        1,
    )
    assert (row["device_id"], row["cashier"]) == (DEVICE, "Marc Demo")
    assert "unknown product 999" in row["reasons"]
    page = client.get("/backoffice/sync-log").text
    assert f'data-sync-id="{SYNC_ID}"' in page and 'data-refused="1"' in page


def test_a_malformed_sync_object_never_refuses_orders(client, db_path):
    results = sync(client, [plain_order()], {"id": "not an id!", "device_id": ["x"]})
    assert results[0]["ok"]
    (row,) = log_rows(db_path)
    assert row["sync_id"] is None and row["device_id"] is None and row["created"] == 1
    sync(client, [plain_order()], None)  # an older register sends none: a row per batch
    assert len(log_rows(db_path)) == 2


def test_the_log_is_searchable(client, db_path):
    sync(client, [plain_order()], {"id": SYNC_ID, "device_id": DEVICE, "cashier": "Marc Demo"})
    sync(client, [plain_order()], {"id": "6" * 32, "device_id": "e" * 32, "cashier": "Ann 100%"})
    marc = client.get("/backoffice/sync-log?q=marc").text
    assert f'data-sync-id="{SYNC_ID}"' in marc and 'data-sync-id="666' not in marc
    percent = client.get("/backoffice/sync-log?q=100%25").text  # % is matched literally
    assert 'data-sync-id="666' in percent and f'data-sync-id="{SYNC_ID}"' not in percent
    assert "Ann 100%" in percent
    nothing = client.get("/backoffice/sync-log?q=%3Cscript%3E").text
    main = nothing.split("<main>")[1].split("</main>")[0]
    assert "No sync yet." in main and "<script>" not in main
