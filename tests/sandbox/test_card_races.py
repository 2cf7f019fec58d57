"""Money safety under races, against two real sandbox server processes on one SQLite file and a
real localstripe made slow: two managers' "Charge new card", or the register's Process and the
back office's charge, on one unpaid order at the same moment (issue 8, numbered cases 1 and 2).
Each case counts the succeeded PaymentIntents localstripe holds for the order."""

from __future__ import annotations

import base64
import copy
import json
import re
import shutil
import sqlite3
import threading
import urllib.error
import urllib.request
import uuid

import pytest

# isort: off
from tests.card_support import (
    SECRET_KEY,
    VISA_OK,
    card,
    clear_stripe_delays,
    delay_stripe,
    localstripe,
    succeeded_for_order,
)
from tests.order_support import plain_order
from pos_offline_sync.core.card_envelope import seal_card
from pos_offline_sync.core.card_keys import PublicKeyInfo
from sandbox import orders
from sandbox.app import create_app
from sandbox.launcher import new_kek_file, start_sandbox
# isort: on

TRIES = 6


@pytest.fixture(scope="module")
def stripe_url():
    with localstripe() as url:
        yield url


@pytest.fixture
def two_servers(tmp_path, stripe_url):
    """Two sandbox processes (two workers, two managers' sessions) on one database file."""
    db = tmp_path / "shared.sqlite3"
    kek, kek_dir = new_kek_file()  # one key-encryption key for both, outside the database
    servers = [
        start_sandbox(db, ["--quiet"], stripe_url=stripe_url, stripe_key=SECRET_KEY, kek_file=kek)
        for _ in range(2)
    ]
    yield db, kek, servers
    for server in servers:
        server.stop()
    shutil.rmtree(kek_dir, ignore_errors=True)
    clear_stripe_delays(stripe_url)


def _post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 - loopback
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def _envelope(server, number=VISA_OK):
    _, body = _post(f"{server.url}/rpc/offline_card_public_key", {"v": 1, "config_id": 1})
    key = body["result"]
    info = PublicKeyInfo(key["kid"], base64.b64decode(key["spki"]))
    return seal_card(card(number), info.kid, info.load())


def _imported_unpaid(db, kek, server, stripe_url):
    """A card order imported from a CSV (unpaid, no card data); the register still holds its
    sealed card."""
    order_uuid = str(uuid.uuid4())
    payment = {
        "uuid": str(uuid.uuid4()),
        "payment_method_id": 2,
        "payment_method_name": "Card (offline)",
        "amount": 7.0,
        "card": {
            "brand": "visa",
            "last4": "4242",
            "exp_month": 12,
            "exp_year": 2030,
            "envelope": _envelope(server),
            "status": "unprocessed",
        },
    }
    order = plain_order(
        order_uuid, reference=f"Order {order_uuid[:8]}", total=7.0, payments=[payment]
    )
    from_csv = copy.deepcopy(order)
    del from_csv["payments"][0]["card"]["envelope"]
    app = create_app(
        db, stripe={"api_base": stripe_url, "secret_key": SECRET_KEY}, card_kek_file=str(kek)
    )
    orders.import_orders(app.ctx, [from_csv], 1)
    return order


def _charge_form(server, order_uuid):
    with urllib.request.urlopen(f"{server.url}/backoffice/order/{order_uuid}", timeout=30) as r:  # noqa: S310
        page = r.read().decode()
    form = re.search(r'<form id="charge-new-card"[^>]*>', page).group(0)
    return dict(re.findall(r'data-(\w+)="([^"]*)"', form))


def _charge_new_card(server, order_uuid):
    form = _charge_form(server, order_uuid)
    body = {"payment_uuid": form["payment"], "token": form["token"], "envelope": _envelope(server)}
    return lambda: _post(f"{server.url}/backoffice/order/{order_uuid}/charge", body)


def _process(server, order):
    payment = order["payments"][0]
    payload = {
        "v": 1,
        "config_id": 1,
        "order_uuid": order["uuid"],
        "payment_uuid": payment["uuid"],
        "amount": payment["amount"],
        "currency": "USD",
        "reference": order["reference"],
        "envelope": payment["card"]["envelope"],
    }
    return lambda: _post(f"{server.url}/rpc/offline_process_card", payload)


def _at_once(*calls):
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _order_row(db, order_uuid):
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        order = conn.execute("SELECT * FROM orders WHERE uuid = ?", (order_uuid,)).fetchone()
        payments = conn.execute(
            "SELECT * FROM order_payments WHERE order_id = ?", (order["id"],)
        ).fetchall()
        return order, payments
    finally:
        conn.close()


def test_two_managers_charging_one_order_at_once_charge_one_card(two_servers, stripe_url):
    db, kek, (a, b) = two_servers
    for _ in range(TRIES):
        order = _imported_unpaid(db, kek, a, stripe_url)
        charges = [_charge_new_card(a, order["uuid"]), _charge_new_card(b, order["uuid"])]
        # Stripe slow enough that both requests are inside their charge at the same time.
        delay_stripe(stripe_url, r"^/v1/payment_intents$", ms=400, count=2)
        results = _at_once(*charges)
        assert len(succeeded_for_order(stripe_url, order["uuid"])) == 1, results
        row, payments = _order_row(db, order["uuid"])
        assert row["state"] == "paid" and row["amount_paid"] == 7.0, results
        assert len(payments) == 1
        # The loser was told, with a 409 to show the result by itself, or that it is paid.
        codes = sorted(status for status, _ in results)
        assert codes in ([200, 200], [200, 409]), results
        # What a page told "being charged elsewhere" polls to show the result by itself.
        url = f"{b.url}/backoffice/order/{order['uuid']}/charge-state"
        with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - loopback
            assert json.load(resp)["result"] == {"state": "paid", "charging": False}
        clear_stripe_delays(stripe_url)


def test_register_process_and_back_office_charge_at_once_charge_one_card(two_servers, stripe_url):
    db, kek, (register, back_office) = two_servers
    for i in range(TRIES):
        order = _imported_unpaid(db, kek, register, stripe_url)
        calls = [_process(register, order), _charge_new_card(back_office, order["uuid"])]
        delay_stripe(stripe_url, r"^/v1/payment_intents$", ms=400, count=2)
        results = _at_once(*(calls if i % 2 else calls[::-1]))
        assert len(succeeded_for_order(stripe_url, order["uuid"])) == 1, results
        # The register syncs afterwards: the order is paid once, whichever card won.
        _, synced = _post(
            f"{register.url}/rpc/offline_sync_orders", {"v": 1, "config_id": 1, "orders": [order]}
        )
        (result,) = synced["result"]["results"]
        row, payments = _order_row(db, order["uuid"])
        if result["ok"]:
            assert row["state"] == "paid" and row["amount_paid"] == 7.0, (results, result)
            assert len(payments) == 1
        assert len(succeeded_for_order(stripe_url, order["uuid"])) == 1
        clear_stripe_delays(stripe_url)
