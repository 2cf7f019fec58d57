"""The Stripe side of card processing: the only module that imports `stripe`.

One `stripe.StripeClient` per gateway (per call-site configuration: secret key + API base),
never the module globals. Card data goes out through a PaymentMethod (localstripe does not
accept `payment_method_data`), then a PaymentIntent confirmed at once with the attempt's
idempotency key and metadata. Stripe's network retries are off: the attempt ledger decides
when to ask again, after looking the payment up (localstripe ignores Idempotency-Key).
"""

from __future__ import annotations

import logging

import stripe
from stripe import _util as stripe_util

from .card_errors import CARD_PARAM_CODES
from .card_gateway import GatewayCharge, GatewayFailure, GatewayResult

DEFAULT_TIMEOUT_S = 30
_PI_STATUS = {
    "succeeded": "succeeded",
    "requires_action": "requires_action",
    "processing": "processing",
    "requires_capture": "processing",
    "requires_confirmation": "failed",
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

    def charge(self, request: GatewayCharge) -> GatewayResult:
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
                    "confirm": True,
                    # No `description`: localstripe refuses it; the reference is in metadata.
                    "metadata": request.metadata,
                },
                options={"idempotency_key": request.idempotency_key},
            )
        except stripe.StripeError as exc:
            failure = classify(exc)
            failure.brand, failure.last4 = brand, last4
            raise failure from None
        result = _result(pi.to_dict(), brand, last4)
        if result.status == "requires_action":
            self._cancel_quietly(result.payment_intent_id)
        return result

    def find_payments(self, metadata: dict) -> list[GatewayResult]:
        """Every PaymentIntent whose metadata contains `metadata` (list, not search: search
        lags behind writes and localstripe has none)."""
        try:
            found = []
            page = self.client.v1.payment_intents.list(params={"limit": 100})
            for pi in page.auto_paging_iter():
                pi = pi.to_dict()
                md = pi.get("metadata") or {}
                if all(md.get(k) == v for k, v in metadata.items()):
                    if pi.get("status") == "requires_action":
                        # Left by a crash before our cancel: nobody may complete it later.
                        self._cancel_quietly(pi["id"])
                    found.append(_result(pi))
            return found
        except stripe.StripeError as exc:
            raise classify(exc) from None

    def _cancel_quietly(self, pi_id):
        # A PaymentIntent waiting for 3-D Secure must not be completed later by anyone.
        try:
            self.client.v1.payment_intents.cancel(pi_id)
        except stripe.StripeError as exc:
            _logger.warning("could not cancel PaymentIntent %s: %s", pi_id, type(exc).__name__)
