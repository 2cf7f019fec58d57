"""The charge service against a real localstripe, a real SQLite ledger and real key pairs.

Every "exactly once" case counts the PaymentIntents localstripe holds for the order.
"""

import json
import re
import sqlite3
import subprocess
import sys
import threading
import uuid
from decimal import Decimal

import pytest

# isort: off
from tests.card_support import (
    ROOT,
    SECRET_KEY,
    VISA_3DS,
    VISA_DECLINED,
    VISA_OK,
    card,
    kek_file_for,
    kek_for,
    localstripe,
    payment_intents,
    succeeded_for_order,
)
from pos_offline_sync.core import card_errors
from pos_offline_sync.core.card_charge import (
    CardChargeService,
    CardRequestError,
    ChargeRequest,
)
from pos_offline_sync.core.card_envelope import seal_card
from pos_offline_sync.core.card_gateway import GatewayFailure
from pos_offline_sync.core.risk_limits import RiskLimits
from pos_offline_sync.core.stripe_gateway import StripeGateway
from sandbox.card_keystore import SqliteKeyStore
from sandbox.card_ledger import SqliteAttemptLedger
# isort: on

CVC = "919"


@pytest.fixture(scope="module")
def stripe_url():
    with localstripe() as url:
        yield url


class Env:
    def __init__(self, db, url):
        self.db, self.url = db, url
        self.keys = SqliteKeyStore(db, kek=kek_for(db), bits=2048)
        self.ledger = SqliteAttemptLedger(db)
        self.gateway = StripeGateway(SECRET_KEY, api_base=url)
        self.service = CardChargeService(ledger=self.ledger, keys=self.keys, gateway=self.gateway)

    def payload(self, number=VISA_OK, amount=7.0, order_uuid=None, payment_uuid=None):
        info = self.keys.current_public()
        return {
            "v": 1,
            "config_id": 1,
            "order_uuid": order_uuid or str(uuid.uuid4()),
            "payment_uuid": payment_uuid or str(uuid.uuid4()),
            "amount": amount,
            "currency": "USD",
            "reference": "Order 00001-001-0001",
            "envelope": seal_card(card(number, cvc=CVC), info.kid, info.load()),
        }

    def row(self, payload):
        conn = sqlite3.connect(self.db)
        conn.row_factory = sqlite3.Row
        try:
            return conn.execute(
                "SELECT * FROM card_attempts WHERE order_uuid = ? AND payment_uuid = ?",
                (payload["order_uuid"], payload["payment_uuid"]),
            ).fetchone()
        finally:
            conn.close()

    def pis(self, payload):
        return payment_intents(self.url, pos_order_uuid=payload["order_uuid"])


@pytest.fixture
def env(tmp_path, stripe_url):
    return Env(tmp_path / "cards.sqlite3", stripe_url)


def test_success_charges_once_and_purges_the_envelope(env):
    p = env.payload()
    out = env.service.process(p)
    assert out["status"] == "succeeded" and out["payment_intent_id"].startswith("pi_")
    assert out["last4"] == "4242" and out["brand"] == "visa" and out["message"] == "Approved"
    row = env.row(p)
    assert row["status"] == "succeeded" and row["envelope"] is None
    assert row["payment_intent_id"] == out["payment_intent_id"]
    (pi,) = env.pis(p)
    assert pi["id"] == out["payment_intent_id"] and pi["amount"] == 700
    assert pi["metadata"]["pos_payment_uuid"] == p["payment_uuid"]
    assert pi["metadata"]["pos_attempt_id"] == str(row["id"])
    # Asked again (double click, lost answer): the stored outcome, no new charge.
    assert env.service.process(p) == out
    assert len(env.pis(p)) == 1
    assert env.service.outcome(p["order_uuid"], p["payment_uuid"]) == out


def test_decline_is_final_with_cashier_text(env):
    p = env.payload(VISA_DECLINED)
    out = env.service.process(p)
    assert out["status"] == "failed" and out["decline_code"] == "card_declined"
    assert out["message"] == card_errors.DECLINED
    row = env.row(p)
    assert row["status"] == "failed" and row["envelope"] is None
    # The attempt still says which card was refused (for the back office's attempt list).
    assert (out["brand"], out["last4"]) == ("visa", VISA_DECLINED[-4:])
    assert (row["brand"], row["last4"]) == ("visa", VISA_DECLINED[-4:])
    assert env.service.process(p)["status"] == "failed"
    assert [pi["status"] for pi in env.pis(p)] == ["requires_payment_method"]


