# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""A committed register for tests of concurrent workers (the deferred pickings' cron workers,
registers' syncs and CSV imports taking turns): each worker on a cursor of its own that
commits, as in production, instead of the test's one transaction."""

import uuid
from collections import Counter

from odoo import SUPERUSER_ID, api, fields
from odoo.tests import TransactionCase
from odoo.tools import SQL


def ui_order(order_uuid, session, method, lines, user_id):
    """Odoo's own UI order data (what sync_from_ui takes) for `lines` [(product, qty)] of
    untaxed goods at their list price, paid in full with `method`."""
    total = sum(product.list_price * qty for product, qty in lines)
    return {
        "uuid": order_uuid,
        "name": f"Order {order_uuid}",
        "session_id": session.id,
        "pricelist_id": session.config_id.pricelist_id.id,
        "user_id": user_id,
        "amount_total": total,
        "amount_tax": 0,
        "amount_paid": total,
        "amount_return": 0,
        "lines": [
            (
                0,
                0,
                {
                    "product_id": product.id,
                    "qty": qty,
                    "price_unit": product.list_price,
                    "price_subtotal": product.list_price * qty,
                    "price_subtotal_incl": product.list_price * qty,
                    "tax_ids": [(6, 0, [])],
                },
            )
            for product, qty in lines
        ],
        "payment_ids": [(0, 0, {"amount": total, "payment_method_id": method.id})],
    }


def plain_order(session, method, lines, user):
    """The register's offline order (CONTRACTS §1) around ui_order's data."""
    order_uuid = str(uuid.uuid4())
    odoo = ui_order(order_uuid, session, method, lines, user.id)
    pay_uuid = str(uuid.uuid4())
    odoo["payment_ids"][0][2]["uuid"] = pay_uuid
    return {
        "v": 1,
        "uuid": order_uuid,
        "reference": odoo["name"],
        "created_at": fields.Datetime.now().isoformat() + "Z",
        "config_id": session.config_id.id,
        "session_id": session.id,
        "cashier": {"id": user.id, "name": user.name},
        "customer": None,
        "currency": session.config_id.currency_id.name,
        "lines": [
            {
                "product_id": product.id,
                "product_name": product.name,
                "qty": qty,
                "price_unit": product.list_price,
                "discount": 0,
                "price_subtotal_incl": product.list_price * qty,
            }
            for product, qty in lines
        ],
        "payments": [
            {
                "uuid": pay_uuid,
                "payment_method_id": method.id,
                "payment_method_name": method.name,
                "amount": odoo["amount_total"],
                "card": None,
            }
        ],
        "amount_total": odoo["amount_total"],
        "amount_tax": 0.0,
        "amount_paid": odoo["amount_paid"],
        "amount_return": 0.0,
        "is_return": False,
        "odoo": odoo,
    }


class CommittedRegisterCase(TransactionCase):
    """A register of its own (config, bank method, two storable goods, an open session and
    N orders landed with their pickings pending), committed, for tests of workers on their
    own committed cursors, as Odoo's cron and HTTP workers are; closed at the end."""

    N = 0

    def setUp(self):
        super().setUp()
        self.ids = self.committed(self.make_register)
        self.addCleanup(self.committed, self.close_register)

    # -- committed work -----------------------------------------------------------------------
    def committed(self, func, *args):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            return func(env, *args)

    def make_register(self, env):
        company = env.ref("base.main_company")
        env = env(context={"allowed_company_ids": [company.id]})
        tag = uuid.uuid4().hex[:8]  # a register of its own on every run
        journal = env["account.journal"].create(
            {
                "name": f"Committed register {tag}",
                "type": "bank",
                "code": f"D{tag[:4].upper()}",
                "company_id": company.id,
            }
        )
        method = env["pos.payment.method"].create(
            {
                "name": f"Committed register bank {tag}",
                "journal_id": journal.id,
                "company_id": company.id,
            }
        )
        config = env["pos.config"].create(
            {
                "name": f"Committed register {tag}",
                "payment_method_ids": [(6, 0, method.ids)],
                "company_id": company.id,
            }
        )
        products = env["product.product"].create(
            [
                {
                    "name": f"Committed register {name} {tag}",
                    "is_storable": True,
                    "available_in_pos": True,
                    "list_price": price,
                    "taxes_id": [(5, 0, 0)],
                }
                for name, price in (("bolt", 2.0), ("nut", 1.0))
            ]
        )
        config.open_ui()
        session = config.current_session_id
        session.set_opening_control(0, None)
        PosOrder = env["pos.order"].with_context(pos_offline_defer_picking=True)
        for i in range(self.N):
            lines = [(products[0], 1 + i % 3), (products[1], 2)]
            PosOrder.sync_from_ui(
                [ui_order(f"committed-register-{tag}-{i}", session, method, lines, SUPERUSER_ID)]
            )
        orders = env["pos.order"].search([("session_id", "=", session.id)])
        assert len(orders) == self.N and all(orders.mapped("offline_picking_pending"))
        assert not orders.picking_ids
        return {
            "session": session.id,
            "orders": orders.ids,
            "config": config.id,
            "method": method.id,
            "products": products.ids,
            "tag": tag,
        }

    def close_register(self, env):
        session = env["pos.session"].browse(self.ids["session"])
        if session.state != "closed":
            session.close_session_from_ui()

    def picking_counts(self, env):
        env.invalidate_all()
        orders = env["pos.order"].browse(self.ids["orders"])
        return Counter((len(o.picking_ids), o.offline_picking_pending) for o in orders)

    def orders_where(self):
        return SQL("id = ANY(%s)", self.ids["orders"])
