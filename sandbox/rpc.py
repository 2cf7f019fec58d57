"""The sandbox's RPC endpoint (docs/CONTRACTS.md §2): `POST /rpc/<method>`, JSON in and out.

Modules register their methods with `@rpc_method("name")`; a method is called as
`fn(ctx, payload)` (ctx: the app's `SandboxContext`) and returns the JSON-able result. Bad input
is always a 4xx with a message, never a 500: handlers raise `PayloadError` (400) or `RpcError`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from pos_offline_sync.core.card_keys import CardKeyUnavailable
from pos_offline_sync.core.order_schema import MAX_ID
from pos_offline_sync.core.sync_service import PayloadError

_logger = logging.getLogger(__name__)

RPC_METHODS: dict[str, Callable] = {}
MAX_BODY_BYTES = 32 * 1024 * 1024  # 500 large orders fit well within


class RpcError(Exception):
    """An answer other than 200: `status` (403, 404, ...), a code and a message for the user."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def rpc_method(name: str):
    """Registers `fn(ctx, payload) -> result` as the RPC method `name`."""

    def register(fn):
        if name in RPC_METHODS and RPC_METHODS[name] is not fn:
            raise RuntimeError(f"RPC method {name!r} is registered twice")
        RPC_METHODS[name] = fn
        return fn

    return register


def _reject_constant(name):
    # Python's json reads NaN and Infinity, which are not JSON and not amounts.
    raise ValueError(f"{name} is not a valid JSON value")


def parse_json(body: bytes):
    """Decodes a request body or raises PayloadError with a message a developer can act on."""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadError("the request body is too large")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("the request body is not UTF-8 text") from None
    if not text.strip():
        raise PayloadError("the request body is empty: expected a JSON object")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise PayloadError(
            f"the request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except ValueError as exc:
        raise PayloadError(f"the request body is not valid JSON: {exc}") from None
    except RecursionError:
        # json recurses per nesting level: "[[[[...". A client error, never a 500.
        raise PayloadError("the request body is nested too deeply to be an order batch") from None


def _check_register_id(payload) -> None:
    """Every method names its register (CONTRACTS §2): an id past the database's range is a
    400 with the reason here, never an overflow in a method's query (a 500)."""
    config_id = payload.get("config_id") if isinstance(payload, dict) else None
    if isinstance(config_id, int) and not isinstance(config_id, bool) and config_id > MAX_ID:
        raise PayloadError(f"config_id is not the id of a register: ids are 1 to {MAX_ID}")


def _error(status: int, code: str, message: str):
    return status, {"error": {"code": code, "message": message}}


def dispatch(ctx, method: str, body: bytes) -> tuple[int, dict]:
    """Runs one RPC call; returns (HTTP status, JSON body)."""
    fn = RPC_METHODS.get(method)
    if fn is None:
        return _error(404, "not_found", f"unknown RPC method {method[:80]!r}")
    try:
        payload = parse_json(body)
        _check_register_id(payload)
        return 200, {"result": fn(ctx, payload)}
    except PayloadError as exc:
        return _error(400, "bad_request", str(exc))
    except RpcError as exc:
        return _error(exc.status, exc.code, exc.message)
    except CardKeyUnavailable as exc:
        # A card key this server cannot open now (e.g. wrapped by another KEK): the card is
        # kept, and the caller told why.
        return _error(503, "card_key_unavailable", exc.message)
    except Exception:  # noqa: BLE001 - a bug answers 500 without leaking details
        _logger.exception("RPC method %s failed", method)
        return _error(500, "server_error", "the server failed to answer; sending again is safe")
