"""Charging offline-captured cards: at most once per order's amount due.

The host (the sandbox over SQLite, Odoo over PostgreSQL) implements `AttemptLedger`; the service
owns the protocol around it, the same for every path that may charge (register Process, the
sync's processing of a card never processed, the back office's Charge new card):

1. The ORDER is the unit of exclusion: `lock_order` takes a committed lease on the order uuid
   (a second caller is told "in progress"). Under it, the order's other cards that may have
   taken money are settled first, and what the order still owes is re-read from committed
   data (the host's `order_standing`), so a second card never pays what a first one paid.
2. Each card payment (order uuid, payment uuid) has one ledger row and ONE PaymentIntent:
   created unconfirmed with an idempotency key derived from the payment (never from an attempt
   counter), its id recorded write-once in the ledger (only while the lease still holds), and
   only then confirmed by that id. A retry, a crash, a client timeout or a takeover after an
   expired lease can only confirm or re-read that same PaymentIntent, which Stripe charges at
   most once; a PaymentIntent whose creation answer was lost is never confirmed. The card's
   envelope is purged once its PaymentIntent is recorded: confirming needs no card data.
3. The lease is for liveness, not safety: what makes a takeover safe is the recorded id. No
   database transaction is held open across a Stripe call, and recovery never lists or
   searches the account's payments.
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
from .card_gateway import CardGateway, GatewayFailure, GatewayIntent, GatewayResult
from .card_keys import KeyStore
from .order_schema import OrderValidationError, check_created_at
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
    exp = _exponent(currency)
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
    # When the order was taken (the register's clock, checked for plausibility): the age limit
    # of cards taken offline is judged on it, on the server's clock.
    created_at: str | None = None

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
        created_at = payload.get("created_at")
        if created_at is not None:
            try:
                created_at = check_created_at(created_at)
            except OrderValidationError as exc:
                raise CardRequestError(str(exc)) from None
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
            created_at=created_at,
        )


@dataclass
class Attempt:
    """One ledger row."""

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
    # Left with an unknown outcome by the earlier protocol (a PaymentIntent created and
    # confirmed at once, its id not recorded): Stripe is searched before anything is created.
    legacy_unknown: bool = False
    created_at: float | None = None  # Unix time, bounds that search

    @property
    def idempotency_key(self) -> str:
        """The payment's key: the same on every try, so Stripe dedupes a lost creation."""
        return f"pos-offline-{self.order_uuid}-{self.payment_uuid}"

    @property
    def metadata(self) -> dict:
        return {
            "pos_order_uuid": self.order_uuid,
            "pos_payment_uuid": self.payment_uuid,
            "pos_attempt_id": str(self.id),
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
                **_card_named(self.brand, self.last4),
            }
        return None


@dataclass(frozen=True)
class Lease:
    """A committed, expiring claim on one order; `owner` is the fencing token."""

    order_uuid: str
    owner: str


@dataclass(frozen=True)
class OrderStanding:
    """What the host holds of an order, read from committed data under the order's lease.

    paid_minor counts money really taken (a card line stored without its charge is not paid);
    recorded_intents are the PaymentIntent ids already recorded on the order's payments."""

    total_minor: int
    paid_minor: int
    recorded_intents: frozenset = frozenset()


@dataclass(frozen=True)
class Claim:
    state: str  # "new" | "resume" | "done"
    attempt: Attempt


class AttemptLedger(Protocol):
    def lock_order(self, order_uuid: str) -> Lease | None:
        """Take the order's lease (committed) or None while a live one is held by another."""

    def unlock_order(self, lease: Lease) -> None:
        """Give the lease back (only if still ours)."""

    def claim(self, request: ChargeRequest, lease: Lease) -> Claim:
        """Under the lease: the payment's row, created `processing` (attempt 1, the request's
        envelope) and committed before anything is sent to Stripe -> "new"; with an outcome ->
        "done"; else taken over (`processing`, attempt_no + 1, committed) -> "resume"."""

    def clear_legacy(self, attempt: Attempt, lease: Lease) -> bool:
        """Fenced like record_intent: clear `legacy_unknown` (Stripe had nothing for it)."""

    def record_intent(self, attempt: Attempt, lease: Lease, payment_intent_id: str, brand=None,
                      last4=None) -> str | None:  # fmt: skip
        # Also clears `legacy_unknown`: the payment's PaymentIntent is known from then on.
        """Write-once, in one transaction: only while `lease` still holds the order, store the
        PaymentIntent id (and the card's brand/last 4) and purge the envelope; commit. Returns
        the id recorded for the attempt (this one, or one recorded before), or None when the
        lease was lost (nothing written)."""

    def settle(self, attempt: Attempt, outcome: dict) -> None:
        """Store a final outcome unless the row has one already; purge the envelope; commit."""

    def release(self, attempt: Attempt, message: str) -> None:
        """A row still `processing` goes back to `retryable` with the message; commit."""

    def get(self, order_uuid: str, payment_uuid: str) -> Attempt | None:
        """The attempt of that payment, from committed data."""

    def order_attempts(self, order_uuid: str) -> list[Attempt]:
        """Every attempt of that order, oldest first, from committed data."""


