"""The sandbox's card integration through its WSGI app: RPC, sync outcomes from the ledger,
settings, the order page and "Charge new card", against a real localstripe and SQLite."""

import base64
import copy
import re
import sqlite3
import uuid

import pytest
from werkzeug.test import Client

# isort: off
from tests.order_support import plain_order
from tests.card_support import (
    SECRET_KEY,
    VISA_DECLINED,
    VISA_OK,
    card,
    kek_file_for,
    localstripe,
    payment_intents,
    succeeded_for_order,
)
from pos_offline_sync.core import card_errors
from pos_offline_sync.core.card_envelope import seal_card
from pos_offline_sync.core.card_keys import PublicKeyInfo
from sandbox import orders
from sandbox.app import create_app
# isort: on


@pytest.fixture(scope="module")
def stripe_url():
    with localstripe() as url:
        yield url


class Sandbox:
    def __init__(self, db, url, stripe=True):
        self.db, self.url = db, url
        config = {"api_base": url, "secret_key": SECRET_KEY} if stripe else None
        self.client = Client(create_app(db, stripe=config, card_kek_file=kek_file_for(db)))

    def rpc(self, method, payload, **kw):
        r = self.client.post(f"/rpc/{method}", json=payload, **kw)
        return r.status_code, r.get_json()

    def envelope(self, number=VISA_OK):
        _, body = self.rpc("offline_card_public_key", {"v": 1, "config_id": 1})
        key = body["result"]
        info = PublicKeyInfo(key["kid"], base64.b64decode(key["spki"]))
        return seal_card(card(number, cvc="919"), info.kid, info.load())

    def card_order(self, number=VISA_OK, amount=7.0, cash=0.0):
        order_uuid = str(uuid.uuid4())
        payments = [
            {
                "uuid": str(uuid.uuid4()),
                "payment_method_id": 2,
                "payment_method_name": "Card (offline)",
                "amount": amount,
                "card": {
                    "brand": "visa",
                    "last4": number[-4:],
                    "exp_month": 12,
                    "exp_year": 2030,
                    "envelope": self.envelope(number),
                    "status": "unprocessed",
                    "payment_intent_id": None,
                    "message": None,
                    "decline_code": None,
                },
            }
        ]
        if cash:
            payments.append(
                {
                    "uuid": str(uuid.uuid4()),
                    "payment_method_id": 1,
                    "payment_method_name": "Cash",
                    "amount": cash,
                    "card": None,
                }
            )
        return plain_order(
            order_uuid, reference=f"Order {order_uuid[:8]}", total=amount + cash, payments=payments
        )

    def process(self, order, index=0):
        p = order["payments"][index]
        return self.rpc(
            "offline_process_card",
            {
                "v": 1,
                "config_id": 1,
                "order_uuid": order["uuid"],
                "payment_uuid": p["uuid"],
                "amount": p["amount"],
                "currency": "USD",
                "reference": order["reference"],
                "envelope": p["card"]["envelope"],
            },
        )

    def sync(self, *orders):
        status, body = self.rpc(
            "offline_sync_orders", {"v": 1, "config_id": 1, "orders": list(orders)}
        )
        assert status == 200, body
        return body["result"]["results"]

    def row(self, sql, *args):
        conn = sqlite3.connect(self.db)
        conn.row_factory = sqlite3.Row
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def order(self, order_uuid):
        (row,) = self.row("SELECT * FROM orders WHERE uuid = ?", order_uuid)
        return row

    def payments(self, order_uuid):
        return self.row(
            "SELECT p.* FROM order_payments p JOIN orders o ON o.id = p.order_id WHERE o.uuid = ?",
            order_uuid,
        )


@pytest.fixture
def sb(tmp_path, stripe_url):
    return Sandbox(tmp_path / "sandbox.sqlite3", stripe_url)


def test_public_key_rpc(sb):
    status, body = sb.rpc("offline_card_public_key", {"v": 1, "config_id": 1})
    assert status == 200 and set(body["result"]) == {"v", "kid", "spki"}
    assert sb.rpc("offline_card_public_key", {"v": 1, "config_id": 99})[0] == 403
    assert sb.rpc("offline_card_public_key", {"config_id": 1})[0] == 400
    data = sb.client.get("/api/pos_data").get_json()
    assert data["card_public_key"] == body["result"]
    assert data["config"]["offline_card_max_amount"] == 0


