"""Devices in the sandbox (issue 11): the `offline_device_report` RPC over SQLite and the back
office's Devices page. The rules (payload bounds, report order, staleness, totals) are the
core's (`pos_offline_sync/core/device_report.py`), as in Odoo.

One row per (device, register). A report newer than the stored one (`seq`) replaces its
figures; an older or repeated one only moves "last seen". Rows are never deleted: a device that
stops reporting is shown "not reporting, last seen ...". Access as for every register RPC: the
POS config must exist (else 403).
"""

from __future__ import annotations

from datetime import datetime, timezone

from markupsafe import Markup
from werkzeug.wrappers import Response

from pos_offline_sync.core import device_report
from pos_offline_sync.core.device_report import (
    STALE_AFTER_SECONDS,
    age_text,
    is_stale,
    parse_report,
    report_values,
    should_apply,
    waiting_totals,
)

from . import hooks, orders, pages
from .db import write_transaction
from .rpc import rpc_method

TABLE = """
CREATE TABLE IF NOT EXISTS offline_devices (
    id INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL,
    config_id INTEGER NOT NULL REFERENCES pos_config (id),
    name TEXT NOT NULL,
    seq INTEGER NOT NULL,
    addon_version TEXT NOT NULL,
    storage TEXT NOT NULL,
    cashier_id INTEGER,
    cashier_name TEXT,
    waiting_count INTEGER NOT NULL,
    waiting_total REAL NOT NULL,
    waiting_oldest_at TEXT,
    card_count INTEGER NOT NULL,
    card_amount REAL NOT NULL,
    card_oldest_at TEXT,
    card_deadline TEXT,
    reported_at TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    UNIQUE (device_id, config_id)
);
CREATE INDEX IF NOT EXISTS offline_devices_config ON offline_devices (config_id);
"""
POLL_MS = 2000  # the Devices page refreshes its rows this often (no reload)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).isoformat(timespec="seconds") if value else None


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def migrate(ctx) -> None:
    conn = ctx.connect()
    try:
        conn.executescript(TABLE)
    finally:
        conn.close()


def apply_report(conn, report, now: datetime) -> bool:
    """Stores one checked report; True when its figures replaced the stored ones."""
    values = {
        k: (_iso(v) if isinstance(v, datetime) else v)
        for k, v in report_values(report, now).items()
    }
    seen = _iso(now)
    with write_transaction(conn):
        row = conn.execute(
            "SELECT seq FROM offline_devices WHERE device_id = ? AND config_id = ?",
            (report.device_id, report.config_id),
        ).fetchone()
        if row is None:
            columns = list(values) + ["cashier_id", "cashier_name"]
            params = list(values.values()) + [report.cashier_id, report.cashier_name]
            # Column names are the core's fixed keys; every value is bound.
            names, marks = ", ".join(columns), ", ".join("?" * len(columns))
            sql = f"INSERT INTO offline_devices (device_id, config_id, first_seen, last_seen, {names}) VALUES (?, ?, ?, ?, {marks})"  # noqa: E501, S608
            conn.execute(sql, [report.device_id, report.config_id, seen, seen, *params])
            return True
        if not should_apply(report, row["seq"]):
            conn.execute(
                "UPDATE offline_devices SET last_seen = ? WHERE device_id = ? AND config_id = ?",
                (seen, report.device_id, report.config_id),
            )
            return False
        assignments = ", ".join(f"{column} = ?" for column in values)
        params = list(values.values())
        if report.cashier_name or report.cashier_id:
            # The last cashier stays shown while nobody is logged in.
            assignments += ", cashier_id = ?, cashier_name = ?"
            params += [report.cashier_id, report.cashier_name]
        sql = f"UPDATE offline_devices SET {assignments}, last_seen = ? WHERE device_id = ? AND config_id = ?"  # noqa: E501, S608
        conn.execute(sql, [*params, seen, report.device_id, report.config_id])
        return True


@rpc_method("offline_device_report")
def offline_device_report(ctx, payload):
    conn = ctx.connect()
    try:
        config_id = payload.get("config_id") if isinstance(payload, dict) else None
        orders.check_config(conn, config_id)  # 403 for an unknown register
        report = parse_report(payload)  # 400 with the reason for a malformed one
        applied = apply_report(conn, report, datetime.now(timezone.utc))
        return {"v": 1, "applied": applied, "heartbeat_s": device_report.HEARTBEAT_SECONDS}
    finally:
        conn.close()


def list_devices(conn) -> list:
    return conn.execute(
        "SELECT d.*, c.name AS config_name, c.currency AS currency FROM offline_devices d "
        "JOIN pos_config c ON c.id = d.config_id ORDER BY d.waiting_count > 0 DESC, "
        "d.last_seen DESC, d.id"
    ).fetchall()


# -- the back office's Devices page ------------------------------------------------------------
def _ago(moment: datetime | None, now: datetime) -> str:
    return f"{age_text((now - moment).total_seconds())} ago" if moment else ""


