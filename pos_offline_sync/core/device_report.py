"""Device reports: what a browser profile running a register still holds (issue 11).

A register's browser profile is a *device* with a random id kept in its IndexedDB. While online
it reports, on a heartbeat and after each change, per register: the waiting offline orders
(count, total, oldest created_at), the unprocessed offline card payments (count, amount, the
oldest one's time left before the POS's age limit), whether the browser promised to keep its
storage, and the addon version it runs. Hosts keep one row per (device, register) and show it
to the back office; a device that stops reporting is shown "last seen ...", never deleted.

This module owns the rules both hosts share: the payload's shape and bounds (every field
checked, nothing unknown accepted: a report stays small), the ordering of reports (`seq`, so a
late answer never overwrites a newer state: sending the same report twice changes nothing but
the time it was last seen), staleness and the totals the dashboard and the session close show.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from .sync_service import PayloadError

REPORT_VERSION = 1
MAX_REPORT_BYTES = 4096  # a report is a few hundred bytes; anything larger is not one
DEVICE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
VERSION_RE = re.compile(r"^[0-9A-Za-z.+_-]{1,32}$")
MAX_NAME_CHARS = 64
MAX_CASHIER_CHARS = 128
MAX_COUNT = 1_000_000
MAX_AMOUNT = 1e12
MAX_SEQ = 2**31 - 1  # an SQL integer: 4,000 years of heartbeats
MAX_SECONDS_LEFT = 10 * 366 * 86400
STORAGE_STATES = ("persisted", "best-effort", "unsupported", "unknown")
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2100, 1, 1, tzinfo=timezone.utc)

#: The register reports at least this often while online (device_reporter.js HEARTBEAT_MS).
HEARTBEAT_SECONDS = 60
#: A device not heard from for this long is shown as not reporting ("last seen ...").
STALE_AFTER_SECONDS = 3 * HEARTBEAT_SECONDS

_KEYS = {
    "v",
    "config_id",
    "device_id",
    "device_name",
    "seq",
    "addon_version",
    "storage",
    "cashier",
    "waiting",
    "cards",
    "at",
}
_WAITING_KEYS = {"count", "total", "oldest_at"}
_CARD_KEYS = {"count", "amount", "oldest_at", "seconds_left"}
_CASHIER_KEYS = {"id", "name"}


class DeviceReportError(PayloadError):
    """A malformed device report; `reason` names the field. Hosts answer it with a 4xx."""

    def __init__(self, reason: str):
        super().__init__(f"device report refused: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class DeviceReport:
    """A checked report (amounts as floats rounded to 6 decimals, dates as aware UTC)."""

    config_id: int
    device_id: str
    device_name: str
    seq: int
    addon_version: str
    storage: str
    cashier_id: int | None
    cashier_name: str | None
    waiting_count: int
    waiting_total: float
    waiting_oldest_at: datetime | None
    card_count: int
    card_amount: float
    card_oldest_at: datetime | None
    card_seconds_left: int | None
    reported_at: datetime


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(value, what: str, low: int, high: int) -> int:
    if not _is_int(value) or not low <= value <= high:
        raise DeviceReportError(f"{what} must be a whole number from {low} to {high}")
    return value


def _amount(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DeviceReportError(f"{what} is not a number")
    if abs(value) > MAX_AMOUNT:
        raise DeviceReportError(f"{what} is out of range")
    return round(float(value), 6)


def _text(value, what: str, limit: int, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise DeviceReportError(f"{what} must be text")
    text = value.strip()
    if not text:
        if required:
            raise DeviceReportError(f"{what} is empty")
        return None
    if len(text) > limit:
        raise DeviceReportError(f"{what} is longer than {limit} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise DeviceReportError(f"{what} holds control characters")
    return text


def _date(value, what: str, *, required: bool) -> datetime | None:
    if value is None:
        if required:
            raise DeviceReportError(f"{what} is missing")
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise DeviceReportError(f"{what} must be an ISO 8601 date")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise DeviceReportError(f"{what} must be an ISO 8601 date") from None
    if parsed.tzinfo is None:
        raise DeviceReportError(f"{what} must say its time zone (e.g. end in Z)")
    parsed = parsed.astimezone(timezone.utc)
    if not EARLIEST <= parsed < LATEST:
        raise DeviceReportError(f"{what} is out of range")
    return parsed


def _object(value, what: str, keys: set[str]) -> dict:
    if not isinstance(value, dict):
        raise DeviceReportError(f"{what} must be an object")
    unknown = sorted(set(value) - keys)
    if unknown:
        raise DeviceReportError(f"{what} has unknown key {unknown[0][:40]!r}")
    missing = sorted(keys - set(value))
    if missing:
        raise DeviceReportError(f"{what} lacks {missing[0]!r}")
    return value


def check_report_size(payload) -> None:
    """Refuses a payload whose JSON is larger than MAX_REPORT_BYTES (a report stays small)."""
    try:
        size = len(json.dumps(payload, separators=(",", ":")).encode())
    except (TypeError, ValueError):
        raise DeviceReportError("the report is not plain JSON") from None
    if size > MAX_REPORT_BYTES:
        raise DeviceReportError(f"the report is {size} bytes, more than {MAX_REPORT_BYTES}")


def parse_report(payload) -> DeviceReport:
    """Checks every field of an `offline_device_report` payload (CONTRACTS §2) and returns it
    normalised; raises DeviceReportError naming the first field at fault."""
    if not isinstance(payload, dict):
        raise DeviceReportError("the report must be a JSON object")
    check_report_size(payload)
    if payload.get("v") != REPORT_VERSION:
        raise DeviceReportError(f"unsupported version {payload.get('v')!r:.20}")
    _object(payload, "the report", _KEYS)
    config_id = _int(payload["config_id"], "config_id", 1, 2**31 - 1)
    device_id = payload["device_id"]
    if not isinstance(device_id, str) or not DEVICE_ID_RE.match(device_id):
        raise DeviceReportError("device_id must be 8 to 64 letters, digits, '-' or '_'")
    name = _text(payload["device_name"], "device_name", MAX_NAME_CHARS)
    seq = _int(payload["seq"], "seq", 1, MAX_SEQ)
    version = payload["addon_version"]
    if not isinstance(version, str) or not VERSION_RE.match(version):
        raise DeviceReportError("addon_version must be a version such as 19.0.1.3.0")
    storage = payload["storage"]
    if storage not in STORAGE_STATES:
        raise DeviceReportError(f"storage must be one of {', '.join(STORAGE_STATES)}")

    cashier_id = cashier_name = None
    if payload["cashier"] is not None:
        cashier = _object(payload["cashier"], "cashier", _CASHIER_KEYS)
        if cashier["id"] is not None:
            cashier_id = _int(cashier["id"], "cashier.id", 1, 2**31 - 1)
        cashier_name = _text(cashier["name"], "cashier.name", MAX_CASHIER_CHARS, required=False)

    waiting = _object(payload["waiting"], "waiting", _WAITING_KEYS)
    waiting_count = _int(waiting["count"], "waiting.count", 0, MAX_COUNT)
    waiting_total = _amount(waiting["total"], "waiting.total")
    waiting_oldest = _date(waiting["oldest_at"], "waiting.oldest_at", required=waiting_count > 0)
    if not waiting_count and (waiting_oldest is not None or waiting_total):
        raise DeviceReportError("waiting: no orders, yet an oldest date or a total")

    cards = _object(payload["cards"], "cards", _CARD_KEYS)
    card_count = _int(cards["count"], "cards.count", 0, MAX_COUNT)
    card_amount = _amount(cards["amount"], "cards.amount")
    card_oldest = _date(cards["oldest_at"], "cards.oldest_at", required=card_count > 0)
    seconds_left = cards["seconds_left"]
    if seconds_left is not None:
        seconds_left = _int(seconds_left, "cards.seconds_left", -MAX_SECONDS_LEFT, MAX_SECONDS_LEFT)
    if not card_count and (card_oldest is not None or card_amount or seconds_left is not None):
        raise DeviceReportError("cards: no unprocessed card, yet an oldest date or an amount")
    if card_count and not waiting_count:
        raise DeviceReportError("cards: unprocessed cards, yet no waiting order")

    return DeviceReport(
        config_id=config_id,
        device_id=device_id,
        device_name=name,
        seq=seq,
        addon_version=version,
        storage=storage,
        cashier_id=cashier_id,
        cashier_name=cashier_name,
        waiting_count=waiting_count,
        waiting_total=waiting_total,
        waiting_oldest_at=waiting_oldest,
        card_count=card_count,
        card_amount=card_amount,
        card_oldest_at=card_oldest,
        card_seconds_left=seconds_left,
        reported_at=_date(payload["at"], "at", required=True),
    )


def report_values(report: DeviceReport, now: datetime) -> dict:
    """The columns a host stores for a report it applies. The card deadline is placed on the
    server's clock (now + the time left the register computed), so a register whose clock is
    off still shows the right countdown."""
    deadline = (
        now + timedelta(seconds=report.card_seconds_left)
        if report.card_seconds_left is not None
        else None
    )
    return {
        "name": report.device_name,
        "seq": report.seq,
        "addon_version": report.addon_version,
        "storage": report.storage,
        "waiting_count": report.waiting_count,
        "waiting_total": report.waiting_total,
        "waiting_oldest_at": report.waiting_oldest_at,
        "card_count": report.card_count,
        "card_amount": report.card_amount,
        "card_oldest_at": report.card_oldest_at,
        "card_deadline": deadline,
        "reported_at": report.reported_at,
    }


def should_apply(report: DeviceReport, stored_seq: int | None) -> bool:
    """True when the report is newer than what is stored: a report that arrives late (or the
    same one again) only refreshes "last seen", never turns a newer state back."""
    return stored_seq is None or report.seq > stored_seq


def is_stale(last_seen: datetime | None, now: datetime) -> bool:
    """True when the device has not reported for STALE_AFTER_SECONDS."""
    if last_seen is None:
        return True
    if last_seen.tzinfo is None:
        last_seen = last_seen.replace(tzinfo=timezone.utc)
    return (now - last_seen).total_seconds() > STALE_AFTER_SECONDS


@dataclass(frozen=True)
class WaitingTotals:
    orders: int
    devices: int


def waiting_totals(rows) -> WaitingTotals:
    """The "N orders waiting on M devices" of rows carrying `device_id` and `waiting_count`
    (one per device and register: a device holding orders of two registers counts once)."""
    orders = 0
    devices = set()
    for row in rows:
        count = row["waiting_count"] or 0
        if count > 0:
            orders += count
            devices.add(row["device_id"])
    return WaitingTotals(orders, len(devices))


def age_text(seconds: float) -> str:
    """A short age such as "45 s", "12 min", "3 h 05 min", "2 d 4 h" (for logs and the
    sandbox; Odoo shows its own translated dates)."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"