def test_authentication_required_fails_and_cancels(env):
    p = env.payload(VISA_3DS)
    out = env.service.process(p)
    assert out["status"] == "failed" and out["message"] == card_errors.REQUIRES_ACTION
    assert [pi["status"] for pi in env.pis(p)] == ["canceled"]


def test_two_callers_on_one_payment_charge_once(env):
    p = env.payload()
    barrier = threading.Barrier(6)
    results = []

    def run():
        barrier.wait()
        results.append(env.service.process(p)["status"])

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert "succeeded" in results and set(results) <= {"succeeded", "in_progress"}
    assert env.service.process(p)["status"] == "succeeded"
    assert len(succeeded_for_order(env.url, p["order_uuid"])) == 1
    assert len(env.pis(p)) == 1


def test_live_claim_makes_others_wait(env):
    p = env.payload()
    claim = env.ledger.claim(ChargeRequest.from_payload(p))
    assert claim.state == "new"
    out = env.service.process(p)
    assert out == card_errors.in_progress()
    assert env.pis(p) == []
    env.ledger.release(claim.attempt, "test")
    assert env.service.process(p)["status"] == "succeeded"
    assert len(env.pis(p)) == 1


def test_expired_lease_of_an_owner_elsewhere_is_taken_over(env):
    p = env.payload()
    stale = SqliteAttemptLedger(env.db, lease_seconds=-1)
    assert stale.claim(ChargeRequest.from_payload(p)).state == "new"
    # An owner on another host: its liveness cannot be known, so its lease decides.
    conn = sqlite3.connect(env.db)
    with conn:
        conn.execute("UPDATE card_attempts SET owner = 'elsewhere|1|1|x'")
    conn.close()
    assert env.service.process(p)["status"] == "succeeded"
    assert env.row(p)["attempt_no"] == 2
    assert len(env.pis(p)) == 1


def test_live_call_past_its_lease_is_not_charged_again(env):
    # A call still running in a live process when its lease runs out (a slow Stripe, a long
    # lookup): a second caller used to take the row over and charge beside it.
    p = env.payload()
    slow = SqliteAttemptLedger(env.db, lease_seconds=-1)
    claim = slow.claim(ChargeRequest.from_payload(p))
    assert claim.state == "new"
    second = env.service.process(p)
    outcome, final = env.service._run(claim)  # the slow call gets through
    slow.settle(claim.attempt, outcome)
    assert second == card_errors.in_progress()
    assert final and outcome["status"] == "succeeded"
    assert len(succeeded_for_order(env.url, p["order_uuid"])) == 1
    assert env.service.process(p)["payment_intent_id"] == outcome["payment_intent_id"]


