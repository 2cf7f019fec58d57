"""Another sale sent under a uuid already stored (a register that reused it) is stored as an
order of its own, once, instead of being answered "exists" and dropped by the browser
(core/order_identity.py). The sandbox host, through its RPC."""

from __future__ import annotations

import json
import sqlite3

import pytest
from werkzeug.test import Client

from sandbox.app import create_app
from tests.order_support import plain_order

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "sandbox.sqlite3"


@pytest.fixture
def client(db_path):
    return Client(create_app(db_path))


def sync(client, *orders):
    payload = {"v": 1, "config_id": 1, "orders": list(orders)}
    response = client.post("/rpc/offline_sync_orders", data=json.dumps(payload), headers=JSON)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["result"]["results"]


def orders(db_path):
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT uuid, amount_total FROM orders ORDER BY id").fetchall()
    finally:
        conn.close()


def test_another_sale_under_a_stored_uuid_is_stored_once_as_its_own_order(client, db_path):
    first = plain_order("u-1", reference="R1", total=7.0)
    [created] = sync(client, first)
    assert created["status"] == "created"
    # The next sale rung into a reused copy of u-1: same uuid, other goods, its own payment
    # (sandbox orders carry no line uuids: other goods or total tell the sales apart).
    second = plain_order("u-1", reference="R1", total=4.5)
    second["payments"][0]["uuid"] = "cash-of-the-next-sale"
    [stored] = sync(client, second)
    assert stored["status"] == "created" and stored["ok"], stored
    assert stored["uuid"] == "u-1"  # the browser finds its own order in the answer
    rows = orders(db_path)
    assert len(rows) == 2 and rows[0][0] == "u-1" and rows[1][0] != "u-1"
    # Resends of either: "exists", nothing more stored.
    assert [r["status"] for r in sync(client, second, first)] == ["exists", "exists"]
    assert orders(db_path) == rows


def test_a_resend_of_the_same_sale_is_still_exists(client, db_path):
    """Even with its payment changed: the same goods and total are the same sale."""
    order = plain_order("u-1", reference="R1")
    sync(client, order)
    resend = json.loads(json.dumps(order))
    resend["payments"][0]["uuid"] = "cash-other"
    assert sync(client, order, resend)[0]["status"] == "exists"
    assert sync(client, resend)[0]["status"] == "exists"
    assert len(orders(db_path)) == 1
