"""Helpers shared by the card tests (core and e2e): a loopback localstripe process, and a
way to count PaymentIntents per order straight from localstripe's list endpoint."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

import sandbox  # noqa: E402, F401 - first: makes the core importable without Odoo
from pos_offline_sync.core.card_keys import load_kek, write_kek_file  # noqa: E402

SECRET_KEY = "sk_test_pos_offline_sync"
VISA_OK = "4242424242424242"
VISA_DECLINED = "4000000000000341"  # localstripe declines it at confirmation
VISA_3DS = "4000002500003155"  # localstripe asks for authentication


@contextlib.contextmanager
def localstripe(latency_ms: float = 0):
    """localstripe on 127.0.0.1 at a free port, in memory only; yields its base URL.
    `latency_ms` delays every answer (the bench's stand-in for Stripe's network latency)."""
    argv = [sys.executable, "-m", "sandbox.localstripe_server", "--host", "127.0.0.1"]
    argv += ["--port", "0"] + (["--latency-ms", str(latency_ms)] if latency_ms else [])
    proc = subprocess.Popen(  # noqa: S603 - fixed argv, our own launcher
        argv,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    try:
        line = proc.stdout.readline()
        if not line.startswith("LOCALSTRIPE_URL="):
            raise RuntimeError("localstripe did not start: " + proc.stderr.read()[-2000:])
        yield line.split("=", 1)[1].strip()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def delay_stripe(base_url, path, ms, count=1, method="POST"):
    """The next `count` requests matching `path` (a regex) reach localstripe `ms` late: a slow
    Stripe that still processes what the client gave up on."""
    body = json.dumps({"method": method, "path": path, "ms": ms, "count": count}).encode()
    req = urllib.request.Request(f"{base_url}/_test/delay", data=body, method="POST")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10):  # noqa: S310 - loopback test server
        pass


def clear_stripe_delays(base_url):
    req = urllib.request.Request(f"{base_url}/_test/delay", method="DELETE")
    with urllib.request.urlopen(req, timeout=10):  # noqa: S310 - loopback test server
        pass


def stripe_held(base_url) -> int:
    """How many late requests localstripe still holds or handles (0: every one is done)."""
    req = urllib.request.Request(f"{base_url}/_test/delay", method="GET")
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback test server
        return json.load(resp)["held"]


def payment_intents(base_url, **metadata):
    """Every PaymentIntent in localstripe whose metadata holds `metadata` (raw JSON dicts)."""
    found, after = [], None
    while True:
        url = f"{base_url}/v1/payment_intents?limit=100" + (
            f"&starting_after={after}" if after else ""
        )
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {SECRET_KEY}"})
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback test server
            page = json.load(resp)
        for pi in page["data"]:
            md = pi.get("metadata") or {}
            if all(md.get(k) == v for k, v in metadata.items()):
                found.append(pi)
        if not page["has_more"] or not page["data"]:
            return found
        after = page["data"][-1]["id"]


def succeeded_for_order(base_url, order_uuid):
    return [
        pi
        for pi in payment_intents(base_url, pos_order_uuid=order_uuid)
        if pi["status"] == "succeeded"
    ]


def kek_file_for(db_path) -> Path:
    """The card KEK file of a test database, made on first use in a folder of its own next to
    the database (never inside it), so that two hosts on one file share it."""
    db_path = Path(db_path)
    path = db_path.parent / "kek" / f"{db_path.name}.kek"
    if not path.exists():
        write_kek_file(path)
    return path


def kek_for(db_path):
    return load_kek(kek_file_for(db_path))


def card(number=VISA_OK, cvc="123", exp_month=12, exp_year=2030, name="Ada Lovelace"):
    return {
        "number": number,
        "exp_month": exp_month,
        "exp_year": exp_year,
        "cvc": cvc,
        "name": name,
    }
