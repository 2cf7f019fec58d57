"""Another sale sent under a uuid already stored (a register that reused it) is stored as an
order of its own, once, instead of being answered "exists" and dropped by the browser
(core/order_identity.py). The sandbox host, through its RPC."""

from __future__ import annotations

import json
import sqlite3

from tests.order_support import plain_order
from tests.sandbox.rpc_support import sync_orders


def orders(db_path):
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT uuid, amount_total FROM orders ORDER BY id").fetchall()
    finally:
        conn.close()


def test_another_sale_under_a_stored_uuid_is_stored_once_as_its_own_order(client, db_path):
    first = plain_order("u-1", reference="R1", total=7.0)
    [created] = sync_orders(client, first)
    assert created["status"] == "created"
    # The next sale rung into a reused copy of u-1: same uuid, other goods, its own payment
    # (sandbox orders carry no line uuids: other goods or total tell the sales apart).
    second = plain_order("u-1", reference="R1", total=4.5)
    second["payments"][0]["uuid"] = "cash-of-the-next-sale"
    [stored] = sync_orders(client, second)
    assert stored["status"] == "created" and stored["ok"], stored
    assert stored["uuid"] == "u-1"  # the browser finds its own order in the answer
    rows = orders(db_path)
    assert len(rows) == 2 and rows[0][0] == "u-1" and rows[1][0] != "u-1"
    # Resends of either: "exists", nothing more stored.
    assert [r["status"] for r in sync_orders(client, second, first)] == ["exists", "exists"]
    assert orders(db_path) == rows


def test_a_resend_of_the_same_sale_is_still_exists(client, db_path):
    """Even with its payment changed: the same goods and total are the same sale."""
    order = plain_order("u-1", reference="R1")
    sync_orders(client, order)
    resend = json.loads(json.dumps(order))
    resend["payments"][0]["uuid"] = "cash-other"
    assert sync_orders(client, order, resend)[0]["status"] == "exists"
    assert sync_orders(client, resend)[0]["status"] == "exists"
    assert len(orders(db_path)) == 1