def test_process_rpc_validates_and_refuses(sb):
    order = sb.card_order()
    status, body = sb.rpc("offline_process_card", {"v": 1, "config_id": 1, "order_uuid": "x"})
    assert status == 400 and "payment_uuid" in body["error"]["message"]
    p = order["payments"][0]
    payload = {
        "v": 1,
        "config_id": 7,
        "order_uuid": order["uuid"],
        "payment_uuid": p["uuid"],
        "amount": 7,
        "currency": "USD",
        "reference": "",
        "envelope": p["card"]["envelope"],
    }
    assert sb.rpc("offline_process_card", payload)[0] == 403


def test_processed_card_order_syncs_paid(sb):
    order = sb.card_order()
    status, out = sb.process(order)
    assert status == 200 and out["result"]["status"] == "succeeded"
    # The browser dropped the envelope after the outcome and says so; the server reads the ledger.
    card_ = order["payments"][0]["card"]
    card_.update(
        status="succeeded", envelope=None, payment_intent_id=out["result"]["payment_intent_id"]
    )
    (result,) = sb.sync(order)
    assert result["ok"] and result["status"] == "created" and result["paid"] is True
    row = sb.order(order["uuid"])
    assert row["state"] == "paid" and row["card_failed"] == 0
    (pay,) = sb.payments(order["uuid"])
    assert pay["transaction_id"] == out["result"]["payment_intent_id"]
    assert (pay["card_brand"], pay["card_last4"], pay["card_status"]) == (
        "visa",
        "4242",
        "succeeded",
    )
    assert len(succeeded_for_order(sb.url, order["uuid"])) == 1


def test_never_processed_card_is_processed_at_sync_once(sb):
    order = sb.card_order()
    (result,) = sb.sync(order)
    assert result["ok"] and result["paid"] is True
    (again,) = sb.sync(order)
    assert again["status"] == "exists"
    assert len(payment_intents(sb.url, pos_order_uuid=order["uuid"])) == 1
    assert "envelope" not in sb.order(order["uuid"])["payload"]


def test_declined_card_order_arrives_unpaid_with_the_reason(sb):
    order = sb.card_order(VISA_DECLINED, amount=5.0, cash=2.0)
    status, out = sb.process(order)
    assert out["result"]["status"] == "failed"
    (result,) = sb.sync(order)
    assert result["ok"] and result["paid"] is False
    row = sb.order(order["uuid"])
    assert row["state"] == "draft" and row["card_failed"] == 1
    assert card_errors.DECLINED in row["note"] and "VISA **** 0341" in row["note"]
    assert [p["payment_method_name"] for p in sb.payments(order["uuid"])] == ["Cash"]
    assert row["amount_paid"] == 2.0


def test_card_charged_after_a_csv_import_pays_the_order(sb):
    # Imported from a CSV first (no card data: unpaid). The register still had the sealed card,
    # charged it and syncs: that charge must pay the order, not vanish behind "exists".
    order = sb.card_order()
    from_csv = copy.deepcopy(order)
    del from_csv["payments"][0]["card"]["envelope"]
    (imported,) = orders.import_orders(sb.client.application.ctx, [from_csv], 1)
    assert imported["ok"] and imported["paid"] is False
    status, out = sb.process(order)
    assert out["result"]["status"] == "succeeded"
    (result,) = sb.sync(order)
    assert result["ok"] and result["status"] == "exists" and result["paid"] is True, result
    row = sb.order(order["uuid"])
    assert row["state"] == "paid" and row["card_failed"] == 0 and row["amount_paid"] == 7.0
    (pay,) = sb.payments(order["uuid"])
    assert pay["transaction_id"] == out["result"]["payment_intent_id"]
    sb.sync(order)  # sent once more: recorded once
    assert len(sb.payments(order["uuid"])) == 1
    assert len(succeeded_for_order(sb.url, order["uuid"])) == 1


def test_browser_claims_are_not_trusted(sb):
    order = sb.card_order()
    order["payments"][0]["card"].update(
        status="succeeded", envelope=None, payment_intent_id="pi_fake"
    )
    (result,) = sb.sync(order)
    assert not result["ok"] and "never processed" in result["reason"]
    assert sb.row("SELECT * FROM orders WHERE uuid = ?", order["uuid"]) == []


