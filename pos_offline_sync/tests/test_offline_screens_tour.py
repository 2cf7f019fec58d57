# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.tests import tagged

from .tour_common import OfflineTourCommon


@tagged("post_install", "-at_install")
class TestOfflineScreensTour(OfflineTourCommon):
    """Odoo's POS screens an offline order passes through once synced through the dialog
    (static/tests/tours/offline_screens_tour.js); the back office is checked afterwards."""

    def setUp(self):
        super().setUp()
        self.enable_offline_mode()
        self.cash_payment_method = self.main_pos_config.payment_method_ids.filtered("is_cash_count")
        self.assertEqual(self.cash_payment_method.name, "Cash")

    def _synced_orders(self):
        return self.env["pos.order"].search(
            [("config_id", "=", self.main_pos_config.id), ("offline_synced", "=", True)]
        )

    def _by_product(self, orders, name):
        return orders.filtered(lambda o: o.lines.product_id.name == name and o.amount_total > 0)

    def assertStoredOnce(self, orders):
        for order in orders:
            self.assertEqual(
                self.env["pos.order"].search_count([("uuid", "=", order.uuid)]), 1, order.name
            )

    def assertPaidBy(self, order, method):
        self.assertIn(order.state, ("paid", "done"))
        self.assertEqual(order.payment_ids.payment_method_id, method)
        self.assertAlmostEqual(sum(order.payment_ids.mapped("amount")), order.amount_total)

    def test_orders_screen(self):
        stripe = self.enable_offline_cards()
        pushed = self.watch_odoo_sync()
        self.main_pos_config.with_user(self.pos_user).open_ui()
        self.start_pos_tour("pos_offline_sync_orders_screen_tour", login="pos_user")

        orders = self._synced_orders()
        self.assertEqual(len(orders), 3)
        self.assertStoredOnce(orders)
        # Reopened, the register does not push again through Odoo's own sync what it synced.
        self.assertFalse(set(pushed) & set(orders.mapped("uuid")), pushed)
        cash = self._by_product(orders, "Desk Pad")
        card = self._by_product(orders, "Whiteboard Pen")
        declined = self._by_product(orders, "Letter Tray")
        self.assertPaidBy(cash, self.cash_payment_method)
        self.assertEqual(cash.lines.qty, 2)
        self.assertPaidBy(card, self.bank_payment_method)
        self.assertEqual((card.payment_ids.card_brand, card.payment_ids.card_no), ("visa", "4242"))
        self.assertEqual(len(stripe.succeeded_intents(card.uuid)), 1)
        self.assertEqual(declined.state, "draft")
        self.assertFalse(declined.payment_ids)
        self.assertTrue(declined.offline_card_failed)
        self.assertEqual(stripe.succeeded_intents(declined.uuid), [])
        # The receipts reprinted from the Orders screen were counted on the orders.
        self.assertEqual((cash.nb_print, card.nb_print), (1, 1))

    def test_refund_partial_then_the_rest(self):
        self.main_pos_config.with_user(self.pos_user).open_ui()
        self.start_pos_tour("pos_offline_sync_refund_tour", login="pos_user")

        orders = self._synced_orders()
        self.assertEqual(len(orders), 3, orders.mapped("name"))
        self.assertStoredOnce(orders)
        original = orders.filtered(lambda o: o.amount_total > 0)
        refunds = (orders - original).sorted("id")
        self.assertEqual(len(original), 1)
        self.assertPaidBy(original, self.cash_payment_method)
        line = original.lines
        self.assertEqual(line.qty, 3)
        self.assertEqual(refunds.mapped("lines.qty"), [-1, -2])
        self.assertEqual(refunds.lines.refunded_orderline_id, line)
        self.assertEqual(line.refunded_qty, 3)
        self.assertEqual(original.refund_orders_count, 2)
        for refund in refunds:
            self.assertPaidBy(refund, self.cash_payment_method)
            self.assertAlmostEqual(
                refund.amount_total, line.price_subtotal_incl * refund.lines.qty / line.qty
            )
        self.assertAlmostEqual(sum(refunds.mapped("amount_total")), -original.amount_total)

    def test_invoice_asked_offline(self):
        self.pos_user.group_ids += self.env.ref("account.group_account_invoice")
        self.main_pos_config.with_user(self.pos_user).open_ui()
        self.start_pos_tour("pos_offline_sync_invoice_tour", login="pos_user")

        order = self._synced_orders()
        self.assertEqual(len(order), 1)
        self.assertStoredOnce(order)
        self.assertTrue(order.to_invoice)
        self.assertEqual(order.partner_id, self.partner_test_1)
        self.assertPaidBy(order, self.cash_payment_method)
        move = order.account_move
        self.assertEqual(len(move), 1)
        self.assertEqual((move.state, move.move_type), ("posted", "out_invoice"))
        self.assertEqual(move.partner_id, self.partner_test_1)
        self.assertAlmostEqual(move.amount_total, order.amount_total)
        self.assertAlmostEqual(move.amount_tax, order.amount_tax)
        self.assertEqual(move.invoice_line_ids.product_id.name, "Whiteboard Pen")
        self.assertEqual(move.invoice_line_ids.quantity, 5)

    def test_closing_and_sales_report(self):
        self.enable_offline_cards()
        self.main_pos_config.with_user(self.pos_user).open_ui()
        session = self.main_pos_config.current_session_id
        self.start_pos_tour("pos_offline_sync_closing_tour", login="pos_user")

        orders = self._synced_orders()
        self.assertEqual(len(orders), 3)
        self.assertStoredOnce(orders)
        self.assertEqual(session.state, "closed")
        self.assertFalse(session.order_ids.filtered(lambda o: o.state == "draft"))
        self.assertEqual(set(session.order_ids.mapped("state")), {"done"})
        cash = orders.filtered(
            lambda o: o.payment_ids.payment_method_id == self.cash_payment_method
        )
        card = orders - cash
        self.assertEqual(len(cash), 2)
        self.assertEqual(len(card), 1)
        cash_total = sum(cash.mapped("amount_total"))
        self.assertAlmostEqual(session.cash_register_balance_end, cash_total)
        self.assertAlmostEqual(session.cash_register_balance_end_real, cash_total)
        self.assertAlmostEqual(session.cash_register_difference, 0)
        self.assertTrue(session.move_id)
        self.assertEqual(session.move_id.state, "posted")

        # Odoo's own sales report counts each offline order once.
        report = self.env["report.point_of_sale.report_saledetails"].get_sale_details(
            session_ids=[session.id]
        )
        self.assertEqual(report["nbr_orders"], 3)
        self.assertAlmostEqual(report["total_paid"], sum(orders.mapped("amount_total")))
        by_method = {p.get("id"): p["total"] for p in report["payments"]}
        self.assertAlmostEqual(by_method[self.cash_payment_method.id], cash_total)
        self.assertAlmostEqual(by_method[self.bank_payment_method.id], card.amount_total)
        sold = {p["product_name"]: p["quantity"] for c in report["products"] for p in c["products"]}
        expected = {line.product_id.display_name: line.qty for line in orders.lines}
        self.assertEqual(sold, expected)
        self.assertEqual(sorted(sold.values()), [1, 1, 2])
