"""The Stripe side of card processing: the only module that imports `stripe`.

One `stripe.StripeClient` per gateway (per call-site configuration: secret key + API base),
never the module globals. Card data goes out through a PaymentMethod (localstripe does not
accept `payment_method_data`), attached to a PaymentIntent created UNCONFIRMED with the
payment's idempotency key; the caller records that id, then `confirm_intent` confirms it by id.
A retry, a timeout or a takeover can only confirm or re-read that one PaymentIntent, which
Stripe charges at most once (localstripe ignores Idempotency-Key: a lost creation answer then
leaves an extra unconfirmed PaymentIntent that nobody confirms). Stripe's network retries are
off: the ledger decides when to ask again.
"""

from __future__ import annotations

import logging

import stripe
from stripe import _util as stripe_util

from .card_errors import CARD_PARAM_CODES
from .card_gateway import GatewayFailure, GatewayIntent, GatewayResult

DEFAULT_TIMEOUT_S = 30
_PI_STATUS = {
    "succeeded": "succeeded",
    "requires_action": "requires_action",
    "processing": "processing",
    "requires_capture": "processing",
    "requires_confirmation": "unconfirmed",
    "requires_payment_method": "failed",
    "canceled": "canceled",
}


class _NoRequestBodies(logging.Filter):
    """stripe-python logs each request body ("Post details": card number and CVC included) at
    DEBUG on the "stripe" logger: drop those records whatever the host's log level."""

    def filter(self, record):
        return "Post details" not in str(record.msg)


logging.getLogger("stripe").addFilter(_NoRequestBodies())
_logger = logging.getLogger(__name__)


def _console_debug_on():
    # stripe.log / STRIPE_LOG = "debug" also prints request bodies to stderr, past any filter.
    return stripe_util._console_log_level() == "debug"


def classify(exc: Exception) -> GatewayFailure:
    """What a Stripe exception means for us. Built only from codes, never Stripe's text."""
    err = getattr(exc, "error", None)
    code = getattr(exc, "code", None) or getattr(err, "code", None)
    decline_code = getattr(err, "decline_code", None)
    pi = getattr(err, "payment_intent", None)
    pi_id = getattr(pi, "id", None) if pi is not None else None
    if isinstance(exc, stripe.CardError):
        return GatewayFailure(
            "card",
            "card declined",
            code=code,
            decline_code=decline_code,
            payment_intent_id=pi_id,
        )
    if code == "idempotency_key_in_use" or getattr(exc, "http_status", None) == 409:
        # The same key still in flight (a retry racing a slow first call): ask again later.
        return GatewayFailure("retry", type(exc).__name__, code=code)
    if isinstance(exc, (stripe.RateLimitError, stripe.APIConnectionError, stripe.APIError)):
        return GatewayFailure("retry", type(exc).__name__, code=code)
    if isinstance(exc, stripe.AuthenticationError):
        return GatewayFailure("config", "Stripe refused the secret key.", code=code)
    if isinstance(exc, stripe.PermissionError):
        return GatewayFailure("config", "the Stripe key may not create payments.", code=code)
    if isinstance(exc, stripe.InvalidRequestError):
        if code in CARD_PARAM_CODES:
            return GatewayFailure("card", "card refused", code=code, decline_code=decline_code)
        what = f" ({code})" if code else ""
        return GatewayFailure("config", f"Stripe rejected the request{what}.", code=code)
    if isinstance(exc, stripe.IdempotencyError):
        return GatewayFailure("config", "Stripe reported an idempotency conflict.", code=code)
    return GatewayFailure("retry", type(exc).__name__, code=code)


def _result(pi, brand=None, last4=None) -> GatewayResult:
    error = pi.get("last_payment_error") or {}
    return GatewayResult(
        payment_intent_id=pi.get("id"),
        status=_PI_STATUS.get(pi.get("status"), "failed"),
        brand=brand,
        last4=last4,
        code=error.get("code"),
        decline_code=error.get("decline_code"),
        metadata=dict(pi.get("metadata") or {}),
    )