def test_order_amount_must_match_the_processed_card(sb):
    order = sb.card_order()
    sb.process(order)
    order["payments"][0]["amount"] = 70.0
    order["amount_total"] = order["amount_paid"] = 70.0
    order["lines"][0].update(price_unit=70.0, price_subtotal_incl=70.0)
    (result,) = sb.sync(order)
    assert not result["ok"] and "amount differs" in result["reason"]


def test_unknown_card_state_keeps_the_order_in_the_browser(tmp_path, stripe_url):
    down = Sandbox(tmp_path / "down.sqlite3", "http://127.0.0.1:9")
    order = down.card_order()
    (result,) = down.sync(order)
    assert not result["ok"]
    assert result["reason"] == "card payment not processed yet: " + card_errors.RETRY
    # Stripe back: the same order syncs and is charged once.
    up = Sandbox(tmp_path / "down.sqlite3", stripe_url)
    (result,) = up.sync(order)
    assert result["ok"] and result["paid"]
    assert len(payment_intents(stripe_url, pos_order_uuid=order["uuid"])) == 1


def test_without_stripe_config_it_says_so(tmp_path, stripe_url):
    bare = Sandbox(tmp_path / "bare.sqlite3", stripe_url, stripe=False)
    _, body = bare.process(bare.card_order())
    assert body["result"]["status"] == "config_error"
    assert body["result"]["message"].startswith("Card processing is not configured")


def test_risk_limits_in_settings_and_at_processing(sb):
    page = sb.client.get("/settings").get_data(as_text=True)
    assert 'id="card-limits"' in page and "Maximum per offline card payment" in page
    r = sb.client.post(
        "/settings",
        data={
            "allow_offline_mode": "1",
            "offline_card_max_amount": "5",
            "offline_card_max_total": "100",
            "offline_card_max_age_hours": "24",
        },
    )
    assert r.status_code == 200
    config = sb.client.get("/api/pos_data").get_json()["config"]
    assert (
        config["offline_card_max_amount"],
        config["offline_card_max_total"],
        config["offline_card_max_age_hours"],
    ) == (5, 100, 24)
    bad = sb.client.post("/settings", data={"offline_card_max_total": "-3"})
    assert "enter zero or a positive number" in bad.get_data(as_text=True)
    order = sb.card_order(amount=7.0)
    _, body = sb.process(order)
    assert body["result"]["status"] == "failed" and body["result"]["decline_code"] == "risk_limit"
    assert payment_intents(sb.url, pos_order_uuid=order["uuid"]) == []


def _charge_form(page):
    form = re.search(r'<form id="charge-new-card"(.*?)>', page, re.S).group(1)
    return dict(re.findall(r'data-(\w+)="([^"]*)"', form))


def test_charge_new_card_after_a_decline(sb):
    order = sb.card_order(VISA_DECLINED)
    sb.sync(order)
    page = sb.client.get(f"/backoffice/order/{order['uuid']}").get_data(as_text=True)
    assert 'id="card-attempts"' in page and 'data-status="failed"' in page
    form = _charge_form(page)
    assert form["amount"] == "7.00"
    url = f"/backoffice/order/{order['uuid']}/charge"
    body = {"payment_uuid": form["payment"], "token": form["token"], "envelope": sb.envelope()}
    # Only managers; only forms the server rendered.
    sb.client.set_cookie("sandbox_role", "cashier")
    r = sb.client.post(url, json=body)
    assert r.status_code == 403 and "managers" in r.get_json()["error"]["message"]
    sb.client.delete_cookie("sandbox_role")
    assert sb.client.post(url, json=dict(body, token="0" * 64)).status_code == 403
    # Another declined card: says why, order stays unpaid, a fresh payment for the next card.
    declined = sb.client.post(url, json=dict(body, envelope=sb.envelope(VISA_DECLINED))).get_json()
    assert (
        declined["result"]["status"] == "failed"
        and declined["result"]["message"] == card_errors.DECLINED
    )
    assert sb.order(order["uuid"])["state"] == "draft"
    nxt = declined["result"]["next"]
    good = dict(body, payment_uuid=nxt["payment_uuid"], token=nxt["token"])
    r = sb.client.post(url, json=good).get_json()
    assert r["result"]["status"] == "succeeded"
    assert sb.client.post(url, json=good).get_json()["result"]["status"] == "succeeded"  # resent
    row = sb.order(order["uuid"])
    assert row["state"] == "paid" and row["amount_paid"] == 7.0
    assert len(succeeded_for_order(sb.url, order["uuid"])) == 1
    page = sb.client.get(f"/backoffice/order/{order['uuid']}").get_data(as_text=True)
    assert page.count('class="card-attempt"') == 3 and 'id="charge-new-card"' not in page


