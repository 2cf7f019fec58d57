"""Test-only faults of the sandbox (issue 11, auto-sync): off unless the server is started with
`--test-faults` (the sandbox binds to 127.0.0.1 only). When on:

- `POST /test/faults` `{"fail_sync": n}`: the next `n` `offline_sync_orders` calls answer 503
  without touching the database (a server that is down for them);
- `GET /test/sync_requests`: every `offline_sync_orders` call received, in order, with the
  server's clock (`t`, seconds) and the status answered: the test reads retry spacing here,
  from the server's side, not from the browser's timers.

Off, both routes are 404 and no call is failed or logged.
"""

from __future__ import annotations

import json
import threading
import time

from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from . import hooks

SYNC_METHOD = "offline_sync_orders"
MAX_FAILS = 100


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.fail_sync = 0
        self.requests: list[dict] = []


def _faults(ctx) -> Faults:
    if not ctx.test_faults:
        raise NotFound()
    return ctx.extras.setdefault("test_faults", Faults())


def intercept(ctx, method: str):
    """Called for every RPC: None to answer normally, else the (status, body) to answer."""
    if not ctx.test_faults or method != SYNC_METHOD:
        return None
    faults = _faults(ctx)
    with faults.lock:
        failing = faults.fail_sync > 0
        if failing:
            faults.fail_sync -= 1
        faults.requests.append({"t": time.time(), "status": 503 if failing else 200})
    if failing:
        return 503, {"error": {"code": "unavailable", "message": "test fault: server down"}}
    return None


def _json(data, status=200) -> Response:
    response = Response(json.dumps(data), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def faults_view(ctx, request):
    faults = _faults(ctx)
    try:
        body = json.loads(request.get_data(cache=False) or b"{}")
        count = body.get("fail_sync", 0)
    except (ValueError, AttributeError):
        return _json({"error": 'expected a JSON object such as {"fail_sync": 2}'}, 400)
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_FAILS:
        return _json({"error": f"fail_sync must be an integer from 0 to {MAX_FAILS}"}, 400)
    with faults.lock:
        faults.fail_sync = count
    return _json({"fail_sync": count})


def sync_requests_view(ctx, request):
    faults = _faults(ctx)
    with faults.lock:
        return _json({"requests": list(faults.requests)})


hooks.ROUTES.append(("/test/faults", "test_faults", faults_view, ["POST"]))
hooks.ROUTES.append(("/test/sync_requests", "test_sync_requests", sync_requests_view, ["GET"]))
