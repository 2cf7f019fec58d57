"""The sandbox's sync under its time budget (issue 10), through the real app and SQLite: a server
made slow per order (the test hook) answers the orders it had no time for "deferred"; sending
those again stores them, each once. Also the CSV import, which shares the budget."""

import io
import json
import sqlite3

import pytest
from werkzeug.test import Client

from pos_offline_sync.core.sync_service import DEFAULT_TIME_BUDGET_S, DEFERRED, DEFERRED_REASON
from sandbox.app import create_app
from sandbox.server import main as server_main
from tests.csv_support import export, order_uuid

JSON = {"Content-Type": "application/json"}


def _sync(client, orders):
    payload = {"v": 1, "config_id": 1, "orders": orders}
    response = client.post("/rpc/offline_sync_orders", data=json.dumps(payload), headers=JSON)
    assert response.status_code == 200, response.text
    return response.json["result"]["results"]


def _stored(db_path):
    conn = sqlite3.connect(db_path)
    try:
        return [r[0] for r in conn.execute("SELECT uuid FROM orders ORDER BY id")]
    finally:
        conn.close()


def test_a_slow_server_defers_what_it_had_no_time_for(tmp_path, order_factory):
    db_path = tmp_path / "slow.sqlite3"
    # 50 ms an order, 0.3 s a request: a handful per request, never all 12.
    client = Client(create_app(db_path, sync_time_budget_s=0.3, test_order_delay_s=0.05))
    orders = [order_factory() for _ in range(12)]
    results = _sync(client, orders)
    statuses = [r["status"] for r in results]
    stored = statuses.count("created")
    assert 1 <= stored < 12, statuses
    assert statuses == ["created"] * stored + [DEFERRED] * (12 - stored), "in order"
    assert all(r["ok"] is False and r["reason"] == DEFERRED_REASON for r in results[stored:])
    assert _stored(db_path) == [o["uuid"] for o in orders[:stored]], "committed before answering"

    # As the browser does: the deferred ones again, first, until none is left.
    left, rounds = orders[stored:], 0
    while left:
        rounds += 1
        assert rounds < 12, "every request stores at least one order"
        answer = _sync(client, left)
        assert answer[0]["status"] == "created"
        left = [o for o, r in zip(left, answer, strict=True) if r["status"] == DEFERRED]
    assert _stored(db_path) == [o["uuid"] for o in orders], "each once, in order"


def test_the_default_budget_defers_nothing_of_a_quick_batch(tmp_path, order_factory):
    db_path = tmp_path / "quick.sqlite3"
    client = Client(create_app(db_path))
    orders = [order_factory() for _ in range(200)]
    assert {r["status"] for r in _sync(client, orders)} == {"created"}
    assert DEFAULT_TIME_BUDGET_S == 10.0


def test_csv_import_on_a_slow_server_stores_every_order_once(tmp_path):
    db_path = tmp_path / "csv.sqlite3"
    client = Client(create_app(db_path, sync_time_budget_s=0.2, test_order_delay_s=0.02))
    response = client.post(
        "/backoffice/import",
        data={"file": (io.BytesIO(export(30)), "orders.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.text
    # 20 ms an order, 0.2 s a chunk: the chunks' deferred orders went first in the next ones.
    assert "30 of 30 order(s) imported (30 new" in response.text
    assert _stored(db_path) == [order_uuid(i) for i in range(1, 31)]


def test_the_server_refuses_a_negative_budget(capsys):
    with pytest.raises(SystemExit):
        server_main(["--sync-time-budget-s", "-1"])
    assert "cannot be negative" in capsys.readouterr().err