def test_many_orders_concurrently(env):
    payloads = [env.payload(amount=1.0 + i) for i in range(12)]
    results = {}

    def run(chunk):
        for p in chunk:
            results[p["order_uuid"]] = env.service.process(p)["status"]

    threads = [threading.Thread(target=run, args=(payloads[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(results.values()) == {"succeeded"} and len(results) == 12
    for p in payloads:
        assert len(env.pis(p)) == 1


class LostAnswer:
    """Stripe charges, then the answer never arrives (a dropped connection)."""

    def __init__(self, inner):
        self.inner = inner

    def charge(self, request):
        try:
            self.inner.charge(request)
        except GatewayFailure:
            pass  # a decline's answer is lost just the same
        raise GatewayFailure("retry", "APIConnectionError")

    def find_payments(self, metadata):
        return self.inner.find_payments(metadata)


def test_lost_answer_is_settled_from_stripe_not_charged_again(env):
    p = env.payload()
    lossy = CardChargeService(ledger=env.ledger, keys=env.keys, gateway=LostAnswer(env.gateway))
    assert lossy.process(p) == {"v": 1, "status": "retry", "message": card_errors.RETRY}
    row = env.row(p)
    assert row["status"] == "retryable" and row["envelope"] is not None
    out = env.service.process(p)
    assert out["status"] == "succeeded"
    (pi,) = env.pis(p)
    assert out["payment_intent_id"] == pi["id"]


def test_lost_answer_of_a_decline_settles_as_failed(env):
    p = env.payload(VISA_DECLINED)
    lossy = CardChargeService(ledger=env.ledger, keys=env.keys, gateway=LostAnswer(env.gateway))
    assert lossy.process(p)["status"] == "retry"
    out = env.service.process(p)
    assert out["status"] == "failed" and out["message"] == card_errors.DECLINED
    assert len(env.pis(p)) == 1


def test_unreachable_stripe_is_retry_then_succeeds(env, tmp_path):
    p = env.payload()
    down = StripeGateway(SECRET_KEY, api_base="http://127.0.0.1:9", timeout=2)
    offline = CardChargeService(ledger=env.ledger, keys=env.keys, gateway=down)
    assert offline.process(p)["status"] == "retry"
    assert env.row(p)["status"] == "retryable"
    assert env.pis(p) == []
    assert env.service.process(p)["status"] == "succeeded"
    assert len(env.pis(p)) == 1


def test_bad_key_is_a_configuration_error_and_charges_nothing(env):
    p = env.payload()
    bad = CardChargeService(
        ledger=env.ledger, keys=env.keys, gateway=StripeGateway("pk_not_a_secret", api_base=env.url)
    )
    out = bad.process(p)
    assert out["status"] == "config_error"
    assert out["message"] == card_errors.CONFIG_PREFIX + "Stripe refused the secret key."
    assert env.row(p)["status"] == "retryable" and env.pis(p) == []


def test_no_gateway_is_a_configuration_error_and_writes_nothing(env):
    p = env.payload()
    out = CardChargeService(ledger=env.ledger, keys=env.keys, gateway=None).process(p)
    assert out["status"] == "config_error" and env.row(p) is None


def test_undecryptable_card_fails_without_charging(env):
    p = env.payload()
    p["envelope"]["kid"] = "00000000deadbeef"
    out = env.service.process(p)
    assert out["status"] == "failed" and out["message"] == card_errors.UNDECRYPTABLE
    assert env.row(p)["envelope"] is None and env.pis(p) == []


def limited_service(env, max_amount="50"):
    """The env's service with a POS limit per offline card payment."""
    return CardChargeService(
        ledger=env.ledger,
        keys=env.keys,
        gateway=env.gateway,
        limits=RiskLimits(max_amount=Decimal(max_amount)),
    )


def test_per_payment_limit_is_checked_at_processing(env):
    p = env.payload(amount=70)
    limited = limited_service(env)
    out = limited.process(p)
    assert out["status"] == "failed" and out["decline_code"] == "risk_limit"
    assert "over this POS's limit of 50.00 USD" in out["message"]
    assert env.pis(p) == []


def test_amount_of_a_processed_payment_cannot_change(env):
    p = env.payload()
    assert env.service.process(p)["status"] == "succeeded"
    with pytest.raises(CardRequestError, match="amount differs"):
        env.service.process(dict(p, amount=70.0))
    assert len(env.pis(p)) == 1


def test_amount_cannot_change_between_attempts(env):
    p = env.payload()
    down = StripeGateway(SECRET_KEY, api_base="http://127.0.0.1:9", timeout=2)
    CardChargeService(ledger=env.ledger, keys=env.keys, gateway=down).process(p)
    with pytest.raises(CardRequestError, match="amount differs"):
        env.service.process(dict(p, amount=8.0))
    assert env.row(p)["status"] == "retryable"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"v": 2}, "version"),
        ({"order_uuid": ""}, "order_uuid"),
        ({"payment_uuid": None}, "payment_uuid"),
        ({"amount": "abc"}, "amount"),
        ({"amount": -3}, "positive"),
        ({"amount": True}, "amount"),
        ({"currency": "US"}, "currency"),
        ({"envelope": None}, "envelope"),
        ({"envelope": {"v": 1}}, "envelope"),
        ({"config_id": "1"}, "config_id"),
    ],
)
def test_bad_payloads_get_clear_errors_and_write_nothing(env, change, message):
    p = dict(env.payload(), **change)
    with pytest.raises(CardRequestError, match=message):
        env.service.process(p)
    if p.get("order_uuid") and p.get("payment_uuid"):
        assert env.row(p) is None


CHILD = r"""
import json, os, sys
import tests.card_support
from pos_offline_sync.core.card_charge import CardChargeService
from pos_offline_sync.core.stripe_gateway import StripeGateway
from pos_offline_sync.core.card_keys import load_kek
from sandbox.card_keystore import SqliteKeyStore
from sandbox.card_ledger import SqliteAttemptLedger

db, url, key, when, kek_file = sys.argv[1:6]
payload = json.loads(sys.stdin.read())
real = StripeGateway(key, api_base=url)

class Crash:
    def charge(self, request):
        if when == "before":
            os._exit(9)
        real.charge(request)
        os._exit(9)
    def find_payments(self, metadata):
        return real.find_payments(metadata)

CardChargeService(
    ledger=SqliteAttemptLedger(db), keys=SqliteKeyStore(db, kek=load_kek(kek_file), bits=2048),
    gateway=Crash(),
).process(payload)
sys.exit(0)
"""


