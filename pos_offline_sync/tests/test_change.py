# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Change given back, as Odoo 19's register sends it: its `change` getter signs it against the
payments (a sale paid 20 for 15: amount_return -5; a refund of 7 paid out 9: +2), rounded to
the register's cash rounding when it has one; Odoo books it as the order's change line. The
plain order carries it unsigned; an older register stored Odoo's sign there."""

from odoo.tests import tagged

from .common import OfflineSyncCommon


@tagged("post_install", "-at_install")
class TestChange(OfflineSyncCommon):
    def sale(self, lines, tendered, change, odoo_change):
        order = self.plain_order(lines, [(self.cash_pm1, tendered)])
        order["amount_return"] = change
        order["odoo"]["amount_return"] = odoo_change
        return order

    def assertLandedWithChange(self, order, change_line):
        results = self.sync(order)
        self.assertEqual([r["status"] for r in results], ["created"], results)
        stored = self.find(order)
        self.assertEqual(stored.state, "paid")
        changes = stored.payment_ids.filtered("is_change")
        self.assertEqual(changes.mapped("amount"), [change_line])
        self.assertEqual(changes.payment_method_id, self.cash_pm1)
        return stored

    def test_a_sale_with_change_lands_with_its_change_line(self):
        total = self.create_ui_order_data([(self.desk_pad, 2)])["amount_total"]
        order = self.sale([(self.desk_pad, 2)], total + 5, 5.0, -5.0)
        stored = self.assertLandedWithChange(order, -5.0)
        self.assertAlmostEqual(stored.amount_paid, total)

    def test_a_sale_an_older_register_stored_with_odoos_sign_lands(self):
        """Refused before 19.0.1.4.0 and kept in its browser: sent again, it lands once."""
        total = self.create_ui_order_data([(self.desk_pad, 2)])["amount_total"]
        order = self.sale([(self.desk_pad, 2)], total + 5, -5.0, -5.0)
        self.assertLandedWithChange(order, -5.0)
        self.assertEqual(self.sync(order)[0]["status"], "exists")
        self.assertEqual(len(self.find(order)), 1)

    def test_more_change_than_was_overpaid_is_refused(self):
        total = self.create_ui_order_data([(self.desk_pad, 2)])["amount_total"]
        order = self.sale([(self.desk_pad, 2)], total + 5, 6.0, -6.0)
        (result,) = self.sync(order)
        self.assertFalse(result["ok"])
        self.assertIn("amount_return 6.00 is more than", result["reason"])
        self.assertFalse(self.find(order))

    def cash_rounding(self, method, only_cash=False):
        rounding = self.env["account.cash.rounding"].create(
            {
                "name": f"Offline test 0.05 {method}",
                "rounding": 0.05,
                "rounding_method": method,
                "strategy": "add_invoice_line",
                "profit_account_id": self.company_data["default_account_revenue"].id,
                "loss_account_id": self.company_data["default_account_expense"].id,
            }
        )
        self.config.write(
            {
                "cash_rounding": True,
                "rounding_method": rounding.id,
                "only_round_cash_method": only_cash,
            }
        )
        return self.create_product("Odd Price", self.categ_basic, 15.02)

    def test_change_from_the_cash_rounded_total_lands(self):
        """15.02 paid 20, cash rounded in steps of 0.05 half-up: Odoo's register gives 5.00
        back (from 15.00), 0.02 more than was overpaid, and Odoo counts it paid at 15.00."""
        odd = self.cash_rounding("HALF-UP")
        self.assertEqual(self.create_ui_order_data([(odd, 1)])["amount_total"], 15.02)
        stored = self.assertLandedWithChange(self.sale([(odd, 1)], 20.0, 5.0, -5.0), -5.0)
        self.assertAlmostEqual(stored.amount_paid, 15.0)
        # More than from 15.00: refused by the addon, with its reason.
        (result,) = self.sync(self.sale([(odd, 1)], 20.0, 5.05, -5.05))
        self.assertIn("amount_return 5.05 is more than", result["reason"])

    def test_rounding_up_gives_less_change_and_more_is_refused(self):
        odd = self.cash_rounding("UP")
        (result,) = self.sync(self.sale([(odd, 1)], 20.0, 5.0, -5.0))
        self.assertIn(
            "amount_return 5.00 is more than the payments exceed the total by (4.95)",
            result["reason"],
        )
        self.assertLandedWithChange(self.sale([(odd, 1)], 20.0, 4.95, -4.95), -4.95)

    def test_no_change_without_an_overpayment_whatever_the_rounding(self):
        """Paid by card exactly what Odoo counts due (15.02 rounded down to 15.00): a few
        cents of "change" would be cash never given: refused, cash only or not."""
        for only_cash in (False, True):
            odd = self.cash_rounding("DOWN", only_cash=only_cash)
            order = self.plain_order([(odd, 1)], [(self.bank_pm1, 15.0)])
            order["amount_paid"] = order["odoo"]["amount_paid"] = 15.0
            order["amount_return"] = 0.04
            order["odoo"]["amount_return"] = -0.04
            (result,) = self.sync(order)
            self.assertIn("amount_return 0.04 is more than", result["reason"])
            self.assertFalse(self.find(order))

    def test_a_refund_paid_out_too_much_lands_with_its_change_line(self):
        """A refund of 3.5 paid out 5 in cash, 1.5 given back by the customer: Odoo's register
        sends +1.5, which Odoo books as a change line of +1.5."""
        order = self.plain_order([(self.desk_pad, -1)], [(self.cash_pm1, -5.0)])
        order["is_return"] = True
        order["odoo"]["is_refund"] = True
        total = order["amount_total"]
        self.assertLess(total, 0)
        change = round(-5.0 - total, 2) * -1
        order["amount_return"] = change
        order["odoo"]["amount_return"] = change
        stored = self.assertLandedWithChange(order, change)
        self.assertAlmostEqual(stored.amount_paid, total)
