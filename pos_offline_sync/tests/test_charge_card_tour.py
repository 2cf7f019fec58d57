# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import json
import logging
from unittest.mock import patch

from odoo.tests import HttpCase, tagged

from .common import OfflineSyncCommon
from .localstripe import VISA_DECLINED, VISA_OK

# Tables a typed card could end up in on its way from the widget to Stripe.
SCANNED_TABLES = (
    "pos_offline_charge_card",
    "pos_offline_card_attempt",
    "pos_order",
    "pos_payment",
    "mail_message",
)


class _LogLines(logging.Handler):
    """Every line the server logs, as it would be written (the page's console is relayed too)."""

    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(self.format(record))


@tagged("post_install", "-at_install")
class TestChargeNewCardTour(OfflineSyncCommon, HttpCase):
    """Decline recovery in the back office through the real browser widget: the card is sealed
    by the page (CardForm + CardVault), not by Python as in test_offline_card."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.start_localstripe("Stripe (charge new card tour)")

    def declined_order(self):
        """An offline card order whose card was declined, synced the way a register syncs it."""
        order = self.plain_order(payments=[(self.card_pm, 7.0)])
        payment = order["payments"][0]
        payment["card"] = self.card(payment["uuid"], VISA_DECLINED)
        [result] = self.sync(order)
        self.assertTrue(result["ok"] and not result["paid"], result)
        pos_order = self.find(order)
        self.assertEqual(pos_order.state, "draft")
        self.assertTrue(pos_order.offline_card_failed)
        self.assertFalse(pos_order.payment_ids)
        return pos_order

    def scan_for(self, needle):
        """Tables (of SCANNED_TABLES) with a row whose text holds `needle`."""
        found = []
        for table in SCANNED_TABLES:
            # Table names are the constants above, never input.
            self.env.cr.execute(
                f"SELECT 1 FROM {table} t WHERE row_to_json(t)::text LIKE %s LIMIT 1",  # noqa: S608
                [f"%{needle}%"],
            )
            if self.env.cr.fetchone():
                found.append(table)
        return found

    def test_charge_new_card_from_the_browser(self):
        pos_order = self.declined_order()
        self.assertEqual(self.stripe.succeeded_intents(pos_order.uuid), [])
        user = self.env.user
        self.assertTrue(
            user.has_group("point_of_sale.group_pos_manager")
            or user.has_group("account.group_account_manager")
        )
        self.env.flush_all()
        log = _LogLines()
        logging.getLogger().addHandler(log)
        self.addCleanup(logging.getLogger().removeHandler, log)

        # What the page sends, seen as the server receives it (the wizard drops it after use).
        wizard_class = type(self.env["pos.offline.charge.card"])
        charge, sent = wizard_class.action_charge, []

        def seen_then_charged(wizard):
            sent.append(json.loads(wizard.envelope))
            return charge(wizard)

        with patch.object(wizard_class, "action_charge", seen_then_charged):
            self.start_tour(
                f"/odoo/pos.order/{pos_order.id}",
                "pos_offline_sync_charge_new_card_tour",
                login=user.login,
            )
        logging.getLogger().removeHandler(log)

        self.env.invalidate_all()
        self.assertEqual(pos_order.state, "paid")
        self.assertFalse(pos_order.offline_card_failed)
        [intent] = self.stripe.succeeded_intents(pos_order.uuid)
        payment = pos_order.payment_ids
        self.assertEqual(len(payment), 1)
        self.assertEqual((payment.card_brand, payment.card_no), ("visa", "4242"))
        self.assertEqual(payment.transaction_id, intent["id"])
        self.assertAlmostEqual(payment.amount, 7.0)
        # Every attempt is listed on the order: the register's card, then the two typed in the
        # page (declined, then good), each its own ledger row.
        attempts = pos_order.offline_card_attempt_ids
        self.assertEqual(sorted(attempts.mapped("state")), ["failed", "failed", "succeeded"])
        self.assertEqual(len(set(attempts.mapped("payment_uuid"))), 3)
        # Declined attempts name their card too.
        self.assertEqual(sorted(attempts.mapped("card_last4")), ["0341", "0341", "4242"])
        self.assertTrue(
            pos_order.message_ids.filtered(lambda m: "New card declined" in (m.body or ""))
        )
        new_attempt = attempts.filtered(lambda a: a.state == "succeeded")
        self.assertEqual(new_attempt.payment_intent_id, intent["id"])
        self.assertEqual((new_attempt.card_brand, new_attempt.card_last4), ("visa", "4242"))
        self.assertFalse(new_attempt.sudo().envelope, "the envelope is purged once settled")

        # The numbers typed in the page are nowhere in what the server kept or logged, spaced
        # or not (the tour's own steps are in the log: it is not empty).
        self.env.flush_all()
        self.assertTrue(any("tour succeeded" in line for line in log.lines))
        for number in (VISA_OK, VISA_DECLINED):
            spaced = " ".join(number[i : i + 4] for i in range(0, 16, 4))
            self.assertEqual(self.scan_for(number), [], "a card number is stored")
            self.assertEqual(self.scan_for(spaced), [], "a card number is stored")
            # Counted, not shown: a failure must not print the number again.
            logged = sum(number in line or spaced in line for line in log.lines)
            self.assertEqual(logged, 0, "log lines with a card number")
        # What the page sent, twice (declined, then good), is a sealed envelope under the
        # company's key; once charged, the wizard keeps none of it. The scan above covered the
        # wizard's row (its payment uuid is found there).
        kid = self.config._offline_card_public_key()["kid"]
        self.assertEqual([(e["alg"], e["kid"]) for e in sent], [("RSA-OAEP-256+A256GCM", kid)] * 2)
        wizard = self.env["pos.offline.charge.card"].search([("order_id", "=", pos_order.id)])
        self.assertEqual(len(wizard), 1)
        self.assertFalse(wizard.envelope)
        self.assertEqual(self.scan_for(sent[-1]["ct"]), [])
        self.assertIn("pos_offline_charge_card", self.scan_for(wizard.payment_uuid))
