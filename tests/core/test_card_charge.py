"""The charge service against a real localstripe, a real SQLite ledger and real key pairs.

Every "exactly once" case counts the PaymentIntents localstripe holds for the order.
"""

import json
import re
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

# isort: off
from tests.card_support import (
    ROOT,
    SECRET_KEY,
    clear_stripe_delays,
    delay_stripe,
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
    OrderStanding,
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
    yield Env(tmp_path / "cards.sqlite3", stripe_url)
    clear_stripe_delays(stripe_url)  # a rule a test did not use up must not slow the next


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


def test_live_lease_on_the_order_makes_others_wait(env):
    p = env.payload()
    lease = env.ledger.lock_order(p["order_uuid"])
    assert lease is not None
    # Another payment of the same order waits too: the order is the unit of exclusion.
    other = env.payload(order_uuid=p["order_uuid"])
    assert env.service.process(p) == card_errors.in_progress()
    assert env.service.process(other) == card_errors.in_progress()
    assert env.pis(p) == [] and env.row(p) is None
    env.ledger.unlock_order(lease)
    assert env.service.process(p)["status"] == "succeeded"
    assert len(env.pis(p)) == 1


def test_expired_lease_of_an_owner_elsewhere_is_taken_over(env):
    p = env.payload()
    stale = SqliteAttemptLedger(env.db, lease_seconds=-1)
    lease = stale.lock_order(p["order_uuid"])
    claim = stale.claim(ChargeRequest.from_payload(p), lease)
    assert claim.state == "new"
    # An owner on another host: its liveness cannot be known, so its lease decides.
    conn = sqlite3.connect(env.db)
    with conn:
        conn.execute("UPDATE card_order_leases SET owner = 'elsewhere|1|1|x'")
    conn.close()
    assert env.service.process(p)["status"] == "succeeded"
    assert env.row(p)["attempt_no"] == 2
    assert len(env.pis(p)) == 1


def test_a_caller_that_lost_its_lease_cannot_record_a_payment_intent(env):
    # The fence: once another caller holds the order, the first one's PaymentIntent is never
    # recorded (so never confirmed), whatever Stripe answered it.
    p = env.payload()
    slow = SqliteAttemptLedger(env.db, lease_seconds=-1)
    lease = slow.lock_order(p["order_uuid"])
    claim = slow.claim(ChargeRequest.from_payload(p), lease)
    taker = env.ledger.lock_order(p["order_uuid"])
    assert taker is not None and taker.owner != lease.owner
    assert slow.record_intent(claim.attempt, lease, "pi_lost") is None
    assert env.row(p)["payment_intent_id"] is None and env.row(p)["envelope"] is not None
    assert env.ledger.record_intent(claim.attempt, taker, "pi_kept") == "pi_kept"
    # Write-once: a second id is never recorded beside the first.
    assert env.ledger.record_intent(claim.attempt, taker, "pi_other") == "pi_kept"
    assert env.row(p)["envelope"] is None


def test_slow_confirm_past_the_lease_is_charged_once(env):
    # Stripe holds the confirm longer than the lease: a second caller takes the order over,
    # finds the recorded PaymentIntent and confirms or reads that one; nothing else is made.
    p = env.payload()
    delay_stripe(env.url, r"/v1/payment_intents/[^/]+/confirm$", ms=1500)
    slow = CardChargeService(
        ledger=SqliteAttemptLedger(env.db, lease_seconds=0.3), keys=env.keys, gateway=env.gateway
    )
    first = {}
    thread = threading.Thread(target=lambda: first.update(slow.process(p)))
    thread.start()
    time.sleep(0.8)
    second = env.service.process(p)
    thread.join()
    assert second["status"] == "succeeded" and first["status"] == "succeeded"
    assert first["payment_intent_id"] == second["payment_intent_id"]
    assert len(succeeded_for_order(env.url, p["order_uuid"])) == 1
    assert len(env.pis(p)) == 1


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
    """Stripe does what it is asked, then the answer never arrives (a dropped connection), at
    the step named: "create" (the unconfirmed PaymentIntent) or "confirm"."""

    def __init__(self, inner, step):
        self.inner, self.step = inner, step

    def create_intent(self, request):
        result = self.inner.create_intent(request)
        if self.step == "create":
            raise GatewayFailure("retry", "APIConnectionError")
        return result

    def confirm_intent(self, payment_intent_id, key):
        try:
            result = self.inner.confirm_intent(payment_intent_id, key)
        except GatewayFailure:
            result = None  # a decline's answer is lost just the same
        if self.step == "confirm":
            raise GatewayFailure("retry", "APIConnectionError")
        return result

    def cancel_intent(self, payment_intent_id):
        self.inner.cancel_intent(payment_intent_id)


@pytest.mark.parametrize("step", ["create", "confirm"])
def test_lost_answer_is_never_charged_again(env, step):
    p = env.payload()
    lossy = CardChargeService(
        ledger=env.ledger, keys=env.keys, gateway=LostAnswer(env.gateway, step)
    )
    assert lossy.process(p) == {"v": 1, "status": "retry", "message": card_errors.RETRY} | (
        {"payment_intent_id": env.row(p)["payment_intent_id"]} if step == "confirm" else {}
    )
    row = env.row(p)
    assert row["status"] == "retryable"
    out = env.service.process(p)
    assert out["status"] == "succeeded"
    assert [pi["id"] for pi in succeeded_for_order(env.url, p["order_uuid"])] == [
        out["payment_intent_id"]
    ]
    if step == "confirm":
        # The recorded PaymentIntent was re-read, not made again.
        assert out["payment_intent_id"] == row["payment_intent_id"] and len(env.pis(p)) == 1


def test_lost_answer_of_a_decline_settles_as_failed(env):
    p = env.payload(VISA_DECLINED)
    lossy = CardChargeService(
        ledger=env.ledger, keys=env.keys, gateway=LostAnswer(env.gateway, "confirm")
    )
    assert lossy.process(p)["status"] == "retry"
    out = env.service.process(p)
    assert out["status"] == "failed" and out["decline_code"] == "card_declined"
    assert len(env.pis(p)) == 1


def test_stripe_answering_later_than_the_timeout_charges_once(env):
    # Numbered case 3: PaymentIntent creation answered 4 s late to a client that waits 1 s.
    # Stripe still processes each request the client gave up on. Every "Try again" used to
    # make and confirm one more PaymentIntent under a new key (3 charges for one payment).
    p = env.payload()
    impatient = CardChargeService(
        ledger=env.ledger,
        keys=env.keys,
        gateway=StripeGateway(SECRET_KEY, api_base=env.url, timeout=1),
    )
    delay_stripe(env.url, r"^/v1/payment_intents$", ms=4000, count=3)
    for _ in range(3):
        assert impatient.process(p)["status"] == "retry"
    out = impatient.process(p)  # Stripe is fast again
    assert out["status"] == "succeeded"
    time.sleep(4.5)  # every late request has landed at Stripe by now
    assert [pi["id"] for pi in succeeded_for_order(env.url, p["order_uuid"])] == [
        out["payment_intent_id"]
    ]
    # The late ones exist, unconfirmed: they cannot take money, and nobody confirms them.
    late = [pi for pi in env.pis(p) if pi["id"] != out["payment_intent_id"]]
    assert len(late) == 3 and {pi["status"] for pi in late} == {"requires_confirmation"}


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
    def create_intent(self, request):
        if when == "before_create":
            os._exit(9)
        result = real.create_intent(request)
        if when == "after_create":
            os._exit(9)
        return result
    def confirm_intent(self, pi_id, key):
        if when == "before_confirm":
            os._exit(9)
        real.confirm_intent(pi_id, key)
        os._exit(9)
    def cancel_intent(self, pi_id):
        real.cancel_intent(pi_id)

CardChargeService(
    ledger=SqliteAttemptLedger(db), keys=SqliteKeyStore(db, kek=load_kek(kek_file), bits=2048),
    gateway=Crash(),
).process(payload)
sys.exit(0)
"""


@pytest.mark.parametrize(
    "when, recorded, charged",
    [
        ("before_create", False, False),
        ("after_create", False, False),
        ("before_confirm", True, False),
        ("after_confirm", True, True),
    ],
)
def test_process_killed_between_any_two_steps(env, when, recorded, charged):
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
    assert (row["payment_intent_id"] is not None) == recorded
    assert len(succeeded_for_order(env.url, p["order_uuid"])) == (1 if charged else 0)
    # The dead process's lease is taken over at once (its pid is gone), not after 2 minutes.
    out = env.service.process(p)
    assert out["status"] == "succeeded"
    (pi,) = succeeded_for_order(env.url, p["order_uuid"])
    assert pi["id"] == out["payment_intent_id"]
    if recorded:
        assert pi["id"] == row["payment_intent_id"]
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
    # Charged, the answer lost; then the POS's limit was lowered. The next call must read the
    # charge from Stripe (the customer paid), not record a refusal for money already taken.
    p = env.payload(amount=70.0)
    lossy = CardChargeService(
        ledger=env.ledger, keys=env.keys, gateway=LostAnswer(env.gateway, "confirm")
    )
    assert lossy.process(p)["status"] == "retry"
    limited = limited_service(env)
    out = limited.process(p)
    assert out["status"] == "succeeded", out
    assert len(env.pis(p)) == 1


def standing_service(env, total="7.00", paid="0", recorded=()):
    """The env's service for a host that holds the order (total, money taken, recorded ids)."""
    standing = OrderStanding(
        total_minor=int(Decimal(total) * 100),
        paid_minor=int(Decimal(paid) * 100),
        recorded_intents=frozenset(recorded),
    )
    return CardChargeService(
        ledger=env.ledger,
        keys=env.keys,
        gateway=env.gateway,
        order_standing=lambda order_uuid: standing,
    )


def test_order_settled_in_the_back_office_is_not_charged(env):
    p = env.payload()
    out = standing_service(env, paid="7.00").process(p)
    assert (out["status"], out["decline_code"]) == ("failed", "order_settled")
    assert out["message"] == card_errors.ORDER_SETTLED
    assert env.pis(p) == []
    assert env.row(p)["status"] == "failed" and env.row(p)["envelope"] is None


def test_a_card_over_what_the_order_still_owes_is_not_charged(env):
    p = env.payload(amount=7.0)
    out = standing_service(env, total="7.00", paid="5.00").process(p)
    assert (out["status"], out["decline_code"]) == ("failed", "over_due")
    assert "2.00 USD" in out["message"] and env.pis(p) == []
    # The back office's amount is refused outright (the page sent it).
    with pytest.raises(CardRequestError, match="more than the 2.00 USD still due"):
        standing_service(env, total="7.00", paid="5.00").process(
            env.payload(amount=7.0), back_office=True
        )


def test_split_card_payments_of_one_order_are_each_charged(env):
    first = env.payload(amount=4.0)
    second = env.payload(amount=3.0, order_uuid=first["order_uuid"])
    service = standing_service(env, total="7.00")
    assert service.process(first)["status"] == "succeeded"
    assert service.process(second)["status"] == "succeeded"
    third = env.payload(amount=1.0, order_uuid=first["order_uuid"])
    assert service.process(third)["decline_code"] == "order_settled"
    assert len(succeeded_for_order(env.url, first["order_uuid"])) == 2


def test_a_charge_not_yet_recorded_on_the_order_counts_as_paid(env):
    # The register charged the card (the ledger holds it), the order is not synced yet: a
    # back-office card for the same order is not charged.
    register = env.payload()
    assert env.service.process(register)["status"] == "succeeded"
    new_card = env.payload(order_uuid=register["order_uuid"])
    out = standing_service(env).process(new_card, back_office=True)
    assert out["decline_code"] == "order_settled"
    assert len(succeeded_for_order(env.url, register["order_uuid"])) == 1
    # Once recorded on the order, the standing says paid itself; still nothing more.
    recorded = env.service.outcome(register["order_uuid"], register["payment_uuid"])
    again = standing_service(env, paid="7.00", recorded=[recorded["payment_intent_id"]])
    assert again.process(env.payload(order_uuid=register["order_uuid"]))["status"] == "failed"


def test_an_earlier_card_with_an_unknown_outcome_is_settled_before_a_new_one(env):
    # The register's charge lost its answer (PaymentIntent recorded, outcome unknown): the
    # back office's new card first confirms or reads that one, and is not charged.
    lost = env.payload()
    lossy = CardChargeService(
        ledger=env.ledger, keys=env.keys, gateway=LostAnswer(env.gateway, "confirm")
    )
    assert lossy.process(lost)["status"] == "retry"
    new_card = env.payload(order_uuid=lost["order_uuid"])
    out = standing_service(env).process(new_card, back_office=True)
    assert out["decline_code"] == "order_settled"
    assert env.row(lost)["status"] == "succeeded"
    assert len(succeeded_for_order(env.url, lost["order_uuid"])) == 1


def test_an_earlier_card_still_unknown_blocks_a_new_one(env):
    lost = env.payload()
    lossy = CardChargeService(
        ledger=env.ledger, keys=env.keys, gateway=LostAnswer(env.gateway, "confirm")
    )
    assert lossy.process(lost)["status"] == "retry"
    down = StripeGateway(SECRET_KEY, api_base="http://127.0.0.1:9", timeout=2)
    blocked = CardChargeService(
        ledger=env.ledger,
        keys=env.keys,
        gateway=down,
        order_standing=lambda _o: OrderStanding(total_minor=700, paid_minor=0),
    )
    new_card = env.payload(order_uuid=lost["order_uuid"])
    out = blocked.process(new_card, back_office=True)
    assert out["status"] == "in_progress" and out["message"] == card_errors.EARLIER_PENDING
    assert env.row(new_card) is None


@pytest.mark.parametrize("register_first", [True, False])
def test_two_actors_on_one_order_at_the_same_moment_charge_once(env, register_first):
    # Numbered cases 1 and 2: two back-office windows, or the register and the back office,
    # charge different cards for one unpaid order at the same moment, each its own payment.
    delay_stripe(env.url, r"^/v1/payment_intents$", ms=300, count=6)
    service = standing_service(env)
    order_uuid = str(uuid.uuid4())
    payloads = [env.payload(order_uuid=order_uuid) for _ in range(6)]
    barrier = threading.Barrier(len(payloads))
    results = []

    def run(i, p):
        barrier.wait()
        results.append(service.process(p, back_office=(i % 2 == 0) != register_first))

    threads = [threading.Thread(target=run, args=(i, p)) for i, p in enumerate(payloads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(succeeded_for_order(env.url, order_uuid)) == 1
    statuses = sorted(r["status"] for r in results)
    assert statuses.count("succeeded") == 1, statuses
    clear_stripe_delays(env.url)


# -- attempts left by the earlier protocol (a PaymentIntent created and confirmed at once under
# an attempt-numbered key, its id never recorded) ------------------------------------------------
OLD_SCHEMA = """
CREATE TABLE card_attempts (
    id INTEGER PRIMARY KEY, order_uuid TEXT NOT NULL, payment_uuid TEXT NOT NULL,
    attempt_no INTEGER NOT NULL DEFAULT 1, status TEXT NOT NULL, amount_minor INTEGER NOT NULL,
    currency TEXT NOT NULL, reference TEXT NOT NULL DEFAULT '', config_id INTEGER,
    origin TEXT NOT NULL DEFAULT 'register', envelope TEXT, payment_intent_id TEXT,
    decline_code TEXT, message TEXT, brand TEXT, last4 TEXT, owner TEXT, lease_until REAL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, UNIQUE (order_uuid, payment_uuid)
);
"""


def _old_ledger_with(env, payload, status="retryable"):
    """A ledger file of the earlier protocol holding one attempt without an outcome."""
    conn = sqlite3.connect(env.db)
    with conn:
        conn.execute("DROP TABLE IF EXISTS card_attempts")
        conn.execute("DROP TABLE IF EXISTS card_order_leases")
        conn.executescript(OLD_SCHEMA)
        conn.execute(
            "INSERT INTO card_attempts (order_uuid, payment_uuid, attempt_no, status, "
            "amount_minor, currency, envelope, created_at, updated_at) "
            "VALUES (?, ?, 1, ?, 700, 'USD', ?, datetime('now'), datetime('now'))",
            (
                payload["order_uuid"],
                payload["payment_uuid"],
                status,
                json.dumps(payload["envelope"]),
            ),
        )
    conn.close()
    env.ledger = SqliteAttemptLedger(env.db)  # migrates
    env.service = CardChargeService(ledger=env.ledger, keys=env.keys, gateway=env.gateway)


def _old_protocol_charge(env, payload):
    """What the earlier code did: one PaymentIntent created and confirmed at once."""
    from pos_offline_sync.core.card_envelope import open_envelope
    from pos_offline_sync.core.card_gateway import GatewayIntent

    created = env.gateway.create_intent(
        GatewayIntent(
            card=open_envelope(payload["envelope"], env.keys.get_private),
            amount_minor=700,
            currency="usd",
            idempotency_key=f"pos-offline-{payload['order_uuid']}-{payload['payment_uuid']}-1",
            metadata={
                "pos_order_uuid": payload["order_uuid"],
                "pos_payment_uuid": payload["payment_uuid"],
            },
        )
    )
    return env.gateway.confirm_intent(created.payment_intent_id, "old-confirm").payment_intent_id


@pytest.mark.parametrize("status", ["retryable", "processing"])
def test_earlier_protocol_charge_is_found_not_made_again(env, status):
    p = env.payload()
    charged = _old_protocol_charge(env, p)
    _old_ledger_with(env, p, status)
    assert env.row(p)["legacy_unknown"] == 1
    out = env.service.process(p)
    assert out["status"] == "succeeded" and out["payment_intent_id"] == charged
    assert [pi["id"] for pi in succeeded_for_order(env.url, p["order_uuid"])] == [charged]
    assert env.row(p)["legacy_unknown"] == 0 and env.row(p)["envelope"] is None


def test_earlier_protocol_attempt_without_a_charge_is_charged_once(env):
    p = env.payload()
    _old_ledger_with(env, p)
    out = env.service.process(p)
    assert out["status"] == "succeeded"
    assert len(succeeded_for_order(env.url, p["order_uuid"])) == 1
    assert env.service.process(p) == out


def test_earlier_protocol_charge_is_found_before_a_new_card_is_charged(env):
    register = env.payload()
    _old_protocol_charge(env, register)
    _old_ledger_with(env, register)
    new_card = env.payload(order_uuid=register["order_uuid"])
    out = standing_service(env).process(new_card, back_office=True)
    assert out["decline_code"] == "order_settled"
    assert len(succeeded_for_order(env.url, register["order_uuid"])) == 1


class NoSearch:
    """A Stripe account where search is not available (it answers an error)."""

    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def find_intent(self, metadata, created_after):
        raise GatewayFailure("config", "Stripe rejected the request (search).")


def test_earlier_protocol_attempt_is_not_charged_blind_when_stripe_cannot_be_searched(env):
    p = env.payload()
    _old_ledger_with(env, p)
    blind = CardChargeService(ledger=env.ledger, keys=env.keys, gateway=NoSearch(env.gateway))
    out = blind.process(p)
    assert out["status"] == "config_error"
    assert env.pis(p) == [] and env.row(p)["legacy_unknown"] == 1


def test_a_card_that_waited_past_the_age_limit_is_not_charged_at_process(env):
    # The register's own age check runs on its clock; the server judges it on its own.
    old = (datetime.now(timezone.utc) - timedelta(hours=30)).isoformat()
    aged = CardChargeService(
        ledger=env.ledger,
        keys=env.keys,
        gateway=env.gateway,
        limits=RiskLimits(max_age_hours=Decimal("24")),
    )
    p = dict(env.payload(), created_at=old)
    out = aged.process(p)
    assert (out["status"], out["decline_code"]) == ("failed", "risk_limit")
    assert "over this POS's limit of 24 hours" in out["message"]
    assert env.pis(p) == []
    fresh = dict(env.payload(), created_at=datetime.now(timezone.utc).isoformat())
    assert aged.process(fresh)["status"] == "succeeded"


def test_a_created_at_from_the_future_is_refused(env):
    ahead = (datetime.now(timezone.utc) + timedelta(hours=2)).isoformat()
    with pytest.raises(CardRequestError, match="after the server's time"):
        env.service.process(dict(env.payload(), created_at=ahead))
