"""Register sessions in the sandbox (issue 9): open, closed, and the rescue session.

An order reaching the server after its session was closed (or naming a session that is gone
or of another register) is never refused: it lands in the register's open session, or when
none is open in the register's rescue session, made once and reused while open. The choice is
the core's (`pos_offline_sync/core/rescue_session.py`), as in Odoo. It is made inside the
order's write transaction (`BEGIN IMMEDIATE`: one writer at a time), so two batches at once
make one rescue session; a partial UNIQUE index holds that even against a bug.

Its table is made by sandbox/db.py (init_db), with a first open session per register.
The back office lists the sessions (Rescue badge), opens one and closes one. The sandbox has no
accounting: closing a session marks it closed (Odoo posts its entries).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

from markupsafe import Markup
from werkzeug.utils import redirect
from werkzeug.wrappers import Response

from pos_offline_sync.core import rescue_session
from pos_offline_sync.core.rescue_session import SessionInfo, choose_landing

from . import hooks, pages
from .db import write_transaction

OPENED, CLOSED = "opened", "closed"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _insert_session(conn, config_id: int, *, rescue: bool, origin_name: str | None = None):
    """A new open session of the register, named as Odoo names them ("Shop/00003"); a rescue
    one gets "(RESCUE FOR <session>)" after it. In the caller's write transaction."""
    config = conn.execute("SELECT name FROM pos_config WHERE id = ?", (config_id,)).fetchone()
    count = conn.execute(
        "SELECT COUNT(*) FROM pos_session WHERE config_id = ?", (config_id,)
    ).fetchone()[0]
    name = f"{config['name']}/{count + 1:05d}"
    if rescue:
        name = f"{name} {rescue_session.rescue_name(origin_name)}"
    cur = conn.execute(
        "INSERT INTO pos_session (config_id, name, state, rescue, opened_at) "
        "VALUES (?, ?, 'opened', ?, ?)",
        (config_id, name, int(rescue), _now()),
    )
    return cur.lastrowid


def _info(row) -> SessionInfo:
    return SessionInfo(
        id=row["id"], config_id=row["config_id"], state=row["state"], rescue=bool(row["rescue"])
    )


def landing(conn, config_id: int, own_id) -> sqlite3.Row:
    """The session an order of `config_id` naming session `own_id` lands in (the core's
    choice), made when it is a new rescue session. Call inside the write transaction."""
    own = None
    if isinstance(own_id, int) and not isinstance(own_id, bool):
        own = conn.execute("SELECT * FROM pos_session WHERE id = ?", (own_id,)).fetchone()
    open_rows = conn.execute(
        "SELECT * FROM pos_session WHERE config_id = ? AND state = 'opened'", (config_id,)
    ).fetchall()
    choice = choose_landing(_info(own) if own else None, config_id, [_info(r) for r in open_rows])
    session_id = choice.session_id
    if choice.kind == rescue_session.NEW_RESCUE:
        origin = own["name"] if own and own["config_id"] == config_id else None
        session_id = _insert_session(conn, config_id, rescue=True, origin_name=origin)
    return conn.execute("SELECT * FROM pos_session WHERE id = ?", (session_id,)).fetchone()


def current_session(conn, config_id: int):
    """The register's open session (not the rescue one), or None."""
    return conn.execute(
        "SELECT * FROM pos_session WHERE config_id = ? AND state = 'opened' AND rescue = 0",
        (config_id,),
    ).fetchone()


def open_session(conn, config_id: int) -> int:
    with write_transaction(conn):
        row = current_session(conn, config_id)
        return row["id"] if row else _insert_session(conn, config_id, rescue=False)


def close_session(conn, session_id: int) -> bool:
    with write_transaction(conn):
        cur = conn.execute(
            "UPDATE pos_session SET state = 'closed', closed_at = ? "
            "WHERE id = ? AND state = 'opened'",
            (_now(), session_id),
        )
        return cur.rowcount == 1


def list_sessions(conn):
    return conn.execute(
        """SELECT s.*, c.name AS config_name,
                  (SELECT COUNT(*) FROM orders o WHERE o.session_id = s.id) AS order_count,
                  (SELECT COALESCE(SUM(o.amount_total), 0) FROM orders o
                    WHERE o.session_id = s.id) AS order_total
           FROM pos_session s JOIN pos_config c ON c.id = s.config_id
           ORDER BY s.id DESC"""
    ).fetchall()


# -- hooks ----------------------------------------------------------------------------------
def pos_data(ctx, conn, data) -> None:
    """The register's orders carry its open session (none open: null, and they land in the
    rescue session when synced)."""
    row = current_session(conn, data["config"]["id"])
    data["config"]["session_id"] = row["id"] if row else None


def _row(s) -> Markup:
    badge = Markup('<span class="badge rescue">Rescue</span> ') if s["rescue"] else Markup("")
    action = Markup("")
    if s["state"] == OPENED:
        action = Markup(
            '<form method="post" action="/backoffice/sessions">'
            '<input type="hidden" name="close" value="{id}">'
            '<button type="submit" class="close-session">Close</button></form>'
        ).format(id=s["id"])
    return Markup(
        '<tr data-session="{id}" data-state="{state}" data-rescue="{rescue}">'
        '<td class="name">{badge}{name}</td><td class="register">{config}</td>'
        '<td class="state">{state}</td><td class="orders num">{orders}</td>'
        '<td class="total num">{total}</td><td class="opened">{opened}</td>'
        '<td class="closed">{closed}</td><td>{action}</td></tr>'
    ).format(
        id=s["id"],
        state=s["state"],
        rescue=s["rescue"],
        badge=badge,
        name=s["name"],
        config=s["config_name"],
        orders=s["order_count"],
        total=f"{s['order_total']:.2f}",
        opened=pages.local_date(s["opened_at"]),
        closed=pages.local_date(s["closed_at"]) if s["closed_at"] else "",
        action=action,
    )


def sessions_page(ctx, request):
    conn = ctx.connect()
    try:
        if request.method == "POST":
            if request.form.get("close", "").isdigit():
                close_session(conn, int(request.form["close"]))
            elif request.form.get("open", "").isdigit():
                open_session(conn, int(request.form["open"]))
            return redirect("/backoffice/sessions", code=303)
        rows = list_sessions(conn)
        configs = conn.execute("SELECT id, name FROM pos_config ORDER BY id").fetchall()
    finally:
        conn.close()
    opens = Markup("").join(
        Markup(
            '<form method="post" action="/backoffice/sessions" class="inline">'
            '<input type="hidden" name="open" value="{id}">'
            '<button type="submit" class="open-session">Open a session of {name}</button></form>'
        ).format(id=c["id"], name=c["name"])
        for c in configs
    )
    body = Markup(
        '<p class="muted">Orders that reach the server after their session was closed, while '
        "no session of their register is open, land in its rescue session (badge Rescue): "
        "close it like any session.</p>{opens}"
        '<table id="sessions"><thead><tr><th>Session</th><th>Register</th><th>State</th>'
        '<th class="num">Orders</th><th class="num">Total</th><th>Opened</th><th>Closed</th>'
        "<th>Action</th></tr></thead><tbody>{rows}</tbody></table>"
    ).format(opens=opens, rows=Markup("").join(_row(s) for s in rows))
    return Response(pages.layout("Sessions", body), mimetype="text/html")


hooks.POS_DATA.append(pos_data)
hooks.ROUTES.append(("/backoffice/sessions", "sessions", sessions_page, ["GET", "POST"]))
