"""What the charge service asks of a card processor, and what it gets back.

The service speaks only these types; `stripe_gateway.py` is the one implementation and the one
place that knows Stripe. Hosts (and tests) may put another processor behind the same protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from .card_envelope import CardData


@dataclass(frozen=True)
class GatewayIntent:
    """One card payment as sent to the processor: created unconfirmed, confirmed by its id."""

    card: CardData
    amount_minor: int
    currency: str  # ISO 4217, lower case
    idempotency_key: str
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class GatewayResult:
    """The processor's answer for one payment intent (never any card data beyond brand/last 4)."""

    payment_intent_id: str | None
    # succeeded | failed | requires_action | processing | canceled | unconfirmed (created, not
    # confirmed yet: it cannot take money until someone confirms that very id)
    status: str
    brand: str | None = None
    last4: str | None = None
    code: str | None = None
    decline_code: str | None = None
    metadata: dict = field(default_factory=dict)


class GatewayFailure(Exception):
    """A call that did not give a usable answer, classified by what it means for us.

    kind: "card" (the card was refused: final), "retry" (rate limit, connection, server error:
    unknown outcome, ask again later), "config" (authentication, permission, invalid request:
    nothing more may be charged until an administrator fixes it).
    The message is ours or Stripe's generic text; it never carries card data.
    """

    KINDS = ("card", "retry", "config")

    def __init__(self, kind, message, *, code=None, decline_code=None, payment_intent_id=None):
        if kind not in self.KINDS:
            raise ValueError(f"unknown gateway failure kind {kind!r}")
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.code = code
        self.decline_code = decline_code
        self.payment_intent_id = payment_intent_id
        # The refused card's brand and last 4, when the gateway knows them: a declined attempt
        # still says which card it was.
        self.brand = None
        self.last4 = None


class CardGateway(Protocol):
    """Two steps, so that a payment is charged at most once whatever is retried: `create_intent`
    makes a payment that cannot take money (retried with the same idempotency key when its
    answer is lost; an extra one made by a lost answer is never confirmed); the caller records
    its id; `confirm_intent` confirms that id, or reads its outcome when it was confirmed
    already. No recovery ever lists or searches the account's payments."""

    def create_intent(self, request: GatewayIntent) -> GatewayResult:
        """A new unconfirmed payment (status `unconfirmed`); raises GatewayFailure."""

    def confirm_intent(self, payment_intent_id: str, idempotency_key: str) -> GatewayResult:
        """Confirm that payment if it waits for confirmation, else read its outcome."""

    def cancel_intent(self, payment_intent_id: str) -> None:
        """Cancel an unconfirmed payment nobody will confirm (best effort, never raises)."""

    def find_intent(self, metadata: dict, created_after: int) -> GatewayResult | None:
        """Only for an attempt of the earlier protocol left with an unknown outcome (its
        PaymentIntent was created and confirmed at once, under an attempt-numbered key, and
        its id never recorded): the newest payment whose metadata holds `metadata`, created
        after `created_after` (Unix time), through Stripe's search; None if there is none."""
