"""The device report's rules (core/device_report.py): every field checked at and past its
bound, nothing unknown accepted, reports ordered by seq, staleness and the dashboard totals."""

from __future__ import annotations

import ast
import copy
import json
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pos_offline_sync.core import device_report as dr

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def report(**changes):
    base = {
        "v": 1,
        "config_id": 1,
        "device_id": "3f2a9c1e8b7d4a6f9e0c1b2a3d4e5f60",
        "device_name": "Front counter",
        "seq": 7,
        "addon_version": "19.0.1.4.0",
        "storage": "persisted",
        "cashier": {"id": 2, "name": "Marc Demo"},
        "waiting": {"count": 3, "total": 42.5, "oldest_at": "2026-12-01T09:30:00.000Z"},
        "cards": {
            "count": 1,
            "amount": 12.0,
            "oldest_at": "2026-12-01T10:00:00.000Z",
            "seconds_left": 3600,
        },
        "at": "2026-12-01T11:59:58.000Z",
    }
    for key, value in changes.items():
        if "." in key:
            outer, inner = key.split(".")
            base[outer][inner] = value
        else:
            base[key] = value
    return base


def test_a_full_report_is_read():
    parsed = dr.parse_report(report())
    assert parsed.device_id == "3f2a9c1e8b7d4a6f9e0c1b2a3d4e5f60"
    assert (parsed.waiting_count, parsed.waiting_total) == (3, 42.5)
    assert parsed.waiting_oldest_at == datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)
    assert (parsed.card_count, parsed.card_amount, parsed.card_seconds_left) == (1, 12.0, 3600)
    assert (parsed.cashier_id, parsed.cashier_name) == (2, "Marc Demo")
    values = dr.report_values(parsed, NOW)
    assert values["card_deadline"] == NOW + timedelta(hours=1)  # on the server's clock
    assert values["waiting_count"] == 3


def test_an_empty_register_and_no_cashier():
    parsed = dr.parse_report(
        report(
            cashier=None,
            waiting={"count": 0, "total": 0, "oldest_at": None},
            cards={"count": 0, "amount": 0, "oldest_at": None, "seconds_left": None},
        )
    )
    assert parsed.waiting_oldest_at is None and parsed.cashier_name is None
    assert dr.report_values(parsed, NOW)["card_deadline"] is None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"v": 2}, "unsupported version"),
        ({"config_id": 0}, "config_id"),
        ({"config_id": True}, "config_id"),
        ({"config_id": 2**31}, "config_id"),
        ({"device_id": "short"}, "device_id"),
        ({"device_id": "x" * 65}, "device_id"),
        ({"device_id": "bad id with spaces"}, "device_id"),
        ({"device_name": ""}, "device_name is empty"),
        ({"device_name": "   "}, "device_name is empty"),
        ({"device_name": "n" * 65}, "longer than 64"),
        ({"device_name": "tab\there"}, "control characters"),
        ({"device_name": 12}, "device_name must be text"),
        ({"seq": 0}, "seq"),
        ({"seq": 2**31}, "seq"),
        ({"seq": 1.5}, "seq"),
        ({"addon_version": "19.0 beta!"}, "addon_version"),
        ({"storage": "forever"}, "storage"),
        ({"cashier": {"id": 1}}, "cashier lacks"),
        ({"cashier": {"id": 1, "name": "a", "pin": "1234"}}, "unknown key"),
        ({"cashier": {"id": "1", "name": "a"}}, "cashier.id"),
        ({"cashier": {"id": 1, "name": "n" * 129}}, "longer than 128"),
        ({"waiting.count": -1}, "waiting.count"),
        ({"waiting.count": 1_000_001}, "waiting.count"),
        ({"waiting.total": float("nan")}, "waiting.total"),
        ({"waiting.total": 1e13}, "out of range"),
        ({"waiting.total": "42"}, "waiting.total"),
        ({"waiting.oldest_at": None}, "waiting.oldest_at is missing"),
        ({"waiting.oldest_at": "yesterday"}, "ISO 8601"),
        ({"waiting.oldest_at": "2026-12-01T09:30:00"}, "time zone"),
        ({"waiting.oldest_at": "1999-12-31T23:00:00Z"}, "out of range"),
        ({"cards.count": 2, "cards.oldest_at": None}, "cards.oldest_at is missing"),
        ({"cards.seconds_left": 10**10}, "cards.seconds_left"),
        ({"at": None}, "at is missing"),
        ({"extra": 1}, "unknown key"),
    ],
)
def test_each_field_is_bounded(changes, reason):
    with pytest.raises(dr.DeviceReportError, match=reason):
        dr.parse_report(report(**changes))


def test_the_figures_must_agree():
    with pytest.raises(dr.DeviceReportError, match="no orders, yet"):
        dr.parse_report(report(waiting={"count": 0, "total": 5, "oldest_at": None}))
    with pytest.raises(dr.DeviceReportError, match="no unprocessed card, yet"):
        dr.parse_report(
            report(cards={"count": 0, "amount": 3, "oldest_at": None, "seconds_left": None})
        )
    with pytest.raises(dr.DeviceReportError, match="yet no waiting order"):
        dr.parse_report(
            report(
                waiting={"count": 0, "total": 0, "oldest_at": None},
                cards={
                    "count": 1,
                    "amount": 3,
                    "oldest_at": "2026-12-01T10:00:00Z",
                    "seconds_left": None,
                },
            )
        )