class StripeGateway:
    """CardGateway on Stripe (or localstripe, through `api_base`)."""

    def __init__(self, secret_key: str, *, api_base: str | None = None, timeout=DEFAULT_TIMEOUT_S):
        if not secret_key or not isinstance(secret_key, str):
            raise GatewayFailure("config", "no Stripe secret key is set.")
        self.client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base} if api_base else None,
            max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=timeout),
        )

    def create_intent(self, request: GatewayIntent) -> GatewayResult:
        if _console_debug_on():
            raise GatewayFailure(
                "config", "Stripe debug logging (STRIPE_LOG=debug) would print card data."
            )
        card = request.card
        brand, last4 = card.brand, card.last4
        try:
            pm = self.client.v1.payment_methods.create(
                params={
                    "type": "card",
                    "card": {
                        "number": card.number,
                        "exp_month": card.exp_month,
                        "exp_year": card.exp_year,
                        "cvc": card.cvc,
                    },
                    "billing_details": {"name": card.name} if card.name else {},
                    "metadata": request.metadata,
                },
                options={"idempotency_key": request.idempotency_key + "-pm"},
            )
            pm = pm.to_dict()
            pm_card = pm.get("card") or {}
            brand, last4 = pm_card.get("brand") or card.brand, pm_card.get("last4") or card.last4
            pi = self.client.v1.payment_intents.create(
                params={
                    "amount": request.amount_minor,
                    "currency": request.currency,
                    "payment_method": pm["id"],
                    "payment_method_types": ["card"],
                    "confirm": False,
                    # No `description`: localstripe refuses it; the reference is in metadata.
                    "metadata": request.metadata,
                },
                options={"idempotency_key": request.idempotency_key},
            )
        except stripe.StripeError as exc:
            failure = classify(exc)
            failure.brand, failure.last4 = brand, last4
            raise failure from None
        return _result(pi.to_dict(), brand, last4)

    def confirm_intent(self, payment_intent_id: str, idempotency_key: str) -> GatewayResult:
        try:
            try:
                pi = self.client.v1.payment_intents.confirm(
                    payment_intent_id, options={"idempotency_key": idempotency_key}
                ).to_dict()
            except stripe.InvalidRequestError:
                # Not waiting for confirmation (payment_intent_unexpected_state): confirmed by a
                # caller whose answer was lost, declined, or cancelled. What it holds now is
                # the outcome.
                pi = self.client.v1.payment_intents.retrieve(payment_intent_id).to_dict()
                if pi.get("status") == "requires_confirmation":
                    raise
        except stripe.CardError as exc:
            failure = classify(exc)
            failure.payment_intent_id = failure.payment_intent_id or payment_intent_id
            raise failure from None
        except stripe.StripeError as exc:
            raise classify(exc) from None
        result = _result(pi)
        if result.status == "requires_action":
            self.cancel_intent(result.payment_intent_id)
        return result

    def find_intent(self, metadata: dict, created_after: int) -> GatewayResult | None:
        # A bounded search on our own metadata, never a listing of the account.
        clauses = [f"metadata['{key}']:'{value}'" for key, value in sorted(metadata.items())]
        query = " AND ".join([*clauses, f"created>{int(created_after)}"])
        try:
            found = self.client.v1.payment_intents.search(params={"query": query, "limit": 10})
        except stripe.StripeError as exc:
            raise classify(exc) from None
        results = [_result(pi.to_dict()) for pi in found.data]
        for status in ("succeeded", "processing", "requires_action", "unconfirmed"):
            for result in results:
                if result.status == status:
                    return result
        return results[0] if results else None

    def cancel_intent(self, payment_intent_id):
        # An unconfirmed or 3-D Secure PaymentIntent must not be completed later by anyone.
        try:
            self.client.v1.payment_intents.cancel(payment_intent_id)
        except stripe.StripeError as exc:
            _logger.warning(
                "could not cancel PaymentIntent %s: %s", payment_intent_id, type(exc).__name__
            )
