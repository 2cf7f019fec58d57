"""Error mapping, built on stripe-python's own exception classes (constructed for real)."""

import pytest
import stripe

# isort: off
import tests.card_support  # noqa: F401 - first: makes the core importable without Odoo
from pos_offline_sync.core import card_errors
from pos_offline_sync.core.card_gateway import GatewayFailure
from pos_offline_sync.core.stripe_gateway import classify
# isort: on


def card_error(code, decline_code=None, message="Your card was declined."):
    body = {"error": {"type": "card_error", "code": code, "message": message}}
    if decline_code:
        body["error"]["decline_code"] = decline_code
    return stripe.CardError(message, None, code, http_status=402, json_body=body)


def outcome(exc):
    return card_errors.outcome_for_failure(classify(exc))


@pytest.mark.parametrize(
    "code, decline_code, text",
    [
        ("card_declined", None, card_errors.DECLINED),
        ("card_declined", "generic_decline", card_errors.DECLINED),
        ("card_declined", "do_not_honor", card_errors.DECLINED),
        ("card_declined", "insufficient_funds", card_errors.INSUFFICIENT_FUNDS),
        ("expired_card", None, card_errors.EXPIRED),
        ("incorrect_cvc", None, card_errors.INCORRECT_CVC),
        ("incorrect_number", None, card_errors.INCORRECT_NUMBER),
        ("card_declined", "lost_card", card_errors.LOST_OR_STOLEN),
        ("card_declined", "stolen_card", card_errors.LOST_OR_STOLEN),
        ("processing_error", None, card_errors.PROCESSING_ERROR),
    ],
)
def test_card_errors_become_cashier_text(code, decline_code, text):
    result = outcome(card_error(code, decline_code))
    assert result["status"] == "failed"
    assert result["message"] == text
    assert result["decline_code"] == (decline_code or code)


def test_lost_or_stolen_wording():
    text = outcome(card_error("card_declined", "lost_card"))["message"]
    assert text == (
        "The card was declined (reported lost or stolen). Ask for another payment method."
    )
    assert "Keep the card" not in text


def test_stripe_text_is_not_passed_through():
    secret = "card 4242424242424242 cvc 123"
    result = outcome(card_error("card_declined", message=secret))
    assert "4242424242424242" not in str(result)


def test_requires_action_text():
    assert card_errors.REQUIRES_ACTION == (
        "The card needs the customer's authentication: contact the customer for another card."
    )


@pytest.mark.parametrize(
    "exc",
    [
        stripe.RateLimitError("Too many requests", http_status=429),
        stripe.APIConnectionError("Network down", should_retry=True),
        stripe.APIError("Internal error", http_status=500),
        # A retry racing a slow first call with the same idempotency key: nothing was charged
        # under it yet, so asking again later is safe.
        stripe.IdempotencyError("in use", code="idempotency_key_in_use", http_status=409),
    ],
)
def test_retryable_trouble(exc):
    failure = classify(exc)
    assert failure.kind == "retry"
    assert outcome(exc) == {"v": 1, "status": "retry", "message": card_errors.RETRY}


@pytest.mark.parametrize(
    "exc, says",
    [
        (stripe.AuthenticationError("Invalid API Key provided", http_status=401), "secret key"),
        (stripe.PermissionError("not allowed", http_status=403), "may not create payments"),
        (
            stripe.InvalidRequestError(
                "No such payment_method", "payment_method", code="resource_missing", http_status=400
            ),
            "resource_missing",
        ),
        (stripe.IdempotencyError("Keys for idempotent requests", http_status=400), "idempotency"),
    ],
)
def test_configuration_problems(exc, says):
    result = outcome(exc)
    assert result["status"] == "config_error"
    assert result["message"].startswith("Card processing is not configured: ")
    assert says in result["message"]


def test_invalid_request_about_the_card_is_a_card_failure():
    exc = stripe.InvalidRequestError(
        "Bad request", "card[exp_year]", code="invalid_expiry_year", http_status=400
    )
    result = outcome(exc)
    assert result["status"] == "failed" and result["message"] == card_errors.INCORRECT_EXPIRY


def test_payment_intent_id_is_kept_from_the_error():
    body = {
        "error": {
            "type": "card_error",
            "code": "card_declined",
            "payment_intent": {"id": "pi_123", "object": "payment_intent"},
        }
    }
    exc = stripe.CardError("declined", None, "card_declined", http_status=402, json_body=body)
    assert classify(exc).payment_intent_id == "pi_123"


def test_gateway_failure_kinds_are_checked():
    with pytest.raises(ValueError):
        GatewayFailure("maybe", "x")
