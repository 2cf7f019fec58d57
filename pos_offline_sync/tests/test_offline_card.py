# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import base64
import copy
import json

from odoo.exceptions import UserError
from odoo.tests import Form, tagged

from ..models.pos_offline_card_attempt import OdooAttemptLedger
from .common import OfflineSyncCommon
from .localstripe import VISA_DECLINED, VISA_OK
from .test_csv_import import export_csv


@tagged("post_install", "-at_install")
class TestOfflineCard(OfflineSyncCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.provider = cls.start_localstripe("Stripe (test)")

    def setUp(self):
        super().setUp()
        # The ledger writes through cursors of its own: in a test they must wrap the test's.
        self.registry_enter_test_mode()

    def card_order(self, number=VISA_OK):
        order = self.plain_order(payments=[(self.card_pm, 7.0)])
        payment = order["payments"][0]
        payment["card"] = self.card(payment["uuid"], number)
        return order

    def process(self, order, user=None):
        payment = order["payments"][0]
        PosOrder = self.env["pos.order"].with_user(user) if user else self.env["pos.order"]
        return PosOrder.offline_process_card(
            {
                "v": 1,
                "config_id": self.config.id,
                "order_uuid": order["uuid"],
                "payment_uuid": payment["uuid"],
                "amount": payment["amount"],
                "currency": order["currency"],
                "reference": order["reference"],
                "envelope": payment["card"]["envelope"],
            }
        )

    def attempts(self, order):
        return self.env["pos.offline.card.attempt"].search([("order_uuid", "=", order["uuid"])])

    def card_order_imported_without_card(self):
        """A card order first in without its card, as from a CSV import (stored unpaid); the
        register still holds the card sealed."""
        order = self.card_order()
        without_card = copy.deepcopy(order)
        del without_card["payments"][0]["card"]["envelope"]
        self.sync(without_card)
        return order

    def new_card_wizard(self, pos_order, number=VISA_OK):
        """Charge New Card on `pos_order`, the card typed in (sealed as the widget does)."""
        wizard = Form(
            self.env["pos.offline.charge.card"].with_context(
                **pos_order.action_offline_charge_new_card()["context"]
            ),
            view="pos_offline_sync.pos_offline_charge_card_view_form",
        ).save()
        wizard.envelope = json.dumps(self.card("new", number)["envelope"])
        return wizard

    def test_processed_card_syncs_paid_once(self):
        order = self.card_order()
        outcome = self.process(order)
        self.assertEqual(outcome["status"], "succeeded", outcome)
        self.assertEqual((outcome["brand"], outcome["last4"]), ("visa", "4242"))
        # A second click, or a retry after a lost answer: the same outcome, no new charge.
        self.assertEqual(self.process(order)["payment_intent_id"], outcome["payment_intent_id"])
        self.assertEqual(len(self.stripe.succeeded_intents(order["uuid"])), 1)
        attempt = self.attempts(order)
        self.assertEqual(attempt.state, "succeeded")
        self.assertFalse(attempt.sudo().envelope, "the envelope is purged once settled")

        [result] = self.sync(order)
        self.assertTrue(result["ok"] and result["paid"])
        pos_order = self.find(order)
        self.assertEqual(pos_order.state, "paid")
        self.assertFalse(pos_order.offline_card_failed)
        payment = pos_order.payment_ids
        self.assertEqual(payment.transaction_id, outcome["payment_intent_id"])
        self.assertEqual((payment.card_brand, payment.card_no), ("visa", "4242"))
        self.assertEqual(pos_order.offline_card_attempt_ids, attempt)

    def test_card_line_with_another_amount_than_charged_is_refused(self):
        # The card was charged 3.50: an order whose card line says 7.00 must not become paid
        # on it (the ledger, not the browser, says what was charged).
        order = self.card_order()
        order["payments"][0]["amount"] = 3.5
        outcome = self.process(order)
        self.assertEqual(outcome["status"], "succeeded", outcome)
        order["payments"][0]["amount"] = 7.0
        [result] = self.sync(order)
        self.assertFalse(result["ok"], result)
        self.assertIn("amount differs", result["reason"])
        self.assertFalse(self.find(order))
        self.assertEqual(len(self.stripe.succeeded_intents(order["uuid"])), 1)

    def test_card_order_odoo_synced_first_is_still_charged(self):
        # Odoo's own sync pushed the order (its line of the offline card, no charge) before
        # ours: answering "exists" alone would let the browser drop the only sealed card.
        order = self.card_order()
        self.env["pos.order"].sync_from_ui([dict(order["odoo"])])
        [result] = self.sync(order)
        self.assertEqual((result["ok"], result["status"]), (True, "exists"), result)
        [intent] = self.stripe.succeeded_intents(order["uuid"])
        payment = self.find(order).payment_ids
        self.assertEqual(payment.transaction_id, intent["id"])
        self.assertEqual(payment.card_no, "4242")
        # Sent again: nothing more charged.
        self.sync(order)
        self.assertEqual(len(self.stripe.succeeded_intents(order["uuid"])), 1)

    def test_declined_card_order_odoo_synced_first_is_flagged(self):
        order = self.card_order(VISA_DECLINED)
        self.env["pos.order"].sync_from_ui([dict(order["odoo"])])
        [result] = self.sync(order)
        self.assertTrue(result["ok"], result)
        pos_order = self.find(order)
        self.assertTrue(pos_order.offline_card_failed)
        self.assertIn("VISA **** 0341", pos_order.offline_card_failure)
        self.assertFalse(pos_order.payment_ids.transaction_id)

    def test_declined_card_leaves_the_registers_internal_note_as_odoo_wrote_it(self):
        # Odoo's POS keeps its kitchen notes in internal_note as a JSON list and parses it on
        # every screen showing the order: the failure goes to a field of ours instead.
        order = self.card_order(VISA_DECLINED)
        note = json.dumps([{"text": "No onions", "colorIndex": 2}])
        order["odoo"]["internal_note"] = note
        self.assertTrue(self.sync(order)[0]["ok"])
        pos_order = self.find(order)
        self.assertEqual(pos_order.internal_note, note)
        self.assertIn("VISA **** 0341", pos_order.offline_card_failure)
        # Stored once per failure, each on its line: a second sync adds nothing.
        self.sync(order)
        self.assertEqual(pos_order.offline_card_failure.count("VISA **** 0341"), 1)
        self.assertEqual(pos_order.internal_note, note)
        loaded = pos_order.read_pos_data([], self.config)["pos.order"][0]
        self.assertIn("VISA **** 0341", loaded["offline_card_failure"])

    def test_declined_order_paid_with_odoos_payment_button_is_no_longer_flagged(self):
        order = self.card_order(VISA_DECLINED)
        self.sync(order)
        pos_order = self.find(order)
        self.assertTrue(pos_order.offline_card_failed)
        payment = Form(
            self.env["pos.make.payment"].with_context(
                active_id=pos_order.id, active_model="pos.order"
            )
        ).save()
        payment.payment_method_id = self.cash_pm1
        payment.check()
        self.assertEqual(pos_order.state, "paid")
        self.assertFalse(pos_order.offline_card_failed)
        self.assertNotIn(
            pos_order, self.env["pos.order"].search([("offline_card_failed", "=", True)])
        )
        self.assertIn("VISA **** 0341", pos_order.offline_card_failure)

    def test_another_companys_card_attempt_neither_pays_nor_shows(self):
        # The ledger is keyed on uuids: an attempt of another company's register with the same
        # uuids must not pay this order, nor give out its PaymentIntent and card.
        order = self.card_order()
        other = self.env["res.company"].create({"name": "Other Shop Inc."})
        self.env["pos.offline.card.attempt"].sudo().create(
            {
                "order_uuid": order["uuid"],
                "payment_uuid": order["payments"][0]["uuid"],
                "state": "succeeded",
                "amount": 7.0,
                "currency": order["currency"],
                "payment_intent_id": "pi_of_the_other_company",
                "card_brand": "visa",
                "card_last4": "1111",
                "company_id": other.id,
            }
        )
        with self.assertRaisesRegex(UserError, "another company"):
            self.process(order)
        [result] = self.sync(order)
        self.assertFalse(result["ok"], result)
        self.assertIn("another company", result["reason"])
        self.assertFalse(self.find(order))
        self.assertEqual(self.stripe.succeeded_intents(order["uuid"]), [])

    def test_a_declined_card_resent_is_not_taken_for_another_sale(self):
        # Stored as a draft with no payment; its resend names the card payment, its lines are
        # the same: the same sale (core/order_identity.py), "exists", stored once.
        order = self.card_order(VISA_DECLINED)
        self.process(order)
        self.sync(copy.deepcopy(order))
        self.assertEqual(self.find(order).state, "draft")
        self.assertEqual(self.sync(copy.deepcopy(order))[0]["status"], "exists")
        self.assertEqual(
            self.env["pos.order"].search_count([("config_id", "=", self.config.id)]), 1
        )

    def test_a_card_order_imported_from_csv_then_synced_by_its_register_is_one_paid_order(self):
        # The CSV has no card envelope: the order lands unpaid, with lines of the import's own
        # uuids. The register's sync of that sale then pays it with its card, and is not taken
        # for another sale (core/order_identity.py).
        order = self.card_order()
        wizard = self.env["pos.offline.csv.import"].create(
            {
                "config_id": self.config.id,
                "csv_file": base64.b64encode(export_csv(order).encode()),
                "csv_filename": "offline.csv",
            }
        )
        wizard.action_import()
        self.assertEqual(self.find(order).state, "draft")
        [result] = self.sync(copy.deepcopy(order))
        self.assertEqual(result["status"], "exists", result)
        self.assertEqual(
            self.env["pos.order"].search_count([("config_id", "=", self.config.id)]), 1
        )
        self.assertEqual(self.find(order).state, "paid")

    def test_declined_card_syncs_unpaid_then_new_card_pays(self):
        order = self.card_order(VISA_DECLINED)
        outcome = self.process(order)
        self.assertEqual(outcome["status"], "failed", outcome)
        self.assertTrue(outcome["message"])

        [result] = self.sync(order)
        self.assertTrue(result["ok"])
        self.assertFalse(result["paid"])
        pos_order = self.find(order)
        self.assertEqual(pos_order.state, "draft")
        self.assertTrue(pos_order.offline_card_failed)
        self.assertFalse(pos_order.payment_ids, "the declined card is not a payment")
        self.assertIn(outcome["message"], pos_order.offline_card_failure)
        self.assertIn(outcome["message"], pos_order.message_ids[0].body)
        self.assertIn(
            pos_order,
            self.env["pos.order"].search([("offline_card_failed", "=", True)]),
        )
        # Synced again: confirmed, not duplicated, not re-charged.
        self.assertEqual(self.sync(order)[0]["status"], "exists")

        # Back office: "Charge new card" with a good card.
        action = pos_order.action_offline_charge_new_card()
        wizard_form = Form(
            self.env["pos.offline.charge.card"].with_context(**action["context"]),
            view="pos_offline_sync.pos_offline_charge_card_view_form",
        )
        self.assertAlmostEqual(wizard_form.amount, 7.0)
        wizard = wizard_form.save()
        self.assertEqual(json.loads(wizard.public_key)["kid"], order["payments"][0]["card"][
            "envelope"]["kid"])  # fmt: skip
        wizard.envelope = json.dumps(self.card("new", VISA_OK)["envelope"])
        wizard.action_charge()
        self.assertEqual(pos_order.state, "paid")
        self.assertFalse(pos_order.offline_card_failed)
        self.assertIn(outcome["message"], pos_order.offline_card_failure, "kept once paid")
        self.assertEqual(pos_order.payment_ids.card_no, "4242")
        self.assertEqual(len(self.stripe.succeeded_intents(order["uuid"])), 1)
        self.assertEqual(
            sorted(pos_order.offline_card_attempt_ids.mapped("state")), ["failed", "succeeded"]
        )
        # A second click on the same wizard charges nothing more.
        with self.assertRaises(UserError):
            wizard.action_charge()
        self.assertEqual(len(pos_order.payment_ids), 1)

    def test_new_card_declined_says_why_and_stays_unpaid(self):
        order = self.card_order(VISA_DECLINED)
        self.process(order)
        self.sync(order)
        pos_order = self.find(order)
        wizard = self.env["pos.offline.charge.card"].create(
            {"order_id": pos_order.id, "amount": 7.0}
        )
        wizard.envelope = json.dumps(self.card("x", VISA_DECLINED)["envelope"])
        action = wizard.action_charge()
        self.assertEqual(action["res_model"], "pos.offline.charge.card")
        self.assertEqual(wizard.state, "failed")
        self.assertTrue(wizard.result_message)
        self.assertEqual(pos_order.state, "draft")
        self.assertTrue(pos_order.offline_card_failed)

    def test_unprocessed_card_is_processed_at_sync(self):
        # Never processed from the dialog: the sync processes it first, through the ledger.
        order = self.card_order()
        [result] = self.sync(order)
        self.assertTrue(result["ok"] and result["paid"], result)
        pos_order = self.find(order)
        self.assertEqual(pos_order.state, "paid")
        self.assertEqual(len(self.stripe.succeeded_intents(order["uuid"])), 1)
        self.assertEqual(pos_order.payment_ids.card_no, "4242")
        # Sent again (a lost answer): nothing new, no second charge.
        [again] = self.sync(order)
        self.assertEqual(again["status"], "exists")
        self.assertEqual(len(self.stripe.succeeded_intents(order["uuid"])), 1)

    def test_an_unprocessed_card_among_failing_groups_is_charged_once(self):
        # Cash orders are stored in groups undone whole when one of them fails (core
        # sync_batch). A card is never in one (core test_sync_groups shows it); whatever the
        # grouping, a card between orders that fail is charged once and pays its order.
        bad = self.order_with_unknown_product
        card = self.card_order()
        batch = [self.plain_order(), card, bad(), self.plain_order(), bad(), self.plain_order()]
        results = self.sync(*batch)
        self.assertEqual([r["ok"] for r in results], [True, True, False, True, False, True])
        self.assertTrue(results[1]["paid"], results[1])
        self.assertEqual(len(self.stripe.succeeded_intents(card["uuid"])), 1)
        self.assertEqual(len(self.attempts(card)), 1)
        self.assertEqual(self.find(card).state, "paid")

    def test_unprocessed_declined_card_syncs_unpaid_with_the_reason(self):
        order = self.card_order(VISA_DECLINED)
        [result] = self.sync(order)
        self.assertTrue(result["ok"] and not result["paid"], result)
        pos_order = self.find(order)
        self.assertEqual(pos_order.state, "draft")
        self.assertTrue(pos_order.offline_card_failed)
        self.assertIn("VISA **** 0341", pos_order.offline_card_failure)

    def test_card_without_its_sealed_data_syncs_unpaid(self):
        # E.g. an order rebuilt from a CSV export: nothing left to charge.
        order = self.card_order()
        del order["payments"][0]["card"]["envelope"]
        [result] = self.sync(order)
        self.assertTrue(result["ok"])
        pos_order = self.find(order)
        self.assertEqual(pos_order.state, "draft")
        self.assertIn("not processed", pos_order.offline_card_failure)
        self.assertEqual(self.stripe.succeeded_intents(order["uuid"]), [])

    def test_card_charged_after_the_order_came_in_unpaid_pays_it(self):
        # First in without its card (a CSV import): unpaid. The register still had the sealed
        # card, charged it, and sends the order again: that charge must pay the order, not be
        # lost behind "exists" (a "Charge new card" would then charge the customer twice).
        order = self.card_order_imported_without_card()
        self.assertEqual(self.find(order).state, "draft")
        outcome = self.process(order)
        self.assertEqual(outcome["status"], "succeeded", outcome)
        [result] = self.sync(order)
        self.assertTrue(result["ok"] and result["paid"], result)
        pos_order = self.find(order)
        self.assertEqual(pos_order.state, "paid")
        self.assertFalse(pos_order.offline_card_failed)
        self.assertEqual(pos_order.payment_ids.transaction_id, outcome["payment_intent_id"])
        # Sent once more: recorded once.
        self.sync(order)
        self.assertEqual(len(pos_order.payment_ids), 1)
        self.assertEqual(len(self.stripe.succeeded_intents(order["uuid"])), 1)

    def test_card_of_an_order_paid_in_the_back_office_is_not_charged(self):
        # In without its card (a CSV import), then paid in the back office with a new card; the
        # register still holds the first card sealed: processing it must not charge again.
        order = self.card_order_imported_without_card()
        pos_order = self.find(order)
        # The register's limit is for cards taken offline: a manager's charge is not held to it.
        self.config.offline_card_max_amount = 5.0
        wizard = self.new_card_wizard(pos_order)
        wizard.action_charge()
        self.assertEqual(pos_order.state, "paid")

        outcome = self.process(order)
        self.assertEqual(outcome["status"], "failed", outcome)
        self.assertEqual(outcome["decline_code"], "order_settled")
        self.assertEqual(len(self.stripe.succeeded_intents(order["uuid"])), 1)
        [result] = self.sync(order)
        self.assertTrue(result["ok"] and result["paid"], result)
        self.assertEqual(len(pos_order.payment_ids), 1)
        self.assertEqual(len(self.stripe.succeeded_intents(order["uuid"])), 1)

    def test_new_card_records_a_register_card_charged_but_not_synced(self):
        # In without its card (a CSV import); the register then charged the sealed card but has
        # not synced yet. Charging the new card would take the money twice: the register's
        # charge is recorded instead and the new card is left alone.
        order = self.card_order_imported_without_card()
        pos_order = self.find(order)
        charged = self.process(order)
        self.assertEqual(charged["status"], "succeeded")
        wizard = self.new_card_wizard(pos_order)
        action = wizard.action_charge()
        self.assertIn("was charged", action["params"]["message"])
        self.assertEqual(pos_order.state, "paid")
        self.assertEqual(pos_order.payment_ids.transaction_id, charged["payment_intent_id"])
        self.assertEqual(len(self.stripe.succeeded_intents(order["uuid"])), 1)
        self.assertFalse(wizard.envelope)
        # The register syncs later: confirmed, nothing more charged or recorded.
        [result] = self.sync(order)
        self.assertTrue(result["ok"] and result["paid"], result)
        self.assertEqual(len(pos_order.payment_ids), 1)
        self.assertEqual(len(self.stripe.succeeded_intents(order["uuid"])), 1)

    def test_new_card_is_charged_when_the_register_card_never_reached_stripe(self):
        # The register's card met no Stripe (no PaymentIntent recorded: it cannot have taken
        # money). The new card is charged, never blocked by it; the register's card processed
        # afterwards is refused instead of charged a second time.
        order = self.card_order_imported_without_card()
        pos_order = self.find(order)
        params = self.env["ir.config_parameter"].sudo()
        stripe_url = params.get_param("pos_offline_sync.stripe_api_base")
        params.set_param("pos_offline_sync.stripe_api_base", "http://127.0.0.1:9")
        self.assertEqual(self.process(order)["status"], "retry")
        params.set_param("pos_offline_sync.stripe_api_base", stripe_url)
        action = self.new_card_wizard(pos_order).action_charge()
        self.assertIn("Card charged", action["params"]["message"])
        self.assertEqual(pos_order.state, "paid")
        [intent] = self.stripe.succeeded_intents(order["uuid"])
        self.assertNotEqual(intent["metadata"]["pos_payment_uuid"], order["payments"][0]["uuid"])
        outcome = self.process(order)
        self.assertEqual(outcome["decline_code"], "order_settled", outcome)
        self.assertEqual(len(self.stripe.succeeded_intents(order["uuid"])), 1)

    def test_new_card_while_the_order_is_charged_elsewhere_follows_that_charge(self):
        # Another manager (or the register) holds the order's lease: this wizard charges
        # nothing, says so, and its status call shows the result once that charge is done.
        order = self.card_order(VISA_DECLINED)
        self.assertEqual(self.process(order)["status"], "failed")
        self.sync(order)
        pos_order = self.find(order)
        ledger = OdooAttemptLedger(self.env, self.config)
        lease = ledger.lock_order(order["uuid"])
        self.assertTrue(lease)
        wizard = self.new_card_wizard(pos_order)
        action = wizard.action_charge()
        self.assertEqual(action["res_id"], wizard.id)
        self.assertEqual(wizard.state, "pending")
        self.assertIn("being charged for order", wizard.result_message)
        self.assertTrue(wizard.envelope, "kept sealed, ready if the other charge fails")
        self.assertEqual(wizard.offline_charge_status(), {"paid": False, "charging": True})
        ledger.unlock_order(lease)
        self.assertEqual(wizard.offline_charge_status(), {"paid": False, "charging": False})
        self.assertEqual(wizard.state, "draft")
        self.assertIn("ended without paying", wizard.result_message)
        wizard.action_charge()
        self.assertEqual(pos_order.state, "paid")
        self.assertEqual(len(self.stripe.succeeded_intents(order["uuid"])), 1)
        self.assertEqual(wizard.offline_charge_status()["paid"], True)

    def test_new_card_over_what_is_due_is_refused(self):
        order = self.card_order(VISA_DECLINED)
        self.assertEqual(self.process(order)["status"], "failed")
        self.sync(order)
        wizard = self.new_card_wizard(self.find(order))
        wizard.amount = 8.0
        with self.assertRaisesRegex(UserError, "more than the 7.00 USD still due"):
            wizard.action_charge()
        self.assertEqual(self.stripe.succeeded_intents(order["uuid"]), [])

    def test_new_card_charged_when_the_register_card_was_declined(self):
        order = self.card_order(VISA_DECLINED)
        self.assertEqual(self.process(order)["status"], "failed")
        self.sync(order)
        pos_order = self.find(order)
        self.new_card_wizard(pos_order).action_charge()
        self.assertEqual(pos_order.state, "paid")
        self.assertEqual(len(self.stripe.succeeded_intents(order["uuid"])), 1)

    def test_no_stripe_key_is_a_configuration_error(self):
        # An enabled provider must have a key (payment_stripe): disable it to clear the key.
        self.provider.write({"state": "disabled", "stripe_secret_key": False})
        outcome = self.process(self.card_order())
        self.assertEqual(outcome["status"], "config_error")
        self.assertIn("not configured", outcome["message"])

    def test_public_key_for_the_register(self):
        key = self.env["pos.order"].offline_card_public_key({"v": 1, "config_id": self.config.id})
        self.assertEqual(set(key), {"v", "kid", "spki"})
        # Loaded with the POS data too, so the register can encrypt while offline.
        data = self.config.current_session_id.load_data(["pos.config"])
        self.assertEqual(data["pos.config"][0]["_offline_card_public_key"]["kid"], key["kid"])
