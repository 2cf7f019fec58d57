"""Rescue sessions in the sandbox (issue 9), on a real SQLite file through the app: an order
whose session was closed, with no session open, lands once in one rescue session of its
register; with a session open, that one takes it; two batches at once make one rescue session;
the CSV import takes the same path."""

import io
import sqlite3
import threading

from werkzeug.test import Client

from sandbox.app import create_app
from tests import csv_support
from tests.order_support import plain_order
from tests.sandbox.rpc_support import sync_orders

SAME_ORIGIN = {"Origin": "http://localhost"}


def _query(db_path, sql, args=()):
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, args)]
    finally:
        conn.close()


def _sessions(db_path):
    return _query(db_path, "SELECT id, name, state, rescue FROM pos_session ORDER BY id")


def _orders(db_path):
    return _query(db_path, "SELECT uuid, session_id, amount_total, amount_paid, state FROM orders")


def _session_id(client):
    return client.get("/api/pos_data").get_json()["config"]["session_id"]


def _close(client, session_id):
    response = client.post(
        "/backoffice/sessions", data={"close": str(session_id)}, headers=SAME_ORIGIN
    )
    assert response.status_code == 303


def _open(client):
    response = client.post("/backoffice/sessions", data={"open": "1"}, headers=SAME_ORIGIN)
    assert response.status_code == 303


def test_an_order_of_a_closed_session_lands_once_in_one_rescue_session(client, db_path):
    first_session = _session_id(client)
    assert first_session == 1
    order = plain_order("r-1", reference="Order 1", total=7.0, session_id=first_session)
    other = plain_order("r-2", reference="Order 2", total=3.5, session_id=first_session)
    _close(client, first_session)
    assert _session_id(client) is None  # the register knows no session is open

    [result] = sync_orders(client, order)
    assert result["ok"] and result["status"] == "created", result
    sessions = _sessions(db_path)
    assert [(s["state"], s["rescue"]) for s in sessions] == [("closed", 0), ("opened", 1)]
    rescue = sessions[1]
    assert rescue["name"] == "Shop/00002 (RESCUE FOR Shop/00001)"
    assert result["rescue_session"] == rescue["name"]

    # The same order again, and another: once each, in the same rescue session.
    again, second = sync_orders(client, order, other)
    assert (again["status"], again["rescue_session"]) == ("exists", rescue["name"])
    assert second["rescue_session"] == rescue["name"]
    stored = {o["uuid"]: o for o in _orders(db_path)}
    assert set(stored) == {"r-1", "r-2"}
    assert {o["session_id"] for o in stored.values()} == {rescue["id"]}
    assert (stored["r-1"]["amount_total"], stored["r-1"]["amount_paid"]) == (7.0, 7.0)
    assert stored["r-2"]["state"] == "paid"

    # The back office shows it as a rescue session; closing it closes it.
    html = client.get("/backoffice/sessions").get_data(as_text=True)
    assert 'data-rescue="1"' in html and '<span class="badge rescue">Rescue</span>' in html
    _close(client, rescue["id"])
    assert [s["state"] for s in _sessions(db_path)] == ["closed", "closed"]

    # One at a time: the next late order gets a new rescue session.
    [late] = sync_orders(client, plain_order("r-3", reference="Order 3", session_id=first_session))
    assert late["rescue_session"].startswith("Shop/00003 (RESCUE FOR")
    assert len([s for s in _sessions(db_path) if s["rescue"]]) == 2


def test_with_a_session_open_it_takes_the_late_orders(client, db_path):
    order = plain_order("o-1", reference="Order 1", session_id=1)
    gone = plain_order("o-2", reference="Order 2", session_id=999)
    _close(client, 1)
    _open(client)
    open_id = _session_id(client)
    assert open_id == 2
    results = sync_orders(client, order, gone)
    assert all(r["ok"] and "rescue_session" not in r for r in results), results
    assert {o["session_id"] for o in _orders(db_path)} == {open_id}
    assert not [s for s in _sessions(db_path) if s["rescue"]]


