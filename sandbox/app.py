"""The sandbox WSGI app: routes, static files and the request-level checks.

`create_app(db_path, stripe=None)` returns a werkzeug WSGI app bound to one SQLite file. It
serves the addon's browser core unchanged (`/core/...`), OWL from node_modules, the register
page, the RPC endpoint, settings and the back office. See DESIGN.md "The sandbox".
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.security import safe_join
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from pos_offline_sync.core.csv_schema import (
    MAX_CSV_BYTES,
    CsvFileError,
    CsvTooLargeError,
    check_csv_size,
    count_import,
    open_csv,
    parse_offline_csv,
)
from pos_offline_sync.core.sync_service import DEFAULT_TIME_BUDGET_S

from . import hooks, orders, pages, rpc, test_faults
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
_FORM_OVERHEAD = 64 * 1024  # multipart boundaries and part headers around the CSV file

# The cards module registers its RPC methods and hooks when it is there.
if importlib.util.find_spec("sandbox.cards") is not None:
    importlib.import_module("sandbox.cards")
importlib.import_module("sandbox.devices")  # device reports and the Devices page
importlib.import_module("sandbox.sync_log")  # one row per register sync, searchable
importlib.import_module("sandbox.sessions")  # sessions, and the rescue session (issue 9)


@dataclass
class SandboxContext:
    """What a request handler needs: the database, the Stripe config, module state."""

    db_path: Path
    stripe: dict | None = None
    card_kek_file: str | None = None  # the KEK file protecting card keys, outside db_path
    extras: dict = field(default_factory=dict)  # per-app state of extension modules
    # Seconds a sync call (and each CSV import chunk) may spend on its orders before it answers
    # the rest "deferred" (core sync_service); None: no budget.
    sync_time_budget_s: float | None = DEFAULT_TIME_BUDGET_S
    # Test hook: every order stored takes this much longer (a slow server, as Odoo is).
    test_order_delay_s: float = 0.0
    # Test hook (sandbox/test_faults.py): failing sync calls and their log; off by default.
    test_faults: bool = False

    def connect(self):
        return connect(self.db_path)


def addon_version() -> str:
    """The version static/src/core/version.js declares (kept equal to the manifest's)."""
    match = re.search(r'ADDON_VERSION = "([^"]+)"', (CORE_DIR / "version.js").read_text())
    if not match:
        raise RuntimeError("static/src/core/version.js declares no ADDON_VERSION")
    return match.group(1)


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
    def __init__(
        self,
        db_path,
        *,
        stripe=None,
        card_kek_file=None,
        sync_time_budget_s=DEFAULT_TIME_BUDGET_S,
        test_order_delay_s=0.0,
        test_faults=False,
    ):
        self.ctx = SandboxContext(
            Path(db_path),
            stripe,
            card_kek_file,
            sync_time_budget_s=sync_time_budget_s,
            test_order_delay_s=test_order_delay_s,
            test_faults=test_faults,
        )
        init_db(self.ctx.db_path)
        rules = [
            Rule("/", endpoint="root"),
            Rule("/pos", endpoint="pos"),
            Rule("/owl/owl.es.js", endpoint="owl"),
            Rule("/sw.js", endpoint="service_worker"),
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

    def on_service_worker(self, request):
        # The addon's version written in: a new version is a byte-different worker, which
        # the browser installs, and whose cache name retires the old core files.
        body = (SANDBOX_STATIC / "service_worker.js").read_text()
        body = body.replace("__ADDON_VERSION__", addon_version())
        response = Response(body, mimetype="text/javascript")
        response.headers["Cache-Control"] = "no-cache"
        return response

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
                    "offline_auto_sync": bool(config["offline_auto_sync"]),
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
        faulted = test_faults.intercept(self.ctx, method)
        if faulted is not None:
            return _json(faulted[1], faulted[0])
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
        auto_sync = offline and form.get("offline_auto_sync") == "1"
        with write_transaction(conn):
            conn.execute(
                "UPDATE pos_config SET allow_offline_mode = ?, allow_offline_auto_detect = ?, "
                "offline_auto_sync = ? "
                "WHERE id = (SELECT id FROM pos_config ORDER BY id LIMIT 1)",
                (int(offline), int(auto), int(auto_sync)),
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

        def refuse(message, status):
            return _html(pages.import_page(flash=message, flash_kind="error"), status)

        # The size first, from the request's header: a file past the limit is never read.
        if request.content_length is None:
            return refuse("The upload says not how large it is (no Content-Length).", 411)
        if request.content_length > MAX_CSV_BYTES + _FORM_OVERHEAD:
            too_large = CsvTooLargeError(
                "bytes", request.content_length, MAX_CSV_BYTES, subject="the upload"
            )
            return refuse(f"The file is too large to import: {too_large.reason}.", 413)
        request.max_content_length = MAX_CSV_BYTES + _FORM_OVERHEAD
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            return refuse("Choose a CSV file.", 400)
        stream = upload.stream  # spooled to a temporary file past 500 KB by werkzeug
        stream.seek(0, io.SEEK_END)
        size = stream.tell()
        stream.seek(0)
        try:
            check_csv_size(size)
            parsed = parse_offline_csv(open_csv(stream))
        except CsvFileError as exc:
            what = "too large to import" if exc.status == 413 else "refused, nothing imported"
            return refuse(f"The file {upload.filename} is {what}: {exc.reason}.", exc.status)
        conn = self.ctx.connect()
        try:
            config_id = conn.execute("SELECT id FROM pos_config ORDER BY id LIMIT 1").fetchone()[0]
        finally:
            conn.close()
        done = [0]

        def on_chunk(stored, total):
            done[0] = stored
            for hook in hooks.IMPORT_CHUNK_DONE:
                hook(self.ctx, stored, total)

        try:
            results = orders.import_orders(self.ctx, parsed.orders, config_id, on_chunk=on_chunk)
        except Exception:  # noqa: BLE001 - the page says what is kept and what to do
            _logger.exception(
                "CSV import stopped after %d of %d orders", done[0], len(parsed.orders)
            )
            message = (
                f"The import stopped after {done[0]} of {len(parsed.orders)} order(s), which "
                "are saved. Import the same file again to import the rest: nothing is created "
                "twice."
            )
            return refuse(message, 500)
        counts = count_import(parsed, results)
        flash = (
            f"{counts.done} of {counts.total} order(s) imported ({counts.created} new, "
            f"{counts.exists} already in the back office), {counts.problems} problem(s)."
        )
        return _html(
            pages.import_page(
                results,
                parsed.errors,
                flash=flash,
                flash_kind="error" if counts.problems else "ok",
                line_of=parsed.line_of,
                counts=counts,
            )
        )


def create_app(
    db_path,
    *,
    stripe=None,
    card_kek_file=None,
    sync_time_budget_s=DEFAULT_TIME_BUDGET_S,
    test_order_delay_s=0.0,
    test_faults=False,
) -> SandboxApp:
    """The sandbox WSGI app on the SQLite file `db_path` (created and seeded if new).

    `stripe`: `{"api_base": url, "secret_key": "sk_test_..."}` for the cards module, or None.
    `card_kek_file`: the key-encryption key file that wraps the card keys (kept outside the
    SQLite file); without it cards cannot be taken offline. `sync_time_budget_s`: see
    SandboxContext (None: no budget); `test_order_delay_s`: a test hook slowing every order;
    `test_faults`: the test-only fault switch and sync request log (sandbox/test_faults.py)."""
    return SandboxApp(
        db_path,
        stripe=stripe,
        card_kek_file=card_kek_file,
        sync_time_budget_s=sync_time_budget_s,
        test_order_delay_s=test_order_delay_s,
        test_faults=test_faults,
    )
