"""Charging offline-captured cards exactly once: the attempt-ledger protocol and the service.

The host (the sandbox over SQLite, Odoo over PostgreSQL) implements `AttemptLedger`; the service
owns the protocol around it:

1. `claim` finds or creates the attempt of (order uuid, payment uuid) and COMMITS it as
   `processing` before anything is sent to Stripe. A second caller while it is live gets
   "busy" (-> `in_progress`); an attempt with an outcome gets "done" (-> that outcome, again).
2. A claim that takes over a row that may already have reached Stripe ("resume": left
   `processing` by a crash, or `retryable` after a connection error) first looks the payment up
   by its metadata and settles from what Stripe has. Only when Stripe has no PaymentIntent for
   the payment is a new charge made, under a new attempt number (a new idempotency key).
3. The outcome (PaymentIntent id, status, decline code, message) is stored with `settle`, which
   purges the envelope. Retryable trouble and configuration errors `release` the row (no
   outcome, envelope kept). The service calls exactly one of settle/release per claim it got
   ("new"/"resume"), also when something unexpected is raised, so a host may hold a lock
   (Odoo: `FOR UPDATE NOWAIT`) from claim until then.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Protocol

from . import card_errors
from .card_envelope import EnvelopeError, open_envelope, parse_envelope
from .card_gateway import CardGateway, GatewayCharge, GatewayFailure, GatewayResult
from .card_keys import KeyStore
from .risk_limits import RiskLimits

_logger = logging.getLogger(__name__)

PROCESSING, RETRYABLE, SUCCEEDED, FAILED = "processing", "retryable", "succeeded", "failed"
FINAL = (SUCCEEDED, FAILED)
APPROVED = "Approved"
STILL_PROCESSING = "Stripe is still processing this card. Try again in a minute."

# Stripe's zero- and three-decimal currencies; everything else has two decimals.
_ZERO_DECIMAL = set("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split())
_THREE_DECIMAL = set("bhd jod kwd omr tnd".split())
_UUID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$")


class CardRequestError(ValueError):
    """A malformed `offline_process_card` payload (the host answers 400 with the message)."""


def to_minor_units(amount, currency: str) -> int:
    cur = currency.lower()
    exp = 0 if cur in _ZERO_DECIMAL else 3 if cur in _THREE_DECIMAL else 2
    try:
        d = Decimal(str(amount))
    except InvalidOperation:
        raise CardRequestError("amount is not a number") from None
    if not d.is_finite():
        raise CardRequestError("amount is not a number")
    return int((d * (Decimal(10) ** exp)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class ChargeRequest:
    """A validated `offline_process_card` payload (CONTRACTS.md §2)."""

    config_id: int | None
    order_uuid: str
    payment_uuid: str
    amount: Decimal
    amount_minor: int
    currency: str  # upper case, as the POS shows it
    reference: str
    envelope: dict | None = field(repr=False, default=None)

    @classmethod
    def from_payload(cls, payload) -> ChargeRequest:
        if not isinstance(payload, dict):
            raise CardRequestError("payload must be a JSON object")
        if payload.get("v") != 1:
            raise CardRequestError("unsupported payload version (expected v: 1)")
        for key in ("order_uuid", "payment_uuid"):
            value = payload.get(key)
            if not isinstance(value, str) or not _UUID.match(value):
                raise CardRequestError(f"{key} is missing or malformed")
        amount = payload.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, (int, float, str)):
            raise CardRequestError("amount is not a number")
        currency = payload.get("currency")
        if not isinstance(currency, str) or not re.fullmatch(r"[A-Za-z]{3}", currency):
            raise CardRequestError("currency must be a 3-letter ISO code")
        minor = to_minor_units(amount, currency)
        if minor <= 0:
            raise CardRequestError("amount must be positive")
        reference = payload.get("reference") or ""
        if not isinstance(reference, str) or len(reference) > 200:
            raise CardRequestError("reference is malformed")
        envelope = payload.get("envelope")
        try:
            parse_envelope(envelope)
        except EnvelopeError as exc:
            message = str(exc)
        else:
            message = None
        if message:
            raise CardRequestError(message)
        config_id = payload.get("config_id")
        if config_id is not None and (
            isinstance(config_id, bool) or not isinstance(config_id, int)
        ):
            raise CardRequestError("config_id must be an integer")
        return cls(
            config_id=config_id,
            order_uuid=payload["order_uuid"],
            payment_uuid=payload["payment_uuid"],
            amount=Decimal(str(amount)),
            amount_minor=minor,
            currency=currency.upper(),
            reference=reference,
            envelope=envelope,
        )


@dataclass
class Attempt:
    """One ledger row. `owner` is the host's opaque lease/lock token."""

    id: int | str
    order_uuid: str
    payment_uuid: str
    attempt_no: int
    status: str
    amount_minor: int
    currency: str
    reference: str = ""
    envelope: dict | None = field(default=None, repr=False)
    payment_intent_id: str | None = None
    decline_code: str | None = None
    message: str | None = None
    brand: str | None = None
    last4: str | None = None
    owner: str | None = None

    @property
    def idempotency_key(self) -> str:
        return f"pos-offline-{self.order_uuid}-{self.payment_uuid}-{self.attempt_no}"

    @property
    def metadata(self) -> dict:
        """What the PaymentIntent carries; the first two keys find it again after a crash."""
        return {
            "pos_order_uuid": self.order_uuid,
            "pos_payment_uuid": self.payment_uuid,
            "pos_attempt_id": str(self.id),
            "pos_attempt_no": str(self.attempt_no),
            "pos_reference": self.reference[:200],
        }

    def outcome(self) -> dict | None:
        """The card outcome (CONTRACTS.md §2) once the attempt has one."""
        if self.status == SUCCEEDED:
            return {
                "v": 1,
                "status": SUCCEEDED,
                "payment_intent_id": self.payment_intent_id,
                "message": self.message or APPROVED,
                "brand": self.brand,
                "last4": self.last4,
            }
        if self.status == FAILED:
            return {
                "v": 1,
                "status": FAILED,
                "payment_intent_id": self.payment_intent_id,
                "decline_code": self.decline_code,
                "message": self.message,
            }
        return None


