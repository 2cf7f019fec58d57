# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The server trusts no amount and no id an offline order brings (issue 8): the plain order and
its `odoo` part (serializeForORM(), replayed through sync_from_ui) are checked against this
register before anything is stored; a refusal names the field."""

import copy
from datetime import timedelta

from odoo import Command, fields
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import OfflineSyncCommon


@tagged("post_install", "-at_install")
class TestOfflineOrderTrust(OfflineSyncCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other = cls.setup_other_company(name="Foreign Shop")["company"]
        cls.foreign_partner = cls.env["res.partner"].create(
            {"name": "Foreign customer", "company_id": cls.other.id}
        )
        cls.foreign_pricelist = cls.env["product.pricelist"].create(
            {"name": "Foreign prices", "company_id": cls.other.id}
        )
        cls.foreign_position = cls.env["account.fiscal.position"].create(
            {"name": "Foreign position", "company_id": cls.other.id}
        )
        cls.unlisted_position = cls.env["account.fiscal.position"].create(
            {"name": "Not on this register", "company_id": cls.config.company_id.id}
        )
        cls.foreign_product = cls.env["product.product"].create(
            {
                "name": "Foreign pad",
                "available_in_pos": True,
                "lst_price": 3.5,
                "company_id": cls.other.id,
                "taxes_id": [Command.clear()],
            }
        )
        cls.not_in_pos = cls.env["product.product"].create(
            {"name": "Back office only", "available_in_pos": False, "lst_price": 3.5}
        )
        cls.foreign_tax = cls.other.account_sale_tax_id
        cls.unused_method = cls.cash_pm1.copy({"name": "Not on this register"})
        cls.tax7 = cls.taxes["tax7"]  # 7 %, excluded from the price
        cls.tax10 = cls.taxes["tax10"]  # 10 %, included in the price
        cls.taxed = cls.create_product("Taxed pen", cls.categ_basic, 3.33, tax_ids=cls.tax7.ids)
        cls.included = cls.create_product("Incl. pen", cls.categ_basic, 2.2, tax_ids=cls.tax10.ids)

    def refused(self, order, *fragments):
        [result] = self.sync(order)
        self.assertFalse(result["ok"], result)
        for fragment in fragments:
            self.assertIn(fragment, result["reason"])
        self.assertFalse(self.find(order))
        return result["reason"]

    def stored(self, order):
        [result] = self.sync(order)
        self.assertTrue(result["ok"], result)
        return self.find(order)

    def line(self, order, index=0):
        return order["odoo"]["lines"][index][2]

    # -- ids of the odoo part -------------------------------------------------------------------
    def test_a_session_of_another_register_is_refused(self):
        self.other_currency_config.open_ui()
        foreign_session = self.other_currency_config.current_session_id
        order = self.plain_order()
        order["odoo"]["session_id"] = foreign_session.id
        self.refused(order, "odoo.session_id", f"session {foreign_session.id} is not a session")
        self.assertFalse(foreign_session.order_ids)
        # The register's own session (even a closed one: rescue, test_rescue_session) is fine.
        self.stored(self.plain_order())

    def test_a_customer_of_another_company_is_refused(self):
        order = self.plain_order()
        order["odoo"]["partner_id"] = self.foreign_partner.id
        self.refused(order, "odoo.partner_id", "is not a customer of this company")
        own = self.plain_order()
        own["odoo"]["partner_id"] = self.customer.id
        self.assertEqual(self.stored(own).partner_id, self.customer)
        # Deleted since the sale: dropped, as Odoo's own sync does, rather than lose the order.
        gone = self.env["res.partner"].create({"name": "Gone"})
        deleted = self.plain_order()
        deleted["odoo"]["partner_id"] = gone.id
        gone.unlink()
        self.assertFalse(self.stored(deleted).partner_id)

    def test_a_pricelist_not_available_on_the_register_is_refused(self):
        order = self.plain_order()
        order["odoo"]["pricelist_id"] = self.foreign_pricelist.id
        self.refused(order, "odoo.pricelist_id", "is not available on this register")
        own = self.plain_order()
        own["odoo"]["pricelist_id"] = self.config.pricelist_id.id
        self.assertEqual(self.stored(own).pricelist_id, self.config.pricelist_id)

    def test_a_fiscal_position_not_of_the_register_is_refused(self):
        for position in (self.foreign_position, self.unlisted_position):
            with self.subTest(position=position.name):
                order = self.plain_order()
                order["odoo"]["fiscal_position_id"] = position.id
                self.refused(order, "odoo.fiscal_position_id", "is not one of this register")
        self.config.write(
            {
                "tax_regime_selection": True,
                "fiscal_position_ids": [Command.link(self.unlisted_position.id)],
            }
        )
        listed = self.plain_order()
        listed["odoo"]["fiscal_position_id"] = self.unlisted_position.id
        self.assertEqual(self.stored(listed).fiscal_position_id, self.unlisted_position)

    def test_a_product_not_sold_on_the_register_is_refused(self):
        for product in (self.foreign_product, self.not_in_pos):
            with self.subTest(product=product.name):
                order = self.plain_order()
                self.line(order)["product_id"] = product.id
                order["lines"][0]["product_id"] = product.id
                self.refused(order, f"line 1: product {product.id} is not sold in this register")

    def test_a_tax_of_another_company_is_refused(self):
        order = self.plain_order()
        self.line(order)["tax_ids"] = [self.foreign_tax.id]  # what serializeForORM sends
        self.refused(order, "odoo.lines[0][2].tax_ids", "belongs to another company")

    def test_a_payment_method_of_no_use_here_is_refused(self):
        order = self.plain_order()
        order["odoo"]["payment_ids"][0][2]["payment_method_id"] = self.unused_method.id
        order["payments"][0]["payment_method_id"] = self.unused_method.id
        self.refused(order, "odoo.payment_ids[0][2].payment_method_id", "is not used by this")

    def test_another_orders_records_are_out_of_reach(self):
        victim = self.stored(self.plain_order())
        order = self.plain_order()
        order["odoo"]["lines"].append([1, victim.lines.id, {"qty": 99}])
        self.refused(order, "odoo.lines[1]", "is not of this order")
        order = self.plain_order()
        order["odoo"]["relations_uuid_mapping"] = {"res.users": {"x": {"login": "y"}}}
        self.refused(order, "odoo.relations_uuid_mapping.res.users", "not a model of this order")
        order = self.plain_order()
        order["odoo"]["company_id"] = self.other.id
        self.refused(order, "odoo.company_id", "is not this register's")
        self.assertEqual(victim.lines.qty, 2)

    def test_a_draft_synced_before_it_was_finished_offline_is_completed(self):
        # Odoo's own sync stored the order as a draft with its payment; finished offline, it
        # comes again with both: its own records, not another order's.
        order = self.plain_order()
        order["odoo"]["access_token"] = "token-1"  # the browser sends it; Odoo deletes it
        self.line(order)["uuid"] = "line-1"  # the browser's lines have theirs: matched on it
        draft = copy.deepcopy(order["odoo"])
        draft["state"] = "draft"
        self.env["pos.order"].sync_from_ui([draft])
        existing = self.find(order)
        self.assertEqual((existing.state, len(existing.payment_ids)), ("draft", 1))
        pos_order = self.stored(order)
        self.assertEqual(pos_order, existing)
        self.assertEqual(pos_order.state, "paid")
        self.assertEqual((len(pos_order.lines), len(pos_order.payment_ids)), (1, 1))
        # Its own line by id is fine too; another order's is not (above).
        again = self.plain_order()
        again["odoo"]["access_token"] = "token-2"
        self.line(again)["uuid"] = "line-2"
        draft = copy.deepcopy(again["odoo"])
        draft["state"] = "draft"
        self.env["pos.order"].sync_from_ui([draft])
        line = self.find(again).lines
        again["odoo"]["lines"] = [[1, line.id, dict(again["odoo"]["lines"][0][2])]]
        self.assertEqual(self.stored(again).lines, line)

    def test_a_drafts_lines_sent_again_as_creates_keep_their_names(self):
        # Odoo turns a create naming a line the draft has (its uuid) into an update of it: the
        # line keeps the name it was given, and no number is drawn for it.
        order = self.plain_order([(self.desk_pad, 1), (self.lamp, 1)])
        order["odoo"]["access_token"] = "token-3"  # the browser sends it; Odoo deletes it
        draft = copy.deepcopy(order["odoo"])
        draft["state"] = "draft"
        self.env["pos.order"].sync_from_ui([draft])
        names = self.find(order).lines.sorted("id").mapped("name")
        sequence = self.config.order_line_seq_id
        sequence.invalidate_recordset()
        next_number = sequence.number_next_actual
        pos_order = self.stored(order)
        self.assertEqual(pos_order.state, "paid")
        self.assertEqual(pos_order.lines.sorted("id").mapped("name"), names)
        sequence.invalidate_recordset()
        self.assertEqual(sequence.number_next_actual, next_number)

    def test_ids_past_the_database_range_are_a_reason_not_an_overflow(self):
        for path, value in (("session_id", 2**31), ("partner_id", 2**80)):
            with self.subTest(path=path):
                order = self.plain_order()
                order["odoo"][path] = value
                self.refused(order, f"odoo.{path} is out of range: {value}")
        order = self.plain_order()
        self.line(order)["product_id"] = 2**63
        self.refused(order, "odoo.lines[0][2].product_id is out of range")
        order = self.plain_order()
        order["lines"][0]["qty"] = 10**7
        self.refused(order, "line 1: quantity is too large")
        order = self.plain_order()
        order["amount_total"] = 1e26
        self.refused(order, "amount_total is too large: 1e+26")
        PosOrder = self.env["pos.order"]
        for method in ("offline_sync_orders", "offline_process_card", "offline_card_public_key"):
            for config_id in (2**31, 2**80):
                with (
                    self.subTest(method=method, config_id=config_id),
                    self.assertRaisesRegex(UserError, "ids are 1 to 2147483647"),
                ):
                    getattr(PosOrder, method)({"v": 1, "config_id": config_id, "orders": []})

    def test_fields_the_register_never_sets_are_dropped(self):
        order = self.plain_order()
        order["odoo"].update(offline_card_failed=True, account_move=1, no_such_field="x")
        pos_order = self.stored(order)
        self.assertFalse(pos_order.offline_card_failed or pos_order.account_move)

    def test_fields_written_through_to_another_record_are_dropped(self):
        # A lot's product_id is its line's, an order's picking_type_id its register's: set by
        # the register they would rewrite what was checked (the line's product) or the
        # register itself.
        picking_type = self.config.picking_type_id
        other_type = picking_type.copy({"name": "Not this register's", "sequence_code": "NOT"})
        order = self.plain_order([(self.desk_pad, 1)])
        order["odoo"]["picking_type_id"] = other_type.id
        self.line(order)["pack_lot_ids"] = [
            [0, 0, {"lot_name": "LOT-1", "product_id": self.not_in_pos.id}]
        ]
        pos_order = self.stored(order)
        self.assertEqual(pos_order.lines.product_id, self.desk_pad)
        self.assertEqual(pos_order.lines.pack_lot_ids.product_id, self.desk_pad)
        self.assertEqual(self.config.picking_type_id, picking_type)

    def test_another_register_of_the_company_is_refused(self):
        other = self.env["pos.config"].create({"name": "Other register of the shop"})
        order = self.plain_order()
        order["odoo"]["config_id"] = other.id
        self.refused(order, "odoo.config_id", f"register {other.id} is not this register")
        order = self.plain_order()
        order["odoo"]["config_id"] = self.config.id  # as Odoo's register sends it: its own
        self.assertEqual(self.stored(order).config_id, self.config)

    def test_a_product_checked_for_one_use_is_checked_again_for_another(self):
        # One call: a record found good where only its company counts (a lot's product, if
        # it were kept) is no product sold here for a later line.
        first = self.plain_order([(self.desk_pad, 1)])
        self.line(first)["pack_lot_ids"] = [
            [0, 0, {"lot_name": "LOT-2", "product_id": self.not_in_pos.id}]
        ]
        second = self.plain_order()
        self.line(second)["product_id"] = self.not_in_pos.id
        second["lines"][0]["product_id"] = self.not_in_pos.id
        results = self.sync(first, second)
        self.assertTrue(results[0]["ok"], results[0])
        self.assertFalse(results[1]["ok"])
        self.assertIn(f"product {self.not_in_pos.id} is not sold", results[1]["reason"])

    def test_control_characters_are_refused_with_the_field(self):
        order = self.plain_order()
        order["odoo"]["general_customer_note"] = "Ring\x00twice"
        self.refused(order, "odoo.general_customer_note contains a control character (U+0000)")
        order = self.plain_order()
        order["odoo"]["general_customer_note"] = "Ring twice.\nThanks"
        self.assertEqual(self.stored(order).general_customer_note, "Ring twice.\nThanks")
        order = self.plain_order()
        order["reference"] = "Order\x001"
        self.refused(order, "reference contains a control character (U+0000)")

    # -- amounts ----------------------------------------------------------------------------------
    def test_taxed_lines_pass_at_their_amounts(self):
        # 3 x 3.33 + 7 % = 10.69; 2 x 2.20 with 10 % included = 4.40.
        order = self.plain_order([(self.taxed, 3), (self.included, 2), (self.desk_pad, 1)])
        pos_order = self.stored(order)
        self.assertEqual(pos_order.state, "paid")
        self.assertAlmostEqual(pos_order.amount_total, 10.69 + 4.40 + 3.5)

    def test_a_line_total_off_its_taxes_is_refused(self):
        order = self.plain_order([(self.taxed, 3), (self.desk_pad, 1)])
        # Without its tax, and the order's totals made to agree: still refused.
        self.line(order)["price_subtotal_incl"] = 9.99
        order["lines"][0]["price_subtotal_incl"] = 9.99
        total = 9.99 + 3.5
        order["odoo"]["amount_total"] = order["amount_total"] = total
        order["odoo"]["amount_paid"] = order["amount_paid"] = total
        order["odoo"]["payment_ids"][0][2]["amount"] = order["payments"][0]["amount"] = total
        self.refused(order, "line 1: line total 9.99 is not quantity x unit price", "10.69")
        # Within Odoo's spread of rounding over the lines (one unit per tax, one for the order).
        order = self.plain_order([(self.taxed, 3)])
        self.line(order)["price_subtotal_incl"] = 10.71
        order["lines"][0]["price_subtotal_incl"] = 10.71
        order["odoo"]["amount_total"] = order["amount_total"] = 10.71
        order["odoo"]["amount_tax"] = 10.71 - self.line(order)["price_subtotal"]
        order["odoo"]["payment_ids"][0][2]["amount"] = order["payments"][0]["amount"] = 10.71
        self.stored(order)

    def test_totals_must_agree_with_the_lines_and_the_plain_order(self):
        order = self.plain_order([(self.lamp, 1)])
        order["odoo"]["amount_total"] = 11.0
        self.refused(order, "odoo.amount_total: 11.00 is not the sum of its lines (12.00)")
        order = self.plain_order([(self.taxed, 1)])
        order["odoo"]["amount_tax"] = 0.0
        self.refused(order, "odoo.amount_tax: 0.00 is not the taxes of its lines (0.23)")
        order = self.plain_order([(self.lamp, 1)])
        order["amount_total"] = order["lines"][0]["price_subtotal_incl"] = 1.0
        self.refused(order, "odoo.amount_total: 12.00 is not the order's amount_total (1.00)")
        order = self.plain_order([(self.lamp, 1)])
        order["amount_total"] = 13.0
        self.refused(order, "amount_total 13.00 is not the sum of the lines (12.00)")

    def test_payments_must_be_the_plain_orders(self):
        order = self.plain_order()
        order["odoo"]["payment_ids"][0][2]["amount"] = 70.0
        self.refused(order, "odoo.payment_ids[0][2]: is not one of the order's payments")
        order = self.plain_order()
        order["odoo"]["payment_ids"].append(copy.deepcopy(order["odoo"]["payment_ids"][0]))
        self.refused(order, "odoo.payment_ids[1][2]: is not one of the order's payments")

    def test_paid_requires_payments_covering_the_total(self):
        order = self.plain_order(payments=[(self.cash_pm1, 5.0)])
        self.refused(order, "not fully paid")
        # Sent as a draft (unpaid), it is stored unpaid.
        order["odoo"]["state"] = "draft"
        self.assertEqual(self.stored(order).state, "draft")

    def test_negative_total_only_on_a_return(self):
        order = self.plain_order([(self.desk_pad, -2)], payments=[(self.cash_pm1, -7.0)])
        order["is_return"] = False
        self.refused(order, "amount_total is negative (-7.00) but the order is not a return")

    def test_a_return_as_odoos_register_sends_it(self):
        # Odoo 19's register: a return's line totals with the order's sign undone (+), its
        # amount_total negative; the plain lines (the addon's serializer) signed like their qty.
        order = self.plain_order([(self.taxed, -3)], payments=[(self.cash_pm1, -10.69)])
        order["is_return"] = True
        order["odoo"]["is_refund"] = True
        line = self.line(order)
        self.assertEqual((line["price_subtotal_incl"], order["amount_total"]), (-10.69, -10.69))
        line["price_subtotal_incl"], line["price_subtotal"] = 10.69, 9.99
        pos_order = self.stored(order)
        self.assertEqual(pos_order.state, "paid")
        self.assertAlmostEqual(pos_order.amount_total, -10.69)
        # A line whose amount is not its quantity's, either way round, is still refused.
        order = self.plain_order([(self.taxed, -3)], payments=[(self.cash_pm1, -10.69)])
        order["is_return"] = True
        self.line(order)["price_subtotal_incl"] = 9.99
        self.refused(order, "line 1: line total 9.99 is not quantity x unit price")

    def test_plain_order_lines_are_checked_with_their_taxes(self):
        # A CSV-like plain order (no odoo part): Odoo computes the lines itself; a register
        # line that says otherwise is refused rather than stored at another total.
        order = self.plain_order([(self.taxed, 3)])
        del order["odoo"]
        self.assertEqual(self.stored(order).amount_total, 10.69)
        order = self.plain_order([(self.taxed, 3)])
        del order["odoo"]
        order["lines"][0]["price_subtotal_incl"] = order["amount_total"] = 9.99
        order["payments"][0]["amount"] = 9.99
        self.refused(order, "line 1: line total 9.99 is not quantity x unit price", "10.69")

    def test_a_foreign_customer_of_a_plain_order_is_refused(self):
        order = self.plain_order()
        del order["odoo"]
        order["customer"] = {"id": self.foreign_partner.id, "name": "x"}
        self.refused(order, "customer id: customer", "is not a customer of this company")

    def test_created_at_is_judged_on_the_server_clock(self):
        order = self.plain_order()
        order["created_at"] = (fields.Datetime.now() + timedelta(hours=1)).isoformat() + "Z"
        self.refused(order, "after the server's time: check the register's clock")

    # -- numbered case 5 in Odoo ---------------------------------------------------------------
    def test_offline_card_method_without_a_card_never_pays(self):
        order = self.plain_order(payments=[(self.card_pm, 7.0)])
        order["payments"][0]["card"] = None
        [result] = self.sync(order)
        self.assertTrue(result["ok"] and not result["paid"], result)
        pos_order = self.find(order)
        self.assertEqual(pos_order.state, "draft")
        self.assertTrue(pos_order.offline_card_failed)
        self.assertFalse(pos_order.payment_ids)
        self.assertIn(
            "Card payment of 7.00 USD on Card (offline) has no card charged",
            pos_order.offline_card_failure,
        )


@tagged("post_install", "-at_install")
class TestOfflineCardRiskAtSync(OfflineSyncCommon):
    """The POS's three offline card limits, enforced by the server on the cards it receives
    unprocessed (a register could skip its own check), on the server's clock."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.provider = cls.start_localstripe("Stripe (risk)")
        cls.products = {
            amount: cls.create_product(f"Item {amount}", cls.categ_basic, amount)
            for amount in (7.0, 7.01, 6.0, 5.0, 0.01)
        }

    def setUp(self):
        super().setUp()
        self.registry_enter_test_mode()  # the ledger commits through cursors of its own

    def card_order(self, amount, minutes_ago=1):
        order = self.plain_order([(self.products[amount], 1)], payments=[(self.card_pm, amount)])
        when = fields.Datetime.now() - timedelta(minutes=minutes_ago)
        order["created_at"] = when.isoformat() + "Z"
        return order

    def charged(self, order):
        return len(self.stripe.succeeded_intents(order["uuid"]))

    def assert_held(self, order, fragment):
        pos_order = self.find(order)
        self.assertEqual(pos_order.state, "draft")
        self.assertTrue(pos_order.offline_card_failed)
        self.assertFalse(pos_order.payment_ids)
        self.assertIn("not charged", pos_order.offline_card_failure)
        self.assertIn(fragment, pos_order.offline_card_failure)
        self.assertEqual(self.charged(order), 0)

    def test_per_payment_limit(self):
        self.config.offline_card_max_amount = 7.0
        at, over = self.card_order(7.0), self.card_order(7.01)
        results = self.sync(at, over)
        self.assertEqual([(r["ok"], r["paid"]) for r in results], [(True, True), (True, False)])
        self.assertEqual(self.charged(at), 1)
        self.assert_held(over, "over this POS's limit of 7.00")

    def test_total_of_unprocessed_cards(self):
        self.config.offline_card_max_total = 11.0
        first = self.card_order(6.0, minutes_ago=10)
        second = self.card_order(5.0, minutes_ago=5)
        third = self.card_order(0.01, minutes_ago=2)
        # Sent newest first: judged in the order the register took them.
        results = self.sync(third, second, first)
        self.assertEqual([r["paid"] for r in results], [False, True, True], results)
        self.assert_held(third, "would reach 11.01")

    def test_age_on_the_server_clock(self):
        self.config.offline_card_max_age_hours = 1
        young, old = self.card_order(7.0, minutes_ago=59), self.card_order(7.0, minutes_ago=61)
        results = self.sync(young, old)
        self.assertEqual([r["paid"] for r in results], [True, False], results)
        self.assertEqual(self.charged(young), 1)
        self.assert_held(old, "waited 1 h 01 min unprocessed")
