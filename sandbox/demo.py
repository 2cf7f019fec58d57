"""`make demo`: localstripe and the sandbox on 127.0.0.1, until Ctrl-C.

    python -m sandbox.demo [--port 8100] [--stripe-port 8101] [--db var/demo.sqlite3]
                           [--card-kek-file PATH]

(`make demo PORT=8100 STRIPE_PORT=8101`.) Without a port each picks a free one and the URLs are
printed; a fixed port keeps the same URLs between runs (a bookmarked register, a Stripe client
pointed at the local Stripe).

The card keys in the SQLite file are wrapped by a key-encryption key kept in its own file
(default var/keys/demo-card.kek, made on the first run, mode 0600): back it up apart from the
database; without it the cards waiting in the database can never be charged.

localstripe runs through `sandbox.localstripe_server` rather than its own `localstripe --port N`
command, which listens on every interface ("::") and pickles its store, test card numbers
included, to /tmp/localstripe.pickle: ours binds 127.0.0.1 and keeps it in memory.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
from pathlib import Path

from pos_offline_sync.core.card_keys import CardKeyUnavailable, read_kek_file, write_kek_file

from .server import install_stop_handlers, is_loopback, make_sandbox_server, serve, url_of

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DB = ROOT / "var" / "demo.sqlite3"
DEFAULT_KEK = ROOT / "var" / "keys" / "demo-card.kek"
# localstripe accepts any sk_test_ key; this one only ever reaches the loopback test double.
DEMO_SECRET_KEY = "sk_test_pos_offline_sync_demo"  # noqa: S105 - a test double's key
STARTUP_TIMEOUT_S = 30


def start_localstripe(host: str, port: int = 0) -> tuple[subprocess.Popen, str]:
    """Starts localstripe on `host` at `port` (0: a free one); returns the process and its base
    URL."""
    process = subprocess.Popen(  # noqa: S603 - fixed argv, our own launcher
        [sys.executable, "-m", "sandbox.localstripe_server", "--host", host, "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    found: list[str] = []

    def read_url():
        line = process.stdout.readline()
        if line.startswith("LOCALSTRIPE_URL="):
            found.append(line.split("=", 1)[1].strip())

    reader = threading.Thread(target=read_url, daemon=True)
    reader.start()
    reader.join(STARTUP_TIMEOUT_S)
    if not found:
        stop_process(process)
        errors = process.stderr.read()[-2000:] if process.stderr else ""
        raise RuntimeError(f"localstripe did not start:\n{errors}")
    # Keep draining its output so it never blocks on a full pipe.
    for stream in (process.stdout, process.stderr):
        threading.Thread(target=stream.read, daemon=True).start()
    return process, found[0]


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def ensure_kek(path: Path) -> str:
    """Makes the demo's card KEK file on the first run; says which KEK is used."""
    if path.exists():
        try:
            return f"KEK {read_kek_file(path).kek_id}"
        except CardKeyUnavailable as exc:
            return f"unusable: {exc.message}; cards are refused"
    return f"new KEK {write_kek_file(path).kek_id}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Run the pos_offline_sync demo.")
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address (default)")
    parser.add_argument("--port", type=int, default=0, help="sandbox port; 0 picks a free one")
    parser.add_argument(
        "--stripe-port", type=int, default=0, help="localstripe port; 0 picks a free one"
    )
    parser.add_argument("--db", default=str(DEFAULT_DB), help="SQLite file of the demo")
    parser.add_argument(
        "--card-kek-file",
        default=str(DEFAULT_KEK),
        help="key-encryption key of the card keys, outside the database (made if missing)",
    )
    args = parser.parse_args(argv)
    if not is_loopback(args.host):
        parser.error(f"--host must be a loopback address (127.0.0.1), not {args.host!r}")
    for name, port in (("--port", args.port), ("--stripe-port", args.stripe_port)):
        if not 0 <= port <= 65535:
            parser.error(f"{name} must be a port number from 1 to 65535 (or 0), not {port}")
    if args.port and args.port == args.stripe_port:
        parser.error("--port and --stripe-port must differ")
    kek_note = ensure_kek(Path(args.card_kek_file))

    # From here on Ctrl-C / SIGTERM raise SystemExit, so the `finally` below stops localstripe.
    install_stop_handlers()
    try:
        stripe_process, stripe_url = start_localstripe(args.host, args.stripe_port)
    except RuntimeError as exc:
        print(f"{exc}\n(is port {args.stripe_port} already in use?)", file=sys.stderr, flush=True)
        return 2
    try:
        stripe = {"api_base": stripe_url, "secret_key": DEMO_SECRET_KEY}
        try:
            server = make_sandbox_server(
                args.host, args.port, args.db, stripe=stripe, card_kek_file=args.card_kek_file
            )
        except (OSError, SystemExit) as exc:
            # werkzeug prints "Port N is in use" and exits; either way localstripe is stopped.
            reason = exc if isinstance(exc, OSError) else "the port is in use"
            print(f"The sandbox cannot listen on port {args.port}: {reason}", file=sys.stderr)
            return 2
        url = url_of(server)
        print(
            f"SANDBOX_URL={url}\n"
            f"  Register:     {url}/pos\n"
            f'  Settings:     {url}/settings   (turn on "Allow Offline Mode" first)\n'
            f"  Back office:  {url}/backoffice\n"
            f"  CSV import:   {url}/backoffice/import\n"
            f"  localstripe:  {stripe_url} (test cards: 4242424242424242 succeeds, "
            f"4000000000000341 is declined)\n"
            f"  Database:     {args.db}\n"
            f"  Card KEK:     {args.card_kek_file} ({kek_note}; keep it apart from the database)\n"
            "Press Ctrl-C to stop.",
            flush=True,
        )
        serve(server)  # returns on SIGINT / SIGTERM
    finally:
        stop_process(stripe_process)
    print("Demo stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
