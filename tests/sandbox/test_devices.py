"""The sandbox's `offline_device_report` and Devices page over a real SQLite file: a report is
stored once per (device, register), the same report again changes nothing but "last seen", a
late one never turns a newer state back, bad input is a 400 with the reason, an unknown
register a 403, and a device that stops reporting is shown "not reporting", never deleted."""

from __future__ import annotations

import json
import sqlite3

import pytest

JSON = {"Content-Type": "application/json"}
DEVICE = "0123456789abcdef0123456789abcdef"


def report(seq=1, count=2, **changes):
    payload = {
        "v": 1,
        "config_id": 1,
        "device_id": DEVICE,
        "device_name": "Front counter",
        "seq": seq,
        "addon_version": "19.0.1.4.0",
        "storage": "best-effort",
        "cashier": {"id": 2, "name": "Marc Demo"},
        "waiting": {
            "count": count,
            "total": 10.5 * count,
            "oldest_at": "2026-12-01T09:30:00.000Z" if count else None,
        },
        "cards": {"count": 0, "amount": 0, "oldest_at": None, "seconds_left": None},
        "at": "2026-12-01T11:59:58.000Z",
    }
    payload.update(changes)
    return payload


def send(client, payload):
    body = payload if isinstance(payload, str | bytes) else json.dumps(payload)
    return client.post("/rpc/offline_device_report", data=body, headers=JSON)


def rows(db_path):
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM offline_devices ORDER BY id")]
    finally:
        conn.close()


def test_a_report_is_stored_and_listed(client, db_path):
    answer = send(client, report())
    assert answer.status_code == 200, answer.text
    assert answer.json["result"]["applied"] is True
    (row,) = rows(db_path)
    assert (row["device_id"], row["config_id"], row["waiting_count"]) == (DEVICE, 1, 2)
    assert row["waiting_oldest_at"] == "2026-12-01T09:30:00+00:00"
    assert row["cashier_name"] == "Marc Demo"
    page = client.get("/backoffice/devices").text
    assert f'data-device-id="{DEVICE}"' in page and 'data-waiting="2"' in page
    assert "2 order(s) waiting on 1 device(s)" in page
    fragment = client.get("/backoffice/devices?fragment=rows")
    assert fragment.headers["Cache-Control"] == "no-store"
    assert 'data-waiting="2"' in fragment.text and "<html" not in fragment.text


def test_the_same_report_twice_changes_nothing_but_last_seen(client, db_path):
    send(client, report(seq=5))
    before = rows(db_path)[0]
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE offline_devices SET last_seen = '2026-01-01T00:00:00+00:00'")
    conn.commit()
    conn.close()
    again = send(client, report(seq=5))
    assert again.json["result"]["applied"] is False
    (after,) = rows(db_path)
    assert after["last_seen"] > "2026-01-01T00:00:00+00:00"
    assert {k: v for k, v in after.items() if k != "last_seen"} == {
        k: v for k, v in before.items() if k != "last_seen"
    }


def test_a_late_report_never_turns_a_newer_state_back(client, db_path):
    send(client, report(seq=9, count=0))  # synced: nothing waits
    late = send(client, report(seq=8, count=4))  # an older report arriving last
    assert late.json["result"]["applied"] is False
    assert rows(db_path)[0]["waiting_count"] == 0
    assert send(client, report(seq=10, count=1)).json["result"]["applied"] is True
    assert rows(db_path)[0]["waiting_count"] == 1


def test_one_row_per_device_and_register(client, db_path):
    send(client, report())
    send(client, report(device_id="fedcba9876543210fedcba9876543210", count=1))
    assert len(rows(db_path)) == 2
    page = client.get("/backoffice/devices").text
    assert "3 order(s) waiting on 2 device(s)" in page


def test_the_last_cashier_stays_while_nobody_is_logged_in(client, db_path):
    send(client, report(seq=1))
    send(client, report(seq=2, cashier=None))
    assert rows(db_path)[0]["cashier_name"] == "Marc Demo"


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ("{not json", "not valid JSON"),
        ("", "empty"),
        (json.dumps([1, 2]), "JSON object"),
        (json.dumps(report(seq=0)), "seq"),
        (json.dumps(report(device_name="")), "device_name is empty"),
        (json.dumps(report(storage="forever")), "storage"),
        (json.dumps(report(extra="x" * 5000)), "more than 4096"),
        (json.dumps({**report(), "config_id": "1"}), "config_id"),
    ],
)
def test_bad_input_is_a_400_with_the_reason(client, db_path, payload, needle):
    answer = send(client, payload)
    assert answer.status_code == 400, answer.text
    assert needle in answer.json["error"]["message"]
    assert rows(db_path) == []


def test_an_unknown_register_is_refused(client, db_path):
    answer = send(client, report(config_id=99))
    assert answer.status_code == 403
    assert rows(db_path) == []


def test_a_silent_device_is_shown_not_reporting_never_deleted(client, db_path):
    send(client, report())
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE offline_devices SET last_seen = '2026-01-01T00:00:00+00:00'")
    conn.commit()
    conn.close()
    page = client.get("/backoffice/devices").text
    assert 'data-stale="true"' in page and "not reporting · last seen" in page
    assert len(rows(db_path)) == 1


def test_names_are_escaped(client):
    send(client, report(device_name="<script>alert(1)</script>"))
    page = client.get("/backoffice/devices").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
