"""Offline card risk limits (the same rules as risk_limits.js, which has its own node tests)."""

from decimal import Decimal

import pytest

# isort: off
import tests.card_support  # noqa: F401 - first: makes the core importable without Odoo
from pos_offline_sync.core.risk_limits import RiskLimits, refusals_at_sync
# isort: on

NOW = "2026-11-27T12:00:00Z"
LIMITS = RiskLimits.from_config(
    {
        "offline_card_max_amount": 100,
        "offline_card_max_total": 250,
        "offline_card_max_age_hours": 24,
    }
)


def test_from_config_reads_the_three_fields_and_zero_means_no_limit():
    assert LIMITS == RiskLimits(Decimal(100), Decimal(250), Decimal(24))
    assert RiskLimits.from_config({"offline_card_max_amount": 0}) == RiskLimits()
    with pytest.raises(ValueError, match="positive"):
        RiskLimits.from_config({"offline_card_max_amount": -1})
    with pytest.raises(ValueError, match="number"):
        RiskLimits.from_config({"offline_card_max_total": "lots"})


def test_per_payment_limit():
    assert LIMITS.amount_refusal(100, "USD") is None
    msg = LIMITS.amount_refusal(100.01, "USD")
    assert msg == (
        "This card payment (100.01 USD) is over this POS's limit of 100.00 USD per offline card "
        "payment. Ask for another payment method."
    )


def test_total_of_unprocessed_cards_limit():
    assert LIMITS.total_refusal(50, 200, "USD") is None
    msg = LIMITS.total_refusal(60, 200, "USD")
    assert msg.startswith("Unprocessed offline card payments would reach 260.00 USD, over this ")
    assert "limit of 250.00 USD" in msg


def test_age_counts_down_warns_then_refuses():
    assert LIMITS.age_state(None, NOW) == {"level": "none", "hours_left": None}
    ok = LIMITS.age_state("2026-11-27T00:00:00Z", NOW)
    assert ok == {"level": "ok", "hours_left": 12.0}
    warn = LIMITS.age_state("2026-11-26T14:00:00Z", NOW)
    assert warn["level"] == "warn" and warn["hours_left"] == pytest.approx(2.0)
    over = LIMITS.age_state("2026-11-26T11:00:00Z", NOW)
    assert over["level"] == "overdue" and over["hours_left"] < 0
    assert LIMITS.age_refusal("2026-11-26T14:00:00Z", NOW) is None
    assert LIMITS.age_refusal("2026-11-26T11:00:00Z", NOW) == (
        "An offline card payment has waited more than 24 hours. Go online and process the "
        "waiting cards before taking another card offline."
    )


def test_refusal_reports_the_first_broken_limit():
    assert LIMITS.refusal(10, unprocessed_total=0, currency="USD", now=NOW) is None
    assert "per offline card payment" in LIMITS.refusal(500, currency="USD", now=NOW)
    assert "would reach" in LIMITS.refusal(90, unprocessed_total=200, currency="USD", now=NOW)
    assert "waited more than" in LIMITS.refusal(
        1, oldest_unprocessed_at="2026-11-25T00:00:00Z", currency="USD", now=NOW
    )
    assert RiskLimits().refusal(10**9, unprocessed_total=10**9, now=NOW) is None


# -- the server's judgment at sync (issue 8) ---------------------------------------------------
def _card_order(uuid, created_at, *amounts):
    return {
        "uuid": uuid,
        "created_at": created_at,
        "currency": "USD",
        "payments": [
            {"uuid": f"{uuid}-{i}", "amount": amount, "card": {"status": "unprocessed"}}
            for i, amount in enumerate(amounts, start=1)
        ]
        + [{"uuid": f"{uuid}-cash", "amount": 1000, "card": None}],
    }


def _judge(limits, orders, unprocessed=lambda order, payment: True, now=NOW):
    return refusals_at_sync(limits, orders, unprocessed=unprocessed, now=now)


def test_sync_judges_each_card_against_the_per_payment_limit():
    orders = [_card_order("a", "2026-11-27T11:00:00Z", 100), _card_order("b", NOW, 100.01)]
    refusals = _judge(RiskLimits(max_amount=Decimal(100)), orders)
    assert list(refusals) == [("b", "b-1")]  # at the limit passes, past it does not
    assert refusals[("b", "b-1")].startswith("This card payment (100.01 USD) is over")
    # Cash never counts, nor does a card the host has processed already.
    assert _judge(RiskLimits(max_amount=Decimal(100)), orders, lambda o, p: o["uuid"] == "a") == {}


def test_sync_counts_the_cards_of_earlier_orders_against_the_total():
    limits = RiskLimits(max_total=Decimal(110))
    # Sent out of order: judged in the order the register took them (created_at).
    late = _card_order("late", "2026-11-27T11:30:00Z", 50)
    early = _card_order("early", "2026-11-27T11:00:00Z", 60)
    assert _judge(limits, [late, early]) == {}  # 60 + 50 = 110: at the limit
    refusals = _judge(RiskLimits(max_total=Decimal(109)), [late, early])
    assert list(refusals) == [("late", "late-1")]
    assert "would reach 110.00 USD" in refusals[("late", "late-1")]


def test_sync_total_leaves_out_the_same_order_and_refused_cards():
    limits = RiskLimits(max_amount=Decimal(100), max_total=Decimal(100))
    # Two cards of one order: the register counted neither against the other.
    assert _judge(limits, [_card_order("a", NOW, 60, 40)]) == {}
    # Two orders taken at the same instant: neither held the other unprocessed.
    same = [_card_order("a", NOW, 60), _card_order("b", NOW, 60)]
    assert _judge(limits, same) == {}
    # A card over a limit itself is never charged: it does not use up the total.
    orders = [_card_order("big", "2026-11-27T10:00:00Z", 500), _card_order("b", NOW, 90)]
    assert list(_judge(limits, orders)) == [("big", "big-1")]


def test_sync_age_is_judged_on_the_server_clock():
    limits = RiskLimits(max_age_hours=Decimal(24))
    young = _card_order("young", "2026-11-26T12:01:00Z", 5)  # 23 h 59 min before NOW
    at = _card_order("at", "2026-11-26T12:00:00Z", 5)  # exactly 24 h
    old = _card_order("old", "2026-11-26T11:59:00Z", 5)  # 24 h 1 min
    refusals = _judge(limits, [young, at, old])
    assert list(refusals) == [("old", "old-1")]
    assert refusals[("old", "old-1")] == (
        "This card payment waited 24 h 01 min unprocessed, over this POS's limit of 24 hours: "
        "it was not charged. Take the payment again."
    )
    # The same orders a day later on the server's clock: all three are over.
    assert len(_judge(limits, [young, at, old], now="2026-11-28T12:00:00Z")) == 3


def test_sync_without_limits_refuses_nothing():
    orders = [_card_order("a", "2020-01-01T00:00:00Z", 10**9)]
    assert _judge(RiskLimits(), orders) == {}
