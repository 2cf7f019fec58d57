"""What the charge service asks of a card processor, and what it gets back.

The service speaks only these types; `stripe_gateway.py` is the one implementation and the one
place that knows Stripe. Hosts (and tests) may put another processor behind the same protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from .card_envelope import CardData


@dataclass(frozen=True)
class GatewayCharge:
    """One charge attempt as sent to the processor."""

    card: CardData
    amount_minor: int
    currency: str  # ISO 4217, lower case
    idempotency_key: str
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class GatewayResult:
    """The processor's answer for one payment intent (never any card data beyond brand/last 4)."""

    payment_intent_id: str | None
    status: str  # succeeded | failed | requires_action | processing | canceled
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
    def charge(self, request: GatewayCharge) -> GatewayResult:
        """Create and confirm one payment; raises GatewayFailure when there is no clean answer."""

    def find_payments(self, metadata: dict) -> list[GatewayResult]:
        """Every payment whose metadata contains all of `metadata` (settles unknown outcomes)."""
