# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The ledger's row lock in real PostgreSQL: two cursors, two transactions.

The rows are committed by the ledger's own cursors (as in production), so this test removes
them itself at the end.
"""

import uuid

from odoo.tests import TransactionCase, tagged
from odoo.tools import SQL

from ..core import card_charge, card_envelope, card_keys
from ..models.pos_offline_card_attempt import OdooAttemptLedger


@tagged("post_install", "-at_install")
class TestLedgerLock(TransactionCase):
    def setUp(self):
        super().setUp()
        # A register committed before the test, since the ledger's cursors cannot see ours.
        self.config = self.env["pos.config"].search([], order="id", limit=1)
        self.order_uuid = f"lock-test-{uuid.uuid4()}"
        self.addCleanup(self._remove_rows)
        # The ledger never opens the envelope; any sealed card will do.
        key = card_keys.generate_private_key(2048)
        info = card_keys.public_info(key)
        card = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
        self.envelope = card_envelope.seal_card({**card, "name": "Ann"}, info.kid, info.load())

    def _remove_rows(self):
        with self.env.registry.cursor() as cr:
            cr.execute(
                SQL(
                    "DELETE FROM pos_offline_card_attempt WHERE order_uuid = %s",
                    self.order_uuid,
                )
            )

    def request(self):
        return card_charge.ChargeRequest.from_payload(
            {
                "v": 1,
                "config_id": self.config.id,
                "order_uuid": self.order_uuid,
                "payment_uuid": "pay-1",
                "amount": 7.0,
                "currency": "USD",
                "reference": "lock test",
                "envelope": self.envelope,
            }
        )

    def test_second_caller_is_told_in_progress_until_the_first_is_done(self):
        first, second = (
            OdooAttemptLedger(self.env, self.config),
            OdooAttemptLedger(self.env, self.config),
        )
        claim = first.claim(self.request())
        self.assertEqual(claim.state, "new")
        try:
            # The first caller holds the row (FOR UPDATE NOWAIT): the second must not wait.
            self.assertEqual(second.claim(self.request()).state, "busy")
        finally:
            first.release(claim.attempt, "test")
        # Released without an outcome: the next caller resumes it under a new attempt number.
        resumed = second.claim(self.request())
        self.assertEqual(resumed.state, "resume")
        self.assertEqual(resumed.attempt.attempt_no, 2)
        self.assertEqual(resumed.attempt.envelope, self.envelope, "kept until an outcome")
        second.settle(
            resumed.attempt,
            {"status": "failed", "decline_code": "card_declined", "message": "declined"},
        )
        done = first.claim(self.request())
        self.assertEqual((done.state, done.attempt.status), ("done", "failed"))
        self.assertIsNone(done.attempt.envelope, "the envelope is purged with the outcome")
