"""Offline card risk limits (the same rules as risk_limits.js, which has its own node tests)."""

from decimal import Decimal

import pytest

# isort: off
import tests.card_support  # noqa: F401 - first: makes the core importable without Odoo
from pos_offline_sync.core.risk_limits import RiskLimits
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