@pytest.mark.parametrize("when", ["before", "after"])
def test_process_killed_between_ledger_and_answer(env, when):
    p = env.payload()
    child = subprocess.run(  # noqa: S603
        [sys.executable, "-c", CHILD, str(env.db), env.url, SECRET_KEY, when]
        + [str(kek_file_for(env.db))],
        input=json.dumps(p),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == 9, child.stderr
    row = env.row(p)
    # The attempt was on disk before Stripe was called, and the crash left it processing.
    assert row["status"] == "processing" and row["attempt_no"] == 1
    assert len(env.pis(p)) == (1 if when == "after" else 0)
    out = env.service.process(p)
    assert out["status"] == "succeeded"
    (pi,) = env.pis(p)
    assert pi["id"] == out["payment_intent_id"] and pi["status"] == "succeeded"
    assert env.row(p)["envelope"] is None


def test_no_card_data_in_logs_or_database(env, caplog, capfd):
    caplog.set_level("DEBUG")
    for number in (VISA_OK, VISA_DECLINED):
        p = env.payload(number)
        env.service.process(p)
        env.service.process(p)
    down = StripeGateway(SECRET_KEY, api_base="http://127.0.0.1:9", timeout=2)
    CardChargeService(ledger=env.ledger, keys=env.keys, gateway=down).process(env.payload())
    out, err = capfd.readouterr()
    logs = caplog.text + out + err
    assert "stripe" in caplog.text.lower()  # stripe-python did log at DEBUG
    cvc = re.compile(r"cvc\W{0,8}" + CVC)
    for text in (logs, env.db.read_bytes().decode("latin-1")):
        assert VISA_OK not in text and VISA_DECLINED not in text
        assert not cvc.search(text)


def test_envelope_of_a_rotated_key_still_charges(env):
    waiting = env.payload()  # sealed with the current key
    old = env.keys.current_public().kid
    new = env.keys.rotate()
    assert new.kid != old and env.keys.current_public().kid == new.kid
    assert env.keys.kids() == [old, new.kid]
    # A fresh store on the same file (another process) reads both keys back.
    assert SqliteKeyStore(env.db, kek=kek_for(env.db), bits=2048).get_private(old) is not None
    assert env.service.process(waiting)["status"] == "succeeded"
    assert env.service.process(env.payload())["status"] == "succeeded"


def test_resumed_charge_is_settled_before_a_lowered_limit_refuses_it(env):
    # Charged, the answer lost; then the POS's limit was lowered. The next call must find the
    # charge at Stripe (the customer paid), not record a refusal for money already taken.
    p = env.payload(amount=70.0)
    lossy = CardChargeService(ledger=env.ledger, keys=env.keys, gateway=LostAnswer(env.gateway))
    assert lossy.process(p)["status"] == "retry"
    limited = limited_service(env)
    out = limited.process(p)
    assert out["status"] == "succeeded", out
    assert len(env.pis(p)) == 1


def test_order_settled_in_the_back_office_is_not_charged(env):
    p = env.payload()
    asked = []

    def settled(order_uuid, payment_uuid):
        asked.append((order_uuid, payment_uuid))
        return True

    guarded = CardChargeService(
        ledger=env.ledger, keys=env.keys, gateway=env.gateway, order_settled=settled
    )
    out = guarded.process(p)
    assert (out["status"], out["decline_code"]) == ("failed", "order_settled")
    assert out["message"] == card_errors.ORDER_SETTLED
    assert asked == [(p["order_uuid"], p["payment_uuid"])]
    assert env.pis(p) == []
    assert env.row(p)["status"] == "failed" and env.row(p)["envelope"] is None


def test_settle_earlier_finds_a_lost_charge_instead_of_charging_again(env):
    # An earlier attempt charged, its answer lost (outcome unknown): settling it before a new
    # card finds that charge; a declined one is passed over.
    lost = env.payload()
    lossy = CardChargeService(ledger=env.ledger, keys=env.keys, gateway=LostAnswer(env.gateway))
    assert lossy.process(lost)["status"] == "retry"
    declined = env.payload(VISA_DECLINED, order_uuid=lost["order_uuid"])
    assert env.service.process(declined)["status"] == "failed"
    attempts = [env.ledger.get(p["order_uuid"], p["payment_uuid"]) for p in (declined, lost)]
    attempt, outcome = env.service.settle_earlier(attempts)
    assert attempt.payment_uuid == lost["payment_uuid"] and outcome["status"] == "succeeded"
    # The order's PaymentIntents: the lost charge (found, not repeated) and the decline.
    assert sorted(pi["status"] for pi in env.pis(lost)) == ["requires_payment_method", "succeeded"]
    assert (
        env.service.settle_earlier([env.ledger.get(lost["order_uuid"], declined["payment_uuid"])])
        is None
    )