@dataclass(frozen=True)
class Claim:
    state: str  # "new" | "resume" | "busy" | "done"
    attempt: Attempt | None = None


class AttemptLedger(Protocol):
    def claim(self, request: ChargeRequest) -> Claim:
        """Atomically find or create the attempt of (order_uuid, payment_uuid):
        - none yet: insert it `processing`, attempt_no 1, with the request's envelope, COMMIT,
          -> Claim("new", attempt);
        - succeeded/failed -> Claim("done", attempt);
        - processing by a live caller -> Claim("busy");
        - processing by a dead caller, or retryable: take it over (`processing`, attempt_no + 1,
          commit) -> Claim("resume", attempt)."""

    def settle(self, attempt: Attempt, outcome: dict) -> None:
        """Store the final outcome (status, payment_intent_id, decline_code, message, brand,
        last4), purge the envelope, commit, release the claim."""

    def release(self, attempt: Attempt, message: str) -> None:
        """Back to `retryable` with no outcome and the envelope kept; commit; release."""

    def get(self, order_uuid: str, payment_uuid: str) -> Attempt | None:
        """The attempt of that payment, if any."""


class CardChargeService:
    """Processes offline card payments; safe to call concurrently (also for one payment)."""

    def __init__(
        self,
        *,
        ledger: AttemptLedger,
        keys: KeyStore,
        gateway: CardGateway | None,
        limits: RiskLimits | None = None,
        config_problem: str | None = None,
        order_settled: Callable[[str, str], bool] | None = None,
    ):
        self.ledger = ledger
        self.keys = keys
        self.gateway = gateway
        self.limits = limits or RiskLimits()
        # The host's answer to "is this order already settled in the back office, without
        # waiting for this payment (order uuid, payment uuid)?": it is never charged again.
        self.order_settled = order_settled
        self.config_problem = config_problem if gateway else (config_problem or "no Stripe key")

    def public_key(self) -> dict:
        return self.keys.current_public().as_rpc()

    def outcome(self, order_uuid: str, payment_uuid: str) -> dict | None:
        attempt = self.ledger.get(order_uuid, payment_uuid)
        return attempt.outcome() if attempt else None

    def settle_earlier(self, attempts: list[Attempt]) -> tuple[Attempt, dict] | None:
        """Before a new card is charged for an order: its earlier attempts that may have taken
        the money (charged but not recorded on the order yet, or with an unknown outcome) are
        settled first, through the ledger: a success is read, anything else is resumed (found
        at Stripe by its metadata, or charged with the sealed card the ledger kept). Returns
        (attempt, outcome) for the first outcome that is not `failed` (succeeded: the order is
        paid by it; otherwise still being processed: charge nothing now), or None when each
        one failed."""
        for attempt in attempts:
            if attempt.status == SUCCEEDED:
                outcome = attempt.outcome()
            else:
                outcome = self.process(
                    ChargeRequest(
                        config_id=None,
                        order_uuid=attempt.order_uuid,
                        payment_uuid=attempt.payment_uuid,
                        amount=from_minor_units(attempt.amount_minor, attempt.currency),
                        amount_minor=attempt.amount_minor,
                        currency=attempt.currency,
                        reference=attempt.reference,
                        envelope=attempt.envelope,
                    )
                )
            if outcome["status"] != FAILED:
                return attempt, outcome
        return None

    def process(self, payload) -> dict:
        """`offline_process_card`: the card outcome. Raises CardRequestError for bad payloads."""
        request = (
            payload if isinstance(payload, ChargeRequest) else ChargeRequest.from_payload(payload)
        )
        if self.config_problem:
            # Nothing is written: an unconfigured host must not leave half-made attempts.
            return card_errors.config_error(self.config_problem)
        claim = self.ledger.claim(request)
        if claim.state == "busy":
            return card_errors.in_progress()
        if claim.state == "done":
            if claim.attempt.amount_minor != request.amount_minor:
                raise CardRequestError("amount differs from this payment's processed amount")
            return claim.attempt.outcome()
        if claim.attempt.amount_minor != request.amount_minor:
            self.ledger.release(claim.attempt, "amount differs from the first attempt")
            raise CardRequestError("amount differs from this payment's first processing attempt")
        done = False
        try:
            outcome, final = self._run(claim)
            if final:
                self.ledger.settle(claim.attempt, outcome)
            else:
                self.ledger.release(claim.attempt, outcome["message"])
            done = True
            return outcome
        finally:
            if not done:
                # An unexpected error: the charge may or may not have happened, so the row
                # goes back to retryable and the next claim looks the payment up first.
                self.ledger.release(claim.attempt, "interrupted")

    def _run(self, claim: Claim) -> tuple[dict, bool]:
        attempt = claim.attempt
        try:
            # A resumed attempt may have been charged before its caller died: what Stripe has
            # comes first, before any reason not to charge now.
            if claim.state == "resume":
                found = self._settle_from_stripe(attempt)
                if found is not None:
                    return found
            if self.order_settled and self.order_settled(attempt.order_uuid, attempt.payment_uuid):
                # E.g. imported unpaid from a CSV, then paid by "Charge new card": the card the
                # register still holds for it must not be charged as well.
                return card_errors.failed("order_settled", message=card_errors.ORDER_SETTLED), True
            refusal = self.limits.amount_refusal(
                from_minor_units(attempt.amount_minor, attempt.currency), attempt.currency
            )
            if refusal:
                return card_errors.failed("risk_limit", message=refusal), True
            return _outcome(self._charge(attempt))
        except GatewayFailure as failure:
            outcome = card_errors.outcome_for_failure(failure)
            if failure.payment_intent_id:
                outcome["payment_intent_id"] = failure.payment_intent_id
            if failure.kind == "card":
                outcome.update(_card_named(failure.brand, failure.last4))
            return outcome, failure.kind == "card"
        except EnvelopeError as exc:
            _logger.warning("card attempt %s: %s", attempt.id, exc)
            return card_errors.failed("undecryptable", message=card_errors.UNDECRYPTABLE), True

    def _charge(self, attempt: Attempt) -> GatewayResult:
        # The opened card lives only in this frame.
        card = open_envelope(attempt.envelope, self.keys.get_private)
        try:
            return self.gateway.charge(
                GatewayCharge(
                    card=card,
                    amount_minor=attempt.amount_minor,
                    currency=attempt.currency.lower(),
                    idempotency_key=attempt.idempotency_key,
                    metadata=attempt.metadata,
                )
            )
        finally:
            del card

    def _settle_from_stripe(self, attempt: Attempt):
        """(outcome, final) from what Stripe already has for this payment, or None if nothing."""
        found = self.gateway.find_payments(
            {"pos_order_uuid": attempt.order_uuid, "pos_payment_uuid": attempt.payment_uuid}
        )
        if not found:
            return None
        for status in ("succeeded", "processing"):
            for result in found:
                if result.status == status:
                    return _outcome(result)
        # Every PaymentIntent for it failed or was cancelled: that is the outcome (the card
        # must not be tried again behind the cashier's back).
        return _outcome(found[-1])


