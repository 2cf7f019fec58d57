"""The sandbox WSGI app: routes, static files and the request-level checks.

`create_app(db_path, stripe=None)` returns a werkzeug WSGI app bound to one SQLite file. It
serves the addon's browser core unchanged (`/core/...`), OWL from node_modules, the register
page, the RPC endpoint, settings and the back office. See DESIGN.md "The sandbox".
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.security import safe_join
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from pos_offline_sync.core.csv_schema import parse_offline_csv

from . import hooks, orders, pages, rpc
from .db import connect, init_db, write_transaction

_logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
CORE_DIR = ROOT / "pos_offline_sync" / "static" / "src" / "core"
SANDBOX_STATIC = Path(__file__).resolve().parent / "static"
OWL_JS = ROOT / "node_modules" / "@odoo" / "owl" / "dist" / "owl.es.js"
STATIC_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
MAX_UPLOAD_BYTES = 64 * 1024 * 1024

# The cards module registers its RPC methods and hooks when it is there.
if importlib.util.find_spec("sandbox.cards") is not None:
    importlib.import_module("sandbox.cards")


@dataclass
class SandboxContext:
    """What a request handler needs: the database, the Stripe config, module state."""

    db_path: Path
    stripe: dict | None = None
    extras: dict = field(default_factory=dict)  # per-app state of extension modules

    def connect(self):
        return connect(self.db_path)


def _json(data, status=200) -> Response:
    return Response(json.dumps(data), status=status, mimetype="application/json")


def _html(text: str, status=200) -> Response:
    return Response(text, status=status, mimetype="text/html")


def _static(base: Path, path: str) -> Response:
    # safe_join refuses "..", absolute paths and other escapes from `base`.
    full = safe_join(str(base), path)
    if full is None:
        raise NotFound()
    file = Path(full)
    kind = STATIC_TYPES.get(file.suffix.lower())
    if kind is None or not file.is_file():
        raise NotFound()
    response = Response(file.read_bytes(), mimetype=kind.split(";")[0])
    response.headers["Content-Type"] = kind
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


class SandboxApp:
    def __init__(self, db_path, *, stripe=None):
        self.ctx = SandboxContext(Path(db_path), stripe)
        init_db(self.ctx.db_path)
        rules = [
            Rule("/", endpoint="root"),
            Rule("/pos", endpoint="pos"),
            Rule("/owl/owl.es.js", endpoint="owl"),
            Rule("/core/<path:path>", endpoint="core"),
            Rule("/sandbox-static/<path:path>", endpoint="sandbox_static"),
            Rule("/api/pos_data", endpoint="pos_data", methods=["GET"]),
            Rule("/ping", endpoint="ping"),
            Rule("/rpc/<method>", endpoint="rpc", methods=["POST"]),
            Rule("/settings", endpoint="settings", methods=["GET", "POST"]),
            Rule("/backoffice", endpoint="backoffice", methods=["GET"]),
            # <path:>: an id holding a "/" (percent-encoded in links, decoded by the server).
            Rule("/backoffice/order/<path:uuid>", endpoint="order", methods=["GET"]),
            Rule("/backoffice/import", endpoint="import_csv", methods=["GET", "POST"]),
        ]
        self.extra_views = {}
        for rule, endpoint, view, methods in hooks.ROUTES:
            rules.append(Rule(rule, endpoint=f"x_{endpoint}", methods=methods))
            self.extra_views[f"x_{endpoint}"] = view
        # No slash merging: "/core//etc/passwd" must be refused, not redirected somewhere.
        self.url_map = Map(rules, merge_slashes=False)
        for init in hooks.APP_INIT:
            init(self.ctx)

    # -- WSGI ---------------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        request = Request(environ)
        request.max_content_length = MAX_UPLOAD_BYTES
        try:
            response = self.dispatch(request)
        except HTTPException as exc:
            if exc.code < 400:
                # Routing redirects (e.g. "//" merged) carry their Location: answer them as is.
                return exc.get_response(environ)(environ, start_response)
            if request.path.startswith(("/rpc/", "/api/")):
                response = _json(
                    {"error": {"code": exc.name.lower().replace(" ", "_"), "message": exc.name}},
                    exc.code,
                )
            else:
                response = _html(pages.error_page(exc.code, exc.description or exc.name), exc.code)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        refused = self._refuse(request)
        if refused is not None:
            return refused
        endpoint, values = self.url_map.bind_to_environ(request.environ).match()
        if endpoint in self.extra_views:
            return self.extra_views[endpoint](self.ctx, request, **values)
        return getattr(self, f"on_{endpoint}")(request, **values)

    def _refuse(self, request: Request):
        """Loopback Host only (no DNS rebinding); a POST that says where it comes from must
        come from this origin (a light CSRF guard: browsers always send Origin on POST)."""
        try:
            host = urlsplit("//" + (request.host or "")).hostname
        except ValueError:
            host = None
        if host not in LOOPBACK_HOSTS:
            return Response("The sandbox answers on the loopback address only.", status=403)
        if request.method == "POST":
            origin = request.headers.get("Origin") or request.headers.get("Referer")
            if origin and origin != "null":
                parts = urlsplit(origin)
                if parts.netloc != request.host:
                    message = "Cross-origin request refused."
                    if request.path.startswith("/rpc/"):
                        return _json({"error": {"code": "forbidden", "message": message}}, 403)
                    return Response(message, status=403)
        return None

    # -- register -----------------------------------------------------------------------------
    def on_root(self, request):
        return redirect("/pos")

    def on_pos(self, request):
        response = _html(pages.pos_shell())
        response.headers["Cache-Control"] = "no-cache"
        return response

    def on_owl(self, request):
        if not OWL_JS.is_file():
            return Response("node_modules/@odoo/owl is missing: run `make deps`", status=500)
        return _static(OWL_JS.parent, OWL_JS.name)

    def on_core(self, request, path):
        return _static(CORE_DIR, path)

    def on_sandbox_static(self, request, path):
        return _static(SANDBOX_STATIC, path)

    def on_pos_data(self, request):
        conn = self.ctx.connect()
        try:
            config = conn.execute("SELECT * FROM pos_config ORDER BY id LIMIT 1").fetchone()
            data = {
                "config": {
                    "id": config["id"],
                    "name": config["name"],
                    "allow_offline_mode": bool(config["allow_offline_mode"]),
                    "allow_offline_auto_detect": bool(config["allow_offline_auto_detect"]),
                    "currency": config["currency"],
                },
                "products": [
                    {"id": r["id"], "name": r["name"], "price": r["price"]}
                    for r in conn.execute("SELECT * FROM products WHERE active ORDER BY id")
                ],
                "payment_methods": [
                    {
                        "id": r["id"],
                        "name": r["name"],
                        "is_cash": bool(r["is_cash"]),
                        "offline_card": bool(r["offline_card"]),
                    }
                    for r in conn.execute("SELECT * FROM payment_methods ORDER BY id")
                ],
                "cashiers": [
                    {"id": r["id"], "name": r["name"]}
                    for r in conn.execute("SELECT * FROM cashiers ORDER BY id")
                ],
                "db_name": "sandbox",
            }
            for hook in hooks.POS_DATA:
                hook(self.ctx, conn, data)
        finally:
            conn.close()
        response = _json(data)
        response.headers["Cache-Control"] = "no-store"
        return response

    def on_ping(self, request):
        response = _json({"ok": True})
        response.headers["Cache-Control"] = "no-store"
        return response

    def on_rpc(self, request, method):
        status, body = rpc.dispatch(self.ctx, method, request.get_data(cache=False))
        return _json(body, status)

    # -- settings -----------------------------------------------------------------------------
    def on_settings(self, request):
        conn = self.ctx.connect()
        try:
            flash, kind = None, "ok"
            if request.method == "POST":
                flash, kind = self._save_settings(conn, request.form)
            config = conn.execute("SELECT * FROM pos_config ORDER BY id LIMIT 1").fetchone()
            extra = [render(self.ctx, conn) for render, _save in hooks.SETTINGS_SECTIONS]
            return _html(pages.settings_page(config, extra, flash=flash, flash_kind=kind))
        finally:
            conn.close()

    def _save_settings(self, conn, form):
        offline = form.get("allow_offline_mode") == "1"
        # Auto-detect depends on offline mode: off with it.
        auto = offline and form.get("allow_offline_auto_detect") == "1"
        with write_transaction(conn):
            conn.execute(
                "UPDATE pos_config SET allow_offline_mode = ?, allow_offline_auto_detect = ? "
                "WHERE id = (SELECT id FROM pos_config ORDER BY id LIMIT 1)",
                (int(offline), int(auto)),
            )
        errors = [
            message
            for _render, save in hooks.SETTINGS_SECTIONS
            if (message := save(self.ctx, conn, form))
        ]
        if errors:
            return "Not saved: " + " ".join(errors), "error"
        return (
            "Settings saved. On the register, log out and back in (or reload it) to apply them.",
            "ok",
        )

    # -- back office --------------------------------------------------------------------------
    def on_backoffice(self, request):
        conn = self.ctx.connect()
        try:
            return _html(pages.backoffice_page(orders.list_orders(conn)))
        finally:
            conn.close()

    def on_order(self, request, uuid):
        conn = self.ctx.connect()
        try:
            order, lines, payments = orders.get_order(conn, uuid)
            if order is None:
                raise NotFound(f"No order with uuid {uuid}.")
            extra = [section(self.ctx, conn, order) for section in hooks.ORDER_SECTIONS]
            return _html(pages.order_page(order, lines, payments, extra))
        finally:
            conn.close()

    def on_import_csv(self, request):
        if request.method == "GET":
            return _html(pages.import_page())
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            return _html(pages.import_page(flash="Choose a CSV file.", flash_kind="error"), 400)
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            message = "The file is not UTF-8 text: export it again from the register."
            return _html(pages.import_page(flash=message, flash_kind="error"), 400)
        parsed = parse_offline_csv(text)
        conn = self.ctx.connect()
        try:
            config_id = conn.execute("SELECT id FROM pos_config ORDER BY id LIMIT 1").fetchone()[0]
        finally:
            conn.close()
        results = orders.import_orders(self.ctx, parsed.orders, config_id)
        created = sum(1 for r in results if r["ok"] and r["status"] == "created")
        exists = sum(1 for r in results if r["ok"] and r["status"] == "exists")
        failed = sum(1 for r in results if not r["ok"]) + len(parsed.errors)
        flash = (
            f"{created} order(s) imported, {exists} already in the back office, "
            f"{failed} problem(s)."
        )
        return _html(
            pages.import_page(
                results, parsed.errors, flash=flash, flash_kind="error" if failed else "ok"
            )
        )


def create_app(db_path, *, stripe=None) -> SandboxApp:
    """The sandbox WSGI app on the SQLite file `db_path` (created and seeded if new).

    `stripe`: `{"api_base": url, "secret_key": "sk_test_..."}` for the cards module, or None."""
    return SandboxApp(db_path, stripe=stripe)
