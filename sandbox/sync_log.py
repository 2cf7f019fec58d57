"""The sync log in the sandbox (issue 11): one row per sync a register ran (its batches added
up by the sync's id, core/sync_log.py), written after each committed batch, and a searchable
back-office page. Bookkeeping only: a failure to log never fails the sync's answer."""

from __future__ import annotations

from datetime import datetime, timezone

from markupsafe import Markup
from werkzeug.wrappers import Response

from pos_offline_sync.core.sync_log import SyncCounts, count_batch, read_meta

from . import hooks, pages
from .db import write_transaction

TABLE = """
CREATE TABLE IF NOT EXISTS offline_sync_log (
    id INTEGER PRIMARY KEY,
    sync_id TEXT,
    config_id INTEGER NOT NULL REFERENCES pos_config (id),
    device_id TEXT,
    cashier TEXT,
    started_at TEXT NOT NULL,
    ended_at TEXT NOT NULL,
    batches INTEGER NOT NULL,
    sent INTEGER NOT NULL,
    created INTEGER NOT NULL,
    existing INTEGER NOT NULL,
    refused INTEGER NOT NULL,
    reasons TEXT NOT NULL DEFAULT '',
    more_reasons INTEGER NOT NULL DEFAULT 0,
    UNIQUE (sync_id, config_id)
);
CREATE INDEX IF NOT EXISTS offline_sync_log_ended ON offline_sync_log (ended_at);
"""
PAGE_ROWS = 200


def migrate(ctx) -> None:
    conn = ctx.connect()
    try:
        conn.executescript(TABLE)
    finally:
        conn.close()


def _stored_counts(row) -> SyncCounts:
    return SyncCounts(
        sent=row["sent"],
        created=row["created"],
        existing=row["existing"],
        refused=row["refused"],
        reasons=row["reasons"].split("\n") if row["reasons"] else [],
        more_reasons=row["more_reasons"],
    )


def log_batch(ctx, payload, answer) -> None:
    """Adds one answered batch to its sync's row (a new row for a batch without a sync id)."""
    meta = read_meta(payload)
    batch = count_batch(payload, answer)
    config_id = payload["config_id"]
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    conn = ctx.connect()
    try:
        with write_transaction(conn):
            row = None
            if meta.sync_id:
                row = conn.execute(
                    "SELECT * FROM offline_sync_log WHERE sync_id = ? AND config_id = ?",
                    (meta.sync_id, config_id),
                ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO offline_sync_log (sync_id, config_id, device_id, cashier, "
                    "started_at, ended_at, batches, sent, created, existing, refused, reasons, "
                    "more_reasons) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)",
                    (
                        meta.sync_id,
                        config_id,
                        meta.device_id,
                        meta.cashier,
                        now,
                        now,
                        batch.sent,
                        batch.created,
                        batch.existing,
                        batch.refused,
                        "\n".join(batch.reasons),
                        batch.more_reasons,
                    ),
                )
                return
            total = _stored_counts(row).add(batch)
            conn.execute(
                "UPDATE offline_sync_log SET ended_at = ?, batches = batches + 1, sent = ?, "
                "created = ?, existing = ?, refused = ?, reasons = ?, more_reasons = ?, "
                "cashier = coalesce(?, cashier) WHERE id = ?",
                (
                    now,
                    total.sent,
                    total.created,
                    total.existing,
                    total.refused,
                    "\n".join(total.reasons),
                    total.more_reasons,
                    meta.cashier,
                    row["id"],
                ),
            )
    finally:
        conn.close()


_SELECT = (
    "SELECT l.*, d.name AS device_name, c.name AS config_name FROM offline_sync_log l "
    "JOIN pos_config c ON c.id = l.config_id LEFT JOIN offline_devices d "
    "ON d.device_id = l.device_id AND d.config_id = l.config_id "
)
_ORDER = " ORDER BY l.ended_at DESC, l.id DESC LIMIT ?"
_MATCH = (
    "WHERE (l.cashier LIKE ? ESCAPE '\\' OR l.device_id LIKE ? ESCAPE '\\' OR "
    "d.name LIKE ? ESCAPE '\\' OR l.reasons LIKE ? ESCAPE '\\')"
)
SEARCH_ALL = _SELECT + _ORDER
SEARCH_MATCHING = _SELECT + _MATCH + _ORDER


def search_log(conn, query: str = "", limit: int = PAGE_ROWS) -> list:
    """Newest first; `query` matches the device's name or id, the cashier or a reason."""
    if not query:
        return conn.execute(SEARCH_ALL, [limit]).fetchall()
    like = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return conn.execute(SEARCH_MATCHING, [like, like, like, like, limit]).fetchall()


def sync_log_page(ctx, request):
    query = (request.args.get("q") or "").strip()[:100]
    conn = ctx.connect()
    try:
        entries = search_log(conn, query)
    finally:
        conn.close()
    if entries:
        rows = Markup("").join(
            Markup(
                '<tr class="sync" data-sync-id="{sync_id}" data-device-id="{device_id}" '
                'data-sent="{sent}" data-created="{created}" data-existing="{existing}" '
                'data-refused="{refused}"><td class="when">{when}</td>'
                '<td class="device">{device}</td><td class="register">{register}</td>'
                '<td class="cashier">{cashier}</td><td class="num batches">{batches}</td>'
                '<td class="num sent">{sent}</td><td class="num stored">{stored}</td>'
                '<td class="num refused">{refused}</td><td class="note reasons">{reasons}</td>'
                "</tr>"
            ).format(
                sync_id=e["sync_id"] or "",
                device_id=e["device_id"] or "",
                sent=e["sent"],
                created=e["created"],
                existing=e["existing"],
                refused=e["refused"],
                when=e["started_at"],
                device=e["device_name"] or (e["device_id"] or "")[:8] or "?",
                register=e["config_name"],
                cashier=e["cashier"] or "",
                batches=e["batches"],
                stored=f"{e['created']} new, {e['existing']} already there",
                reasons=_stored_counts(e).reasons_text(),
            )
            for e in entries
        )
    else:
        rows = Markup('<tr class="empty"><td colspan="9" class="muted">No sync yet.</td></tr>')
    body = Markup(
        '<form method="get" action="/backoffice/sync-log" id="sync-log-search">'
        '<label for="q">Device, cashier or reason</label> '
        '<input type="search" id="q" name="q" value="{query}"> '
        '<button type="submit">Search</button></form>'
        '<table id="sync-log"><thead><tr><th>When</th><th>Device</th><th>Register</th>'
        '<th>Cashier</th><th class="num">Batches</th><th class="num">Sent</th>'
        '<th class="num">Stored</th><th class="num">Refused</th><th>Reasons</th></tr></thead>'
        "<tbody>{rows}</tbody></table>"
    ).format(query=query, rows=rows)
    response = Response(pages.layout("Sync log", body), mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


hooks.APP_INIT.append(migrate)
hooks.SYNC_DONE.append(log_batch)
hooks.ROUTES.append(("/backoffice/sync-log", "sync_log", sync_log_page, ["GET"]))