def _imported_without_card(sb):
    """A card order imported from a CSV first (unpaid); the register still holds the card."""
    order = sb.card_order()
    from_csv = copy.deepcopy(order)
    del from_csv["payments"][0]["card"]["envelope"]
    orders.import_orders(sb.client.application.ctx, [from_csv], 1)
    return order


def _charge_new_card(sb, order, number=VISA_OK):
    page = sb.client.get(f"/backoffice/order/{order['uuid']}").get_data(as_text=True)
    form = _charge_form(page)
    envelope = sb.envelope(number)
    body = {"payment_uuid": form["payment"], "token": form["token"], "envelope": envelope}
    return sb.client.post(f"/backoffice/order/{order['uuid']}/charge", json=body)


def test_card_of_an_order_settled_in_the_back_office_is_not_charged(sb):
    # Imported from a CSV (unpaid, no card data), then paid in the back office with a new card.
    # The register still holds the first card sealed: processing it must not charge the
    # customer a second time.
    order = _imported_without_card(sb)
    assert _charge_new_card(sb, order).get_json()["result"]["status"] == "succeeded"
    assert sb.order(order["uuid"])["state"] == "paid"

    _, out = sb.process(order)
    assert out["result"]["status"] == "failed"
    assert out["result"]["decline_code"] == "order_settled"
    assert out["result"]["message"] == card_errors.ORDER_SETTLED
    assert len(payment_intents(sb.url, pos_order_uuid=order["uuid"])) == 1
    (result,) = sb.sync(order)
    assert result["ok"] and result["status"] == "exists" and result["paid"] is True
    assert len(sb.payments(order["uuid"])) == 1
    assert len(succeeded_for_order(sb.url, order["uuid"])) == 1


def test_new_card_records_a_register_card_charged_but_not_synced(sb):
    # The register charged its sealed card but has not synced: charging the new card would take
    # the money twice. The register's charge is recorded instead; the new card is left alone.
    order = _imported_without_card(sb)
    _, out = sb.process(order)
    assert out["result"]["status"] == "succeeded"
    r = _charge_new_card(sb, order)
    assert r.status_code == 200 and r.get_json()["result"]["status"] == "succeeded"
    assert "new card was not charged" in r.get_json()["result"]["message"]
    row = sb.order(order["uuid"])
    assert row["state"] == "paid" and row["amount_paid"] == 7.0
    (pay,) = sb.payments(order["uuid"])
    assert pay["transaction_id"] == out["result"]["payment_intent_id"]
    (result,) = sb.sync(order)
    assert result["ok"] and result["paid"] is True
    assert len(sb.payments(order["uuid"])) == 1
    assert len(succeeded_for_order(sb.url, order["uuid"])) == 1


def test_new_card_is_charged_when_the_register_card_never_reached_stripe(tmp_path, stripe_url):
    # The register's card met no Stripe (no PaymentIntent recorded: it cannot have taken
    # money): the new card is charged, never blocked by it; the register's card, processed
    # afterwards, is refused instead of charged a second time.
    down = Sandbox(tmp_path / "cards.sqlite3", "http://127.0.0.1:9")
    order = _imported_without_card(down)
    _, out = down.process(order)
    assert out["result"]["status"] == "retry"
    up = Sandbox(tmp_path / "cards.sqlite3", stripe_url)
    r = _charge_new_card(up, order)
    assert r.status_code == 200 and r.get_json()["result"]["status"] == "succeeded"
    assert up.order(order["uuid"])["state"] == "paid"
    (intent,) = succeeded_for_order(stripe_url, order["uuid"])
    assert intent["metadata"]["pos_payment_uuid"] != order["payments"][0]["uuid"]
    _, late = up.process(order)
    assert late["result"]["decline_code"] == "order_settled"
    assert len(succeeded_for_order(stripe_url, order["uuid"])) == 1
