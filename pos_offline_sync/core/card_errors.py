"""What a card outcome means to the cashier: short texts to read out, by Stripe code.

Pure mapping (no Stripe import): `stripe_gateway.classify` turns Stripe's exceptions into a
`GatewayFailure(kind, code, decline_code)`; this module turns that into the card outcome of
CONTRACTS.md §2. Stripe's own message is never passed through (it is for developers).
"""

from __future__ import annotations

from .card_gateway import GatewayFailure

DECLINED = "The card was declined. Ask the customer for another card."
INSUFFICIENT_FUNDS = "The card was declined for insufficient funds. Ask for another payment method."
EXPIRED = "The card has expired. Ask the customer for another card."
INCORRECT_CVC = "The card's security code (CVC) is incorrect. Ask the customer for another card."
INCORRECT_NUMBER = "The card number is incorrect. Ask the customer for another card."
INCORRECT_EXPIRY = "The card's expiry date is incorrect. Ask the customer for another card."
LOST_OR_STOLEN = "The card was declined (reported lost or stolen). Ask for another payment method."
PROCESSING_ERROR = "The card could not be processed. Ask the customer for another card."
AMOUNT_REFUSED = "The card was declined for this amount. Ask for another payment method."
REQUIRES_ACTION = (
    "The card needs the customer's authentication: contact the customer for another card."
)
UNDECRYPTABLE = "The card data could not be read. Ask the customer for another card."
ORDER_SETTLED = "This order is already settled in the back office: the card was not charged."
IN_PROGRESS = "This order's card is being charged elsewhere; this shows its result once done."
EARLIER_PENDING = (
    "A card taken earlier for this order may already have been charged; its result is not "
    "known yet. Try again in a minute."
)
OVER_DUE = "The card asks more than the {due} this order still owes: it was not charged."
RETRY = "Stripe could not be reached. Try again."
CONFIG_PREFIX = "Card processing is not configured: "

# Stripe decline codes and error codes -> cashier text. Decline codes win over error codes.
_BY_CODE = {
    "insufficient_funds": INSUFFICIENT_FUNDS,
    "withdrawal_count_limit_exceeded": INSUFFICIENT_FUNDS,
    "card_velocity_exceeded": INSUFFICIENT_FUNDS,
    "expired_card": EXPIRED,
    "incorrect_cvc": INCORRECT_CVC,
    "invalid_cvc": INCORRECT_CVC,
    "incorrect_number": INCORRECT_NUMBER,
    "invalid_number": INCORRECT_NUMBER,
    "invalid_expiry_month": INCORRECT_EXPIRY,
    "invalid_expiry_year": INCORRECT_EXPIRY,
    "lost_card": LOST_OR_STOLEN,
    "stolen_card": LOST_OR_STOLEN,
    "pickup_card": LOST_OR_STOLEN,
    "restricted_card": LOST_OR_STOLEN,
    "processing_error": PROCESSING_ERROR,
    "invalid_amount": AMOUNT_REFUSED,
    "amount_too_large": AMOUNT_REFUSED,
    "amount_too_small": AMOUNT_REFUSED,
    "authentication_required": REQUIRES_ACTION,
    "payment_intent_authentication_failure": REQUIRES_ACTION,
}

# InvalidRequestError codes that are about the card itself (a card problem, not configuration).
CARD_PARAM_CODES = frozenset(
    {
        "incorrect_number",
        "invalid_number",
        "invalid_expiry_month",
        "invalid_expiry_year",
        "invalid_cvc",
        "incorrect_cvc",
        "expired_card",
        "card_declined",
    }
)


def cashier_message(code: str | None, decline_code: str | None) -> str:
    return _BY_CODE.get(decline_code or "") or _BY_CODE.get(code or "") or DECLINED


def failed(code=None, decline_code=None, message=None) -> dict:
    return {
        "v": 1,
        "status": "failed",
        "decline_code": decline_code or code or "card_declined",
        "message": message or cashier_message(code, decline_code),
    }


def outcome_for_failure(failure: GatewayFailure) -> dict:
    """The card outcome for a gateway failure."""
    if failure.kind == "card":
        return failed(failure.code, failure.decline_code)
    if failure.kind == "retry":
        return {"v": 1, "status": "retry", "message": RETRY}
    return {"v": 1, "status": "config_error", "message": CONFIG_PREFIX + failure.message}


def in_progress() -> dict:
    return {"v": 1, "status": "in_progress", "message": IN_PROGRESS}


def config_error(reason: str) -> dict:
    return {"v": 1, "status": "config_error", "message": CONFIG_PREFIX + reason}