def from_minor_units(minor: int, currency: str) -> Decimal:
    """Inverse of to_minor_units."""
    cur = currency.lower()
    exp = 0 if cur in _ZERO_DECIMAL else 3 if cur in _THREE_DECIMAL else 2
    return Decimal(minor) / (Decimal(10) ** exp)


def _outcome(result: GatewayResult) -> tuple[dict, bool]:
    """(card outcome, whether it is final) for a payment Stripe answered about."""
    if result.status == "processing":
        return {"v": 1, "status": "in_progress", "message": STILL_PROCESSING}, False
    if result.status == "succeeded":
        return {
            "v": 1,
            "status": SUCCEEDED,
            "payment_intent_id": result.payment_intent_id,
            "message": APPROVED,
            "brand": result.brand,
            "last4": result.last4,
        }, True
    # We cancel PaymentIntents that ask for 3-D Secure, so "canceled" means the same thing.
    if result.status in ("requires_action", "canceled") and not result.code:
        outcome = card_errors.failed("authentication_required", message=card_errors.REQUIRES_ACTION)
    else:
        outcome = card_errors.failed(result.code, result.decline_code)
    outcome["payment_intent_id"] = result.payment_intent_id
    outcome.update(_card_named(result.brand, result.last4))
    return outcome, True


def _card_named(brand, last4) -> dict:
    """Brand and last 4 of a refused card, for its attempt (only those the gateway knew)."""
    return {key: value for key, value in (("brand", brand), ("last4", last4)) if value}
