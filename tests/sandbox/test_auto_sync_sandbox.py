"""The sandbox's part of auto-sync (issue 11), through werkzeug's test client on a real SQLite
file: the per-register setting (off by default, off with offline mode, kept across an old
database's upgrade) and the test-only fault switch (absent unless asked for; failing sync calls
store nothing; bad input is a 400)."""

import json
import sqlite3
import uuid as uuidlib

import pytest
from werkzeug.test import Client

# isort: off
from tests.order_support import plain_order
from sandbox.app import create_app
from sandbox.db import init_db
# isort: on

JSON = {"Content-Type": "application/json"}
SAME = {"Origin": "http://localhost"}


def _settings(client, **form):
    return client.post("/settings", data=form, headers=SAME)


def _config(client):
    return client.get("/api/pos_data").get_json()["config"]


def _sync(client, *orders):
    payload = {"v": 1, "config_id": 1, "orders": list(orders)}
    return client.post("/rpc/offline_sync_orders", data=json.dumps(payload), headers=JSON)


def _order():
    return plain_order(str(uuidlib.uuid4()), reference="Order auto-0001")


def test_setting_off_by_default_and_only_with_offline_mode(tmp_path):
    client = Client(create_app(tmp_path / "db.sqlite3"))
    assert _config(client)["offline_auto_sync"] is False
    page = client.get("/settings").get_data(as_text=True)
    assert "Sync automatically when back online" in page
    _settings(client, allow_offline_mode="1", offline_auto_sync="1")
    assert _config(client)["offline_auto_sync"] is True
    assert 'id="offline_auto_sync" name="offline_auto_sync" value="1" checked' in (
        client.get("/settings").get_data(as_text=True)
    )
    _settings(client, offline_auto_sync="1")  # offline mode unticked: auto-sync goes with it
    assert _config(client)["offline_auto_sync"] is False


def test_an_older_database_gets_the_column_off(tmp_path):
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE pos_config (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
        "allow_offline_mode INTEGER NOT NULL DEFAULT 0, "
        "allow_offline_auto_detect INTEGER NOT NULL DEFAULT 0, currency TEXT NOT NULL "
        "DEFAULT 'USD'); INSERT INTO pos_config VALUES (1, 'Old shop', 1, 0, 'EUR');"
    )
    conn.commit()
    conn.close()
    init_db(path)
    init_db(path)  # idempotent
    client = Client(create_app(path))
    config = _config(client)
    assert (config["name"], config["allow_offline_mode"], config["offline_auto_sync"]) == (
        "Old shop",
        True,
        False,
    )


def test_fault_routes_are_absent_by_default_and_nothing_fails(tmp_path):
    client = Client(create_app(tmp_path / "db.sqlite3"))
    assert client.get("/test/sync_requests").status_code == 404
    response = client.post("/test/faults", data='{"fail_sync": 2}', headers={**JSON, **SAME})
    assert response.status_code == 404
    assert _sync(client, _order()).status_code == 200


@pytest.fixture
def faulty(tmp_path):
    return Client(create_app(tmp_path / "db.sqlite3", test_faults=True))


def test_failing_calls_store_nothing_then_the_next_lands(faulty):
    order = _order()
    assert faulty.post("/test/faults", data='{"fail_sync": 2}', headers={**JSON, **SAME}).json == {
        "fail_sync": 2
    }
    for _ in range(2):
        response = _sync(faulty, order)
        assert response.status_code == 503
        assert "server down" in response.get_json()["error"]["message"]
    assert "Order auto-0001" not in faulty.get("/backoffice").get_data(as_text=True)
    response = _sync(faulty, order)
    assert response.status_code == 200
    assert response.get_json()["result"]["results"][0]["ok"] is True
    log = faulty.get("/test/sync_requests").get_json()["requests"]
    assert [r["status"] for r in log] == [503, 503, 200]
    assert log[0]["t"] <= log[1]["t"] <= log[2]["t"]
    # Other methods are neither failed nor logged.
    faulty.post("/test/faults", data='{"fail_sync": 1}', headers={**JSON, **SAME})
    assert faulty.get("/api/pos_data").status_code == 200
    assert len(faulty.get("/test/sync_requests").get_json()["requests"]) == 3


@pytest.mark.parametrize(
    "body", ["not json", '{"fail_sync": -1}', '{"fail_sync": 101}', '{"fail_sync": true}', "[1]"]
)
def test_fault_switch_bad_input_is_a_400(faulty, body):
    response = faulty.post("/test/faults", data=body, headers={**JSON, **SAME})
    assert response.status_code == 400, body
    assert "fail_sync" in response.get_json()["error"]


def test_fault_switch_refuses_another_origin(faulty):
    response = faulty.post(
        "/test/faults", data='{"fail_sync": 5}', headers={**JSON, "Origin": "http://evil.example"}
    )
    assert response.status_code == 403
    assert _sync(faulty, _order()).status_code == 200
