"""Offline card risk limits of one POS (same rules and texts as static/src/core/risk_limits.js).

Three limits, each off when 0 or unset:
- `offline_card_max_amount`: the most one offline card payment may be;
- `offline_card_max_total`: the most all unprocessed offline card payments may add up to;
- `offline_card_max_age_hours`: how long a card may wait unprocessed; the Sync icon counts down
  towards it, warns in the last quarter, and no new offline card is taken once it has passed.

The server judges them again on the orders it receives with cards it has not processed yet
(`refusals_at_sync`): a tampered or misconfigured register must not get a card charged that
the POS's limits forbid. Such a card is not charged; the host stores the order unpaid with the
reason (docs/CONTRACTS.md §6).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

FIELDS = ("offline_card_max_amount", "offline_card_max_total", "offline_card_max_age_hours")
WARN_FRACTION = 0.25


def _limit(value) -> Decimal | None:
    if value in (None, "", False):
        return None
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise ValueError("a risk limit must be a number") from None
    if not d.is_finite() or d < 0:
        raise ValueError("a risk limit must be zero (no limit) or a positive number")
    return d if d > 0 else None


def _money(amount, currency):
    return f"{Decimal(str(amount)):.2f} {currency}".strip()


def _parse_time(value) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


@dataclass(frozen=True)
class RiskLimits:
    max_amount: Decimal | None = None
    max_total: Decimal | None = None
    max_age_hours: Decimal | None = None

    @classmethod
    def from_config(cls, config) -> RiskLimits:
        """From a pos_config row / record / dict carrying the three FIELDS."""
        get = config.get if hasattr(config, "get") else lambda k: getattr(config, k, None)
        return cls(*(_limit(get(f)) for f in FIELDS))

    def amount_refusal(self, amount, currency="") -> str | None:
        if self.max_amount is not None and Decimal(str(amount)) > self.max_amount:
            return (
                f"This card payment ({_money(amount, currency)}) is over this POS's limit of "
                f"{_money(self.max_amount, currency)} per offline card payment. "
                "Ask for another payment method."
            )
        return None

    def total_refusal(self, amount, unprocessed_total, currency="") -> str | None:
        after = Decimal(str(unprocessed_total)) + Decimal(str(amount))
        if self.max_total is not None and after > self.max_total:
            return (
                f"Unprocessed offline card payments would reach {_money(after, currency)}, over "
                f"this POS's limit of {_money(self.max_total, currency)}. "
                "Process the waiting cards once online, or ask for another payment method."
            )
        return None

    def age_refusal(self, oldest_unprocessed_at, now=None) -> str | None:
        state = self.age_state(oldest_unprocessed_at, now)
        if state["level"] == "overdue":
            return (
                f"An offline card payment has waited more than {self.max_age_hours:g} hours. "
                "Go online and process the waiting cards before taking another card offline."
            )
        return None

    def overdue_refusal(self, created_at, now=None) -> str | None:
        """The server's age rule, on its own clock: a card that has waited longer than the
        limit since its order was taken is not charged any more."""
        if self.max_age_hours is None:
            return None
        now = _parse_time(now) if now else datetime.now(timezone.utc)
        hours = (now - _parse_time(created_at)).total_seconds() / 3600
        if hours <= float(self.max_age_hours):
            return None
        minutes = int(hours * 60)
        return (
            f"This card payment waited {minutes // 60} h {minutes % 60:02d} min unprocessed, "
            f"over this POS's limit of {self.max_age_hours.normalize():f} hours: it was not "
            "charged. Take the payment again."
        )

    def refusal(
        self, amount, *, unprocessed_total=0, oldest_unprocessed_at=None, currency="", now=None
    ):
        """The first limit this new offline card payment breaks, as a message; None if none."""
        return (
            self.amount_refusal(amount, currency)
            or self.total_refusal(amount, unprocessed_total, currency)
            or self.age_refusal(oldest_unprocessed_at, now)
        )

    def age_state(self, oldest_unprocessed_at, now=None) -> dict:
        """{"level": "none"|"ok"|"warn"|"overdue", "hours_left": float|None} for the Sync icon."""
        if self.max_age_hours is None or not oldest_unprocessed_at:
            return {"level": "none", "hours_left": None}
        now = _parse_time(now) if now else datetime.now(timezone.utc)
        age_h = (now - _parse_time(oldest_unprocessed_at)).total_seconds() / 3600
        left = float(self.max_age_hours) - age_h
        if left <= 0:
            level = "overdue"
        elif left <= float(self.max_age_hours) * WARN_FRACTION:
            level = "warn"
        else:
            level = "ok"
        return {"level": level, "hours_left": left}


def refusals_at_sync(limits: RiskLimits, orders, *, unprocessed, now=None) -> dict:
    """The server's judgment of the offline cards it receives unprocessed, on its own clock.

    `orders`: the validated orders of one call; `unprocessed(order, payment)`: whether the
    host would charge that card payment now (it has no attempt in the ledger and the card is
    still sealed). Returns {(order uuid, payment uuid): reason} for each card over a limit:
    - over `max_amount` on its own;
    - with the cards of the orders taken before its order (created_at), over `max_total`: the
      register held those unprocessed when it took this card, so it should have refused it
      (a card already over a limit itself is not counted: a sound register never held it);
    - waited longer than `max_age_hours` between its order's created_at and `now`.
    Cards of one order (or of orders of the same created_at) do not count against each other:
    the register's total is of the orders already stored, not of the one being paid.
    """
    now = _parse_time(now) if now else datetime.now(timezone.utc)
    cards = []
    for position, order in enumerate(orders):
        for payment in order["payments"]:
            if payment.get("card") and unprocessed(order, payment):
                cards.append((_parse_time(order["created_at"]), position, order, payment))
    cards.sort(key=lambda card: (card[0], card[1]))
    refusals = {}
    counted = Decimal(0)  # cards of the orders taken strictly before the current time
    pending = Decimal(0)  # cards of the orders at the current time, counted once it has passed
    current = None
    for when, _, order, payment in cards:
        if when != current:
            counted, pending, current = counted + pending, Decimal(0), when
        currency = order.get("currency") or ""
        amount = Decimal(str(payment["amount"]))
        over = limits.amount_refusal(amount, currency) or limits.total_refusal(
            amount, counted, currency
        )
        reason = over or limits.overdue_refusal(when, now)
        if reason:
            refusals[(order["uuid"], payment["uuid"])] = reason
        if not over:
            pending += amount
    return refusals
