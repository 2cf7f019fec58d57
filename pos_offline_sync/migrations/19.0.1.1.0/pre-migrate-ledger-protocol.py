# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Card attempts of 19.0.1.0.0 without an outcome may have confirmed a PaymentIntent (created
and confirmed at once under an attempt-numbered key) whose id was never recorded. From 19.0.1.1.0
a payment's PaymentIntent is recorded before it is confirmed, so such rows are marked: Stripe is
searched for their PaymentIntent before anything is charged for them."""


def mark_legacy_attempts(cr):
    cr.execute(
        "UPDATE pos_offline_card_attempt SET legacy_unknown = "
        "(payment_intent_id IS NULL AND state IN ('processing', 'retryable'))"
    )


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        "ALTER TABLE pos_offline_card_attempt ADD COLUMN IF NOT EXISTS legacy_unknown boolean"
    )
    mark_legacy_attempts(cr)