def test_missing_keys_and_a_non_object_are_refused():
    for key in ("waiting", "cards", "seq", "at"):
        broken = report()
        del broken[key]
        with pytest.raises(dr.DeviceReportError, match="lacks"):
            dr.parse_report(broken)
    with pytest.raises(dr.DeviceReportError, match="JSON object"):
        dr.parse_report([report()])
    with pytest.raises(dr.DeviceReportError, match="waiting must be an object"):
        dr.parse_report(report(waiting=[3]))


def test_a_report_stays_small():
    padded = report()
    padded["cashier"] = {"id": 2, "name": "n" * 128}
    dr.parse_report(padded)  # the largest legal report fits
    assert len(json.dumps(padded)) < dr.MAX_REPORT_BYTES
    huge = report()
    huge["extra"] = "x" * dr.MAX_REPORT_BYTES
    with pytest.raises(dr.DeviceReportError, match="more than 4096"):
        dr.parse_report(huge)


def test_a_refusal_is_a_payload_error():
    # Both hosts answer PayloadError with a 4xx (sandbox 400, Odoo UserError).
    from pos_offline_sync.core.sync_service import PayloadError

    assert issubclass(dr.DeviceReportError, PayloadError)


def test_reports_are_ordered_by_seq():
    parsed = dr.parse_report(report(seq=7))
    assert dr.should_apply(parsed, None)
    assert dr.should_apply(parsed, 6)
    assert not dr.should_apply(parsed, 7)  # the same report again
    assert not dr.should_apply(parsed, 8)  # a late one


def test_staleness():
    assert not dr.is_stale(NOW - timedelta(seconds=dr.STALE_AFTER_SECONDS), NOW)
    assert dr.is_stale(NOW - timedelta(seconds=dr.STALE_AFTER_SECONDS + 1), NOW)
    assert dr.is_stale(None, NOW)
    naive = (NOW - timedelta(minutes=1)).replace(tzinfo=None)  # Odoo's datetimes are naive UTC
    assert not dr.is_stale(naive, NOW)


def test_waiting_totals_count_a_device_once():
    rows = [
        {"device_id": "a", "waiting_count": 3},
        {"device_id": "a", "waiting_count": 2},  # the same device on a second register
        {"device_id": "b", "waiting_count": 0},
        {"device_id": "c", "waiting_count": 1},
    ]
    assert dr.waiting_totals(rows) == dr.WaitingTotals(orders=6, devices=2)


def test_age_text():
    assert [dr.age_text(s) for s in (-5, 45, 720, 3 * 3600 + 300, 2 * 86400 + 4 * 3600)] == [
        "0 s",
        "45 s",
        "12 min",
        "3 h 05 min",
        "2 d 4 h",
    ]


def test_parse_does_not_change_the_payload():
    payload = report()
    before = copy.deepcopy(payload)
    dr.parse_report(payload)
    assert payload == before


ROOT = Path(__file__).resolve().parents[2]
CORE_JS = ROOT / "pos_offline_sync/static/src/core"

_BUILD = """
import { buildReport } from "%(core)s/device_reporter.js";
const card = {uuid: "p1", payment_method_id: 2, amount: 7, card: {status: "unprocessed"}};
const records = [
  {created_at: "2026-12-01T09:30:00.123Z", order: {amount_total: 7, payments: [card]}},
  {created_at: "2026-12-01T10:00:00.000Z", order: {amount_total: -3.5, payments: []}},
];
console.log(JSON.stringify([
  buildReport({device: {id: "0123456789abcdef0123456789abcdef", name: "Front"}, seq: 1,
    configId: 1, records, limits: {maxAgeHours: 24}, persistence: "best-effort",
    cashier: {id: 2, name: "Marc"}, now: Date.parse("2026-12-01T12:00:00Z")}),
  buildReport({device: {id: "0123456789abcdef0123456789abcdef", name: "Front"}, seq: 2,
    configId: 1, records: [], cashier: null}),
]));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is needed for the JS side")
def test_the_report_the_browser_builds_is_accepted():
    """Contract: what device_reporter.js sends is what parse_report accepts."""
    out = subprocess.run(
        ["node", "--input-type=module", "-e", _BUILD % {"core": CORE_JS.as_posix()}],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    full, empty = (dr.parse_report(payload) for payload in json.loads(out))
    assert (full.waiting_count, full.waiting_total, full.card_count) == (2, 3.5, 1)
    assert full.card_seconds_left == int((24 - 2.5) * 3600)
    assert full.addon_version == manifest_version()
    assert (empty.waiting_count, empty.cashier_name) == (0, None)


def manifest_version() -> str:
    manifest = ast.literal_eval((ROOT / "pos_offline_sync/__manifest__.py").read_text())
    return manifest["version"]


def test_the_browser_code_says_the_manifest_version():
    text = (CORE_JS / "version.js").read_text()
    assert f'export const ADDON_VERSION = "{manifest_version()}";' in text
