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

    def test_change_rounded_to_the_registers_cash_rounding_lands(self):
        """15.02 paid 20, cash rounded in steps of 0.05 (half-up): Odoo's register gives 5.00
        back, 0.02 more than was overpaid, and Odoo counts the order paid at 15.00."""
        rounding = self.env["account.cash.rounding"].create(
            {
                "name": "Offline test 0.05",
                "rounding": 0.05,
                "rounding_method": "HALF-UP",
                "strategy": "add_invoice_line",
                "profit_account_id": self.company_data["default_account_revenue"].id,
                "loss_account_id": self.company_data["default_account_expense"].id,
            }
        )
        self.config.write({"cash_rounding": True, "rounding_method": rounding.id})
        odd = self.create_product("Odd Price", self.categ_basic, 15.02)
        self.assertEqual(self.create_ui_order_data([(odd, 1)])["amount_total"], 15.02)
        order = self.sale([(odd, 1)], 20.0, 5.0, -5.0)
        stored = self.assertLandedWithChange(order, -5.0)
        self.assertAlmostEqual(stored.amount_paid, 15.0)
        # Past one step: refused.
        order = self.sale([(odd, 1)], 20.0, 5.05, -5.05)
        self.assertFalse(self.sync(order)[0]["ok"])

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