_LOST_LEASE = object()


class CardChargeService:
    """Processes offline card payments; safe to call concurrently, from any number of
    processes, for one payment or one order."""

    def __init__(
        self,
        *,
        ledger: AttemptLedger,
        keys: KeyStore,
        gateway: CardGateway | None,
        limits: RiskLimits | None = None,
        config_problem: str | None = None,
        order_standing: Callable[[str], OrderStanding | None] | None = None,
    ):
        self.ledger = ledger
        self.keys = keys
        self.gateway = gateway
        self.limits = limits or RiskLimits()
        # The host's committed view of an order (None: the host does not hold it yet, e.g. the
        # register's card before its order is synced), read under the order's lease.
        self.order_standing = order_standing
        self.config_problem = config_problem if gateway else (config_problem or "no Stripe key")

    def public_key(self) -> dict:
        return self.keys.current_public().as_rpc()

    def outcome(self, order_uuid: str, payment_uuid: str) -> dict | None:
        attempt = self.ledger.get(order_uuid, payment_uuid)
        return attempt.outcome() if attempt else None

    def process(self, payload, *, back_office: bool = False) -> dict:
        """The card outcome of one payment. Raises CardRequestError for bad payloads, and for
        a back-office amount over what the order still owes."""
        request = (
            payload if isinstance(payload, ChargeRequest) else ChargeRequest.from_payload(payload)
        )
        if self.config_problem:
            # Nothing is written: an unconfigured host must not leave half-made attempts.
            return card_errors.config_error(self.config_problem)
        lease = self.ledger.lock_order(request.order_uuid)
        if lease is None:
            return card_errors.in_progress()
        try:
            return self._process_locked(request, lease, back_office)
        finally:
            self.ledger.unlock_order(lease)

    # -- under the order's lease -------------------------------------------------------------
    def _process_locked(self, request, lease, back_office) -> dict:
        existing = self.ledger.get(request.order_uuid, request.payment_uuid)
        if existing is not None and existing.amount_minor != request.amount_minor:
            raise CardRequestError("amount differs from this payment's first processing attempt")
        if existing is not None and existing.status in FINAL:
            return existing.outcome()
        if existing is not None and existing.legacy_unknown:
            # Stripe may hold a charge of it: found first, before anything may refuse it.
            resolved = self._resolve_legacy(existing, request, lease)
            if isinstance(resolved, dict):
                return resolved
            existing = resolved
        if existing is None or existing.payment_intent_id is None:
            # Nothing of this payment can have been charged yet: may it be charged at all?
            pending = self._settle_others(request, lease)
            if pending is _LOST_LEASE:
                return card_errors.in_progress()
            refusal = self._due_refusal(request, pending, back_office)
            if refusal is None and not back_office and request.created_at:
                # A card taken offline that waited past the POS's age limit (server clock).
                overdue = self.limits.overdue_refusal(request.created_at)
                if overdue:
                    refusal = card_errors.failed("risk_limit", message=overdue)
            if refusal is not None:
                if refusal["status"] != FAILED:
                    return refusal
                claim = self.ledger.claim(request, lease)
                self.ledger.settle(claim.attempt, refusal)
                return refusal
        claim = self.ledger.claim(request, lease)
        if claim.state == "done":
            return claim.attempt.outcome()
        return self._run_claimed(claim.attempt, lease, back_office)

    def _run_claimed(self, attempt, lease, back_office) -> dict:
        """Exactly one of settle/release per claimed attempt, also when something unexpected
        is raised (the row goes back to retryable; its recorded PaymentIntent, if any, is
        what the next try confirms or reads)."""
        done = False
        try:
            outcome, final = self._run(attempt, lease, back_office)
            if outcome is _LOST_LEASE:
                done = True
                return card_errors.in_progress()
            if final:
                self.ledger.settle(attempt, outcome)
            else:
                self.ledger.release(attempt, outcome["message"])
            done = True
            return outcome
        finally:
            if not done:
                self.ledger.release(attempt, "interrupted")

    def _resolve_legacy(self, attempt, request, lease):
        """The attempt after its legacy search (with its PaymentIntent recorded when Stripe had
        one), or the outcome to answer when the search could not be made."""
        claim = self.ledger.claim(request, lease)
        try:
            found = self._find_legacy(claim.attempt, lease)
        except GatewayFailure as failure:
            outcome = card_errors.outcome_for_failure(failure)
            self.ledger.release(claim.attempt, outcome["message"])
            return outcome
        except BaseException:
            self.ledger.release(claim.attempt, "interrupted")
            raise
        if not found:
            return card_errors.in_progress()
        if claim.attempt.payment_intent_id is None:
            self.ledger.release(claim.attempt, "not found at Stripe")
        return claim.attempt

    def _settle_others(self, request, lease):
        """The order's other cards whose PaymentIntent is recorded but whose outcome is not
        known yet are confirmed or read now (they may have taken the money). Returns the
        minor amount still unknown after that (0 when every one is settled)."""
        pending = 0
        for other in self.ledger.order_attempts(request.order_uuid):
            if other.payment_uuid == request.payment_uuid or other.status in FINAL:
                continue
            if other.legacy_unknown:
                resolved = self._resolve_legacy(other, _request_of(other), lease)
                if isinstance(resolved, dict):
                    pending += other.amount_minor
                    continue
                other = resolved
            if not other.payment_intent_id:
                continue
            claim = self.ledger.claim(_request_of(other), lease)
            if claim.state == "done":
                continue
            outcome = self._run_claimed(claim.attempt, lease, back_office=True)
            if outcome["status"] == "in_progress" and claim.attempt.payment_intent_id:
                pending += other.amount_minor
            elif outcome["status"] not in FINAL:
                pending += other.amount_minor
        return pending

    def _due_refusal(self, request, pending_minor, back_office) -> dict | None:
        """None when the order may be charged this amount now; else the outcome to answer
        (failed: recorded for this payment; in_progress: nothing recorded)."""
        standing = self.order_standing(request.order_uuid) if self.order_standing else None
        if standing is None:
            return None
        charged = sum(
            a.amount_minor
            for a in self.ledger.order_attempts(request.order_uuid)
            if a.payment_uuid != request.payment_uuid
            and a.status == SUCCEEDED
            and a.payment_intent_id not in standing.recorded_intents
        )
        due = standing.total_minor - standing.paid_minor - charged
        if due - pending_minor <= 0 and pending_minor:
            return {"v": 1, "status": "in_progress", "message": card_errors.EARLIER_PENDING}
        if due <= 0:
            return card_errors.failed("order_settled", message=card_errors.ORDER_SETTLED)
        if request.amount_minor > due - pending_minor:
            if pending_minor:
                return {"v": 1, "status": "in_progress", "message": card_errors.EARLIER_PENDING}
            due_text = format_minor(due, request.currency)
            if back_office:
                raise CardRequestError(f"the amount is more than the {due_text} still due")
            return card_errors.failed("over_due", message=card_errors.OVER_DUE.format(due=due_text))
        return None

    def _run(self, attempt, lease, back_office) -> tuple[dict, bool]:
        try:
            if attempt.payment_intent_id is None:
                if not back_office:
                    refusal = self.limits.amount_refusal(
                        from_minor_units(attempt.amount_minor, attempt.currency), attempt.currency
                    )
                    if refusal:
                        return card_errors.failed("risk_limit", message=refusal), True
                if self._create_and_record(attempt, lease) is None:
                    return _LOST_LEASE, False
            result = self.gateway.confirm_intent(
                attempt.payment_intent_id, attempt.idempotency_key + "-confirm"
            )
            return _outcome(result, attempt)
        except GatewayFailure as failure:
            outcome = card_errors.outcome_for_failure(failure)
            if failure.payment_intent_id or attempt.payment_intent_id:
                outcome["payment_intent_id"] = (
                    failure.payment_intent_id or attempt.payment_intent_id
                )
            if failure.kind == "card":
                outcome.update(
                    _card_named(failure.brand or attempt.brand, failure.last4 or attempt.last4)
                )
            return outcome, failure.kind == "card"
        except EnvelopeError as exc:
            _logger.warning("card attempt %s: %s", attempt.id, exc)
            return card_errors.failed("undecryptable", message=card_errors.UNDECRYPTABLE), True

    def _find_legacy(self, attempt, lease) -> bool:
        """For an attempt of the earlier protocol whose outcome is unknown: the PaymentIntent it
        may have confirmed, found by a search bounded to the day before it was made, recorded
        like one of ours (so it is read, never made again); or, when there is none, the mark
        cleared so that one is created. False when the lease was lost. A search that fails
        raises (retry / configuration): nothing is created then."""
        since = max(int((attempt.created_at or 0) - 86400), 0)
        found = self.gateway.find_intent(
            {"pos_order_uuid": attempt.order_uuid, "pos_payment_uuid": attempt.payment_uuid},
            since,
        )
        if found is None:
            if not self.ledger.clear_legacy(attempt, lease):
                return False
            attempt.legacy_unknown = False
            return True
        recorded = self.ledger.record_intent(attempt, lease, found.payment_intent_id)
        if recorded is None:
            return False
        attempt.payment_intent_id, attempt.envelope, attempt.legacy_unknown = recorded, None, False
        return True

    def _create_and_record(self, attempt, lease) -> str | None:
        """The payment's one PaymentIntent: created unconfirmed, its id recorded (fenced by the
        lease) before anyone may confirm it. None when the lease was lost meanwhile."""
        card = open_envelope(attempt.envelope, self.keys.get_private)  # lives only here
        try:
            created = self.gateway.create_intent(
                GatewayIntent(
                    card=card,
                    amount_minor=attempt.amount_minor,
                    currency=attempt.currency.lower(),
                    idempotency_key=attempt.idempotency_key,
                    metadata=attempt.metadata,
                )
            )
        finally:
            del card
        recorded = self.ledger.record_intent(
            attempt, lease, created.payment_intent_id, created.brand, created.last4
        )
        if recorded != created.payment_intent_id:
            # Lost lease, or another caller's PaymentIntent recorded first: this one is
            # never confirmed by anyone.
            self.gateway.cancel_intent(created.payment_intent_id)
        if recorded is None:
            return None
        attempt.payment_intent_id = recorded
        attempt.envelope = None
        attempt.brand = attempt.brand or created.brand
        attempt.last4 = attempt.last4 or created.last4
        return recorded


