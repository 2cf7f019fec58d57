"""Runs the sandbox on the loopback interface.

    python -m sandbox.server --host 127.0.0.1 --port 0 --db var/sandbox.sqlite3

`--port 0` picks a free port. Once listening it prints exactly one line
`SANDBOX_URL=http://127.0.0.1:<port>` (flushed), then serves until SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import signal
import sys

from werkzeug.serving import make_server

from pos_offline_sync.core.sync_service import DEFAULT_TIME_BUDGET_S

from .app import create_app

DEFAULT_DB = "var/sandbox.sqlite3"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_of(server) -> str:
    host = server.host if ":" not in server.host else f"[{server.host}]"
    return f"http://{host}:{server.server_port}"


def _stop(signum, frame):
    raise SystemExit(0)


def install_stop_handlers() -> None:
    """SIGTERM/SIGINT end the process cleanly. Installed before the URL is printed: a caller
    that stops us as soon as it reads the URL must not meet Python's default handlers."""
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)


def serve(server) -> None:
    """Serves until SIGTERM/SIGINT, then closes the socket cleanly."""
    install_stop_handlers()
    try:
        server.serve_forever()
    except SystemExit:
        pass
    finally:
        server.server_close()


def make_sandbox_server(
    host: str,
    port: int,
    db: str,
    *,
    stripe=None,
    card_kek_file=None,
    sync_time_budget_s=DEFAULT_TIME_BUDGET_S,
    test_order_delay_s=0.0,
    test_faults=False,
):
    if not is_loopback(host):
        raise ValueError(f"the sandbox binds to a loopback address only, not {host!r}")
    app = create_app(
        db,
        stripe=stripe,
        card_kek_file=card_kek_file,
        sync_time_budget_s=sync_time_budget_s,
        test_order_delay_s=test_order_delay_s,
        test_faults=test_faults,
    )
    return make_server(host, port, app, threaded=True)


def stripe_from_env():
    """Stripe settings for the cards module when the caller (demo, bench) provides them."""
    base = os.environ.get("SANDBOX_STRIPE_API_BASE")
    key = os.environ.get("SANDBOX_STRIPE_SECRET_KEY")
    return {"api_base": base, "secret_key": key} if base and key else None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Run the pos_offline_sync sandbox.")
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address (default)")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--db", default=DEFAULT_DB, help=f"SQLite file (default {DEFAULT_DB})")
    parser.add_argument(
        "--card-kek-file",
        default=os.environ.get("SANDBOX_CARD_KEK_FILE"),
        help="key-encryption key file wrapping the card keys, outside the SQLite file "
        "(default: $SANDBOX_CARD_KEK_FILE; without one, cards cannot be taken offline; "
        "make one with python -m pos_offline_sync.core.card_keys --new-kek PATH)",
    )
    parser.add_argument(
        "--sync-time-budget-s",
        type=float,
        default=float(os.environ.get("SANDBOX_SYNC_TIME_BUDGET_S", DEFAULT_TIME_BUDGET_S)),
        help="seconds a sync request may spend on its orders; the rest are answered deferred "
        f"(default: $SANDBOX_SYNC_TIME_BUDGET_S or {DEFAULT_TIME_BUDGET_S:g}; 0: no budget)",
    )
    parser.add_argument(
        "--test-order-delay-ms",
        type=float,
        default=0.0,
        help="test hook: every order stored takes this many ms longer (a slow server)",
    )
    parser.add_argument(
        "--test-faults",
        action="store_true",
        help="test hook: /test/faults fails sync calls, /test/sync_requests lists them (off)",
    )
    parser.add_argument("--quiet", action="store_true", help="no request log")
    args = parser.parse_args(argv)
    if not is_loopback(args.host):
        parser.error(f"--host must be a loopback address (127.0.0.1), not {args.host!r}")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.quiet:
        # No request lines: werkzeug logs one per request, stripe-python one per Stripe call.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        logging.getLogger("stripe").setLevel(logging.WARNING)
    if args.sync_time_budget_s < 0 or args.test_order_delay_ms < 0:
        parser.error("--sync-time-budget-s and --test-order-delay-ms cannot be negative")
    server = make_sandbox_server(
        args.host,
        args.port,
        args.db,
        stripe=stripe_from_env(),
        card_kek_file=args.card_kek_file,
        sync_time_budget_s=args.sync_time_budget_s or None,
        test_order_delay_s=args.test_order_delay_ms / 1000,
        test_faults=args.test_faults,
    )
    install_stop_handlers()
    print(f"SANDBOX_URL={url_of(server)}", flush=True)
    serve(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