def test_orders_already_stored_make_no_rescue_session(client, db_path):
    order = plain_order("s-1", reference="Order 1", session_id=1)
    sync_orders(client, order)
    _close(client, 1)
    [result] = sync_orders(client, order)
    assert result["status"] == "exists" and "rescue_session" not in result
    assert [s["rescue"] for s in _sessions(db_path)] == [0]


def test_two_batches_at_once_make_one_rescue_session(db_path):
    apps = [create_app(db_path) for _ in range(2)]
    Client(apps[0]).post("/backoffice/sessions", data={"close": "1"}, headers=SAME_ORIGIN)
    orders = [plain_order(f"c-{n}", reference=f"Order {n}", session_id=1) for n in range(6)]
    batches = [orders[0:4], orders[2:6]]  # two orders in both, as two tabs would send
    barrier = threading.Barrier(2)
    answers, errors = {}, []

    def run(index):
        try:
            client = Client(apps[index])
            barrier.wait(timeout=30)
            answers[index] = sync_orders(client, *batches[index])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and len(answers) == 2
    assert all(r["ok"] for answer in answers.values() for r in answer)
    rescue = [s for s in _sessions(db_path) if s["rescue"]]
    assert len(rescue) == 1
    stored = _orders(db_path)
    assert sorted(o["uuid"] for o in stored) == [f"c-{n}" for n in range(6)]
    assert {o["session_id"] for o in stored} == {rescue[0]["id"]}
    names = {r["rescue_session"] for answer in answers.values() for r in answer}
    assert names == {rescue[0]["name"]}


def test_csv_import_with_no_open_session_lands_in_rescue(client, db_path):
    _close(client, 1)
    data = csv_support.export(2)
    response = client.post(
        "/backoffice/import",
        data={"file": (io.BytesIO(data), "orders.csv")},
        headers=SAME_ORIGIN,
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    rescue = [s for s in _sessions(db_path) if s["rescue"]]
    assert len(rescue) == 1
    stored = _orders(db_path)
    assert len(stored) == 2
    assert {o["session_id"] for o in stored} == {rescue[0]["id"]}
    assert "rescue session" in response.get_data(as_text=True)


def test_csv_import_with_a_session_open_uses_it(client, db_path):
    _close(client, 1)
    _open(client)
    data = csv_support.export(1)
    response = client.post(
        "/backoffice/import",
        data={"file": (io.BytesIO(data), "orders.csv")},
        headers=SAME_ORIGIN,
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert {o["session_id"] for o in _orders(db_path)} == {_session_id(client)}
    assert not [s for s in _sessions(db_path) if s["rescue"]]


def test_a_session_of_another_register_is_refused_and_the_batch_goes_on(client, db_path):
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute(
            "INSERT INTO pos_config (id, name, allow_offline_mode, allow_offline_auto_detect, "
            "currency) VALUES (2, 'Bar', 1, 1, 'USD')"
        )
        foreign = conn.execute(
            "INSERT INTO pos_session (config_id, name, state, rescue, opened_at) "
            "VALUES (2, 'Bar/00001', 'opened', 0, '2026-12-01T09:00:00+00:00')"
        ).lastrowid
    conn.close()
    crossed = plain_order("x-1", reference="Order 1", session_id=foreign)
    own = plain_order("x-2", reference="Order 2", session_id=1)
    refused, stored = sync_orders(client, crossed, own)
    assert not refused["ok"]
    assert f"session {foreign} is not a session of this register" in refused["reason"]
    assert stored["ok"] and stored["status"] == "created", stored
    assert [(o["uuid"], o["session_id"]) for o in _orders(db_path)] == [("x-2", 1)]
    assert not [s for s in _sessions(db_path) if s["rescue"]]