def _request_of(attempt: Attempt) -> ChargeRequest:
    return ChargeRequest(
        config_id=None,
        order_uuid=attempt.order_uuid,
        payment_uuid=attempt.payment_uuid,
        amount=from_minor_units(attempt.amount_minor, attempt.currency),
        amount_minor=attempt.amount_minor,
        currency=attempt.currency,
        reference=attempt.reference,
        envelope=attempt.envelope,
    )


def _exponent(currency: str) -> int:
    cur = currency.lower()
    return 0 if cur in _ZERO_DECIMAL else 3 if cur in _THREE_DECIMAL else 2


def from_minor_units(minor: int, currency: str) -> Decimal:
    """Inverse of to_minor_units."""
    return Decimal(minor) / (Decimal(10) ** _exponent(currency))


def format_minor(minor: int, currency: str) -> str:
    """`2.00 USD`, `500 JPY`: an amount as a cashier reads it."""
    return f"{from_minor_units(minor, currency):.{_exponent(currency)}f} {currency.upper()}"


def _outcome(result: GatewayResult, attempt: Attempt) -> tuple[dict, bool]:
    """(card outcome, whether it is final) for a PaymentIntent Stripe answered about."""
    brand, last4 = result.brand or attempt.brand, result.last4 or attempt.last4
    if result.status in ("processing", "unconfirmed"):
        return {
            "v": 1,
            "status": "in_progress",
            "message": STILL_PROCESSING,
            "payment_intent_id": result.payment_intent_id,
        }, False
    if result.status == "succeeded":
        return {
            "v": 1,
            "status": SUCCEEDED,
            "payment_intent_id": result.payment_intent_id,
            "message": APPROVED,
            "brand": brand,
            "last4": last4,
        }, True
    # We cancel PaymentIntents that ask for 3-D Secure, so "canceled" means the same thing.
    if result.status in ("requires_action", "canceled") and not result.code:
        outcome = card_errors.failed("authentication_required", message=card_errors.REQUIRES_ACTION)
    else:
        outcome = card_errors.failed(result.code, result.decline_code)
    outcome["payment_intent_id"] = result.payment_intent_id
    outcome.update(_card_named(brand, last4))
    return outcome, True


def _card_named(brand, last4) -> dict:
    """Brand and last 4 of a refused card, for its attempt (only those the gateway knew)."""
    return {key: value for key, value in (("brand", brand), ("last4", last4)) if value}
