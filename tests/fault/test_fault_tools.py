"""The fault suite's own tools, held to what they claim: the proxy's faults do what they say to
a real sandbox process, the register removes only what the server confirmed, and the checker
does report a lost order and a double charge when one is made on purpose."""

from __future__ import annotations

import sqlite3
import uuid as uuidlib

import pytest

from pos_offline_sync.core.card_envelope import CardData
from pos_offline_sync.core.card_gateway import GatewayIntent
from pos_offline_sync.core.stripe_gateway import StripeGateway
from tests.card_support import SECRET_KEY, VISA_OK
from tests.fault.harness import CardPlan, OrderPlan, Report, check_orders
from tests.fault.register import SYNC, Register, Store, post
from tests.order_support import plain_order


def _order():
    order_uuid = str(uuidlib.uuid4())
    return plain_order(order_uuid, reference=f"Tools {order_uuid[:8]}")


def _stored(env, order_uuid) -> bool:
    conn = sqlite3.connect(env.db)
    try:
        return (
            conn.execute("SELECT 1 FROM orders WHERE uuid = ?", (order_uuid,)).fetchone()
            is not None
        )
    finally:
        conn.close()


def _sync(url, order, timeout=10):
    return post(url, SYNC, {"v": 1, "config_id": 1, "orders": [order]}, timeout)


def test_a_dropped_answer_comes_after_the_commit(fault_env):
    slot, order = fault_env.slots[0], _order()
    status, body = _sync(slot.proxy.url("drop_response"), order)
    assert (status, body) == (0, None)
    assert _stored(fault_env, order["uuid"])
    status, body = _sync(slot.url, order)
    assert body["result"]["results"][0]["status"] == "exists"


@pytest.mark.parametrize("how", ["refused", "drop_request", "cut_request"])
def test_a_dropped_or_cut_request_stores_nothing(fault_env, how):
    slot, order = fault_env.slots[0], _order()
    url = fault_env.refused_url if how == "refused" else slot.proxy.url(how)
    assert _sync(url, order) == (0, None)
    assert not _stored(fault_env, order["uuid"])
    status, body = _sync(slot.url, order)
    assert body["result"]["results"][0]["status"] == "created"


def test_a_late_answer_outlives_a_short_client_timeout(fault_env):
    slot, order = fault_env.slots[1], _order()
    slot.proxy.delay_s = 0.5
    assert _sync(slot.proxy.url("delay_response"), order, timeout=0.2) == (0, None)
    assert _stored(fault_env, order["uuid"])


def test_the_register_removes_an_order_only_after_its_ok(fault_env, tmp_path):
    slot, order = fault_env.slots[0], _order()
    store = Store(tmp_path / "register.sqlite3")
    store.put(order, "process")

    def dropped(method, payload):
        return post(slot.proxy.url("drop_response"), method, payload, 10)

    Register(store, dropped).sync_round()
    assert store.uuids() == {order["uuid"]}  # stored on the server, but nobody said so here
    assert store.confirmed() == {}
    Register(store, lambda m, p: post(slot.url, m, p, 10)).sync_round()
    assert store.uuids() == set()
    assert store.confirmed()[order["uuid"]]["status"] == "exists"
    assert [status for _, _, status, _ in store.calls()] == [0, 200]


def test_the_checker_reports_an_order_removed_without_being_stored(fault_env, tmp_path):
    order = _order()
    store = Store(tmp_path / "register.sqlite3")
    store.put(order, "process")
    store.confirm([{"uuid": order["uuid"], "ok": True}])  # a register that lies to itself
    report = Report("lost on purpose", [])
    check_orders(fault_env, [OrderPlan(order, "process")], report, store=store)
    assert report.lost == {order["uuid"]}, report.violations


def test_the_checker_reports_a_payment_charged_twice(fault_env):
    order, payment_uuid = _order(), str(uuidlib.uuid4())
    order["payments"] = [
        {
            "uuid": payment_uuid,
            "payment_method_id": 2,
            "payment_method_name": "Card (offline)",
            "amount": 7.0,
            "card": {"brand": "visa", "last4": "4242", "status": "unprocessed"},
        }
    ]
    gateway = StripeGateway(SECRET_KEY, api_base=fault_env.stripe_url)
    card = CardData(number=VISA_OK, exp_month=12, exp_year=2030, cvc="123")
    metadata = {"pos_order_uuid": order["uuid"], "pos_payment_uuid": payment_uuid}
    for attempt in range(2):  # what a protocol that forgets its first PaymentIntent does
        created = gateway.create_intent(
            GatewayIntent(
                card=card,
                amount_minor=700,
                currency="usd",
                idempotency_key=f"twice-{payment_uuid}-{attempt}",
                metadata=metadata,
            )
        )
        assert gateway.confirm_intent(created.payment_intent_id, "k").status == "succeeded"
    fault_env.refresh_pis()
    report = Report("charged twice on purpose", [])
    check_orders(
        fault_env, [OrderPlan(order, "process", {payment_uuid: CardPlan(VISA_OK, "")})], report
    )
    assert report.double_charges == {payment_uuid}, report.violations