def _row(device, now: datetime) -> Markup:
    last_seen = _parse(device["last_seen"])
    stale = is_stale(last_seen, now)
    oldest = _parse(device["waiting_oldest_at"])
    deadline = _parse(device["card_deadline"])
    if device["card_count"]:
        left = (deadline - now).total_seconds() if deadline else None
        if left is None:
            card_time = ""
        elif left <= 0:
            card_time = f"overdue by {age_text(-left)}"
        else:
            card_time = f"{age_text(left)} left"
        cards = Markup('{n} · {amount}<br><span class="muted">{time}</span>').format(
            n=device["card_count"],
            amount=pages.money(device["card_amount"], device["currency"]),
            time=card_time,
        )
    else:
        cards = Markup('<span class="muted">none</span>')
    seen_text = _ago(last_seen, now)
    if stale:
        seen_text = f"not reporting · last seen {seen_text}"
    return Markup(
        '<tr class="device{stale_cls}" data-device-id="{device_id}" data-config-id="{config_id}" '
        'data-waiting="{waiting}" data-oldest-at="{oldest_at}" data-card-count="{card_count}" '
        'data-card-amount="{card_amount}" data-storage="{storage}" data-stale="{stale}">'
        '<td class="device-name">{name}<br><span class="muted">{short}</span></td>'
        '<td class="register">{register}</td><td class="cashier">{cashier}</td>'
        '<td class="last-seen">{seen}</td>'
        '<td class="waiting num">{waiting}</td>'
        '<td class="oldest">{oldest_age}<br><span class="muted">{oldest_at}</span></td>'
        '<td class="total num">{total}</td><td class="cards">{cards}</td>'
        '<td class="storage">{storage_text}</td><td class="version muted">{version}</td></tr>'
    ).format(
        stale_cls=" stale" if stale else "",
        device_id=device["device_id"],
        config_id=device["config_id"],
        waiting=device["waiting_count"],
        oldest_at=device["waiting_oldest_at"] or "",
        card_count=device["card_count"],
        card_amount=device["card_amount"],
        storage=device["storage"],
        stale="true" if stale else "false",
        name=device["name"],
        short=device["device_id"][:8],
        register=device["config_name"],
        cashier=device["cashier_name"] or "",
        seen=seen_text,
        oldest_age=_ago(oldest, now) if oldest else "",
        total=pages.money(device["waiting_total"], device["currency"]),
        cards=cards,
        storage_text={
            "persisted": "kept (persisted)",
            "best-effort": "may be evicted (best-effort)",
        }.get(device["storage"], device["storage"]),
        version=device["addon_version"],
    )


def _rows(devices, now: datetime) -> Markup:
    if not devices:
        return Markup(
            '<tr class="empty"><td colspan="10" class="muted">'
            "No register has reported yet.</td></tr>"
        )
    return Markup("").join(_row(device, now) for device in devices)


def _summary(devices) -> Markup:
    totals = waiting_totals(devices)
    return Markup(
        '<p id="devices-summary" data-orders="{orders}" data-devices="{devices}">'
        "{orders} order(s) waiting on {devices} device(s)</p>"
    ).format(orders=totals.orders, devices=totals.devices)


def devices_page(ctx, request):
    conn = ctx.connect()
    try:
        devices = list_devices(conn)
    finally:
        conn.close()
    now = datetime.now(timezone.utc)
    if request.args.get("fragment") == "rows":
        # What the page's poll swaps in: the summary and the rows, server-escaped.
        body = Markup("{summary}<table><tbody>{rows}</tbody></table>").format(
            summary=_summary(devices), rows=_rows(devices, now)
        )
        response = Response(str(body), mimetype="text/html")
        response.headers["Cache-Control"] = "no-store"
        return response
    body = Markup(
        "{summary}"
        '<p class="muted">Every browser profile running a register reports what it still holds '
        "(every {heartbeat} s while online, and after each change). Not heard from for {stale} "
        "min: shown as not reporting, never deleted.</p>"
        '<table id="devices" data-polls="0"><thead><tr><th>Device</th><th>Register</th>'
        '<th>Last cashier</th><th>Last seen</th><th class="num">Waiting orders</th>'
        '<th>Oldest</th><th class="num">Total</th><th>Unprocessed cards</th><th>Storage</th>'
        "<th>Version</th></tr></thead><tbody>{rows}</tbody></table>"
        "<script>(function(){{var t=document.getElementById('devices');"
        "function poll(){{fetch('/backoffice/devices?fragment=rows',{{cache:'no-store'}})"
        ".then(function(r){{if(!r.ok){{throw new Error(r.status);}}return r.text();}})"
        ".then(function(html){{var d=document.createElement('div');d.innerHTML=html;"
        "document.getElementById('devices-summary').replaceWith(d.querySelector('#devices-summary'));"
        "t.tBodies[0].replaceWith(d.querySelector('tbody'));"
        "t.dataset.polls=String(Number(t.dataset.polls)+1);}})"
        ".catch(function(){{}}).finally(function(){{setTimeout(poll,{poll});}});}}"
        "setTimeout(poll,{poll});}})();</script>"
    ).format(
        summary=_summary(devices),
        heartbeat=device_report.HEARTBEAT_SECONDS,
        stale=STALE_AFTER_SECONDS // 60,
        rows=_rows(devices, now),
        poll=POLL_MS,
    )
    return Response(pages.layout("Devices", body), mimetype="text/html")


hooks.APP_INIT.append(migrate)
hooks.ROUTES.append(("/backoffice/devices", "devices", devices_page, ["GET"]))
