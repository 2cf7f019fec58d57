# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import base64
import unittest
import uuid

from odoo import Command, fields
from odoo.addons.base.tests.common import DISABLED_MAIL_CONTEXT
from odoo.addons.point_of_sale.tests.common import TestPoSCommon
from odoo.tests import new_test_user

from ..core import card_envelope, card_keys
from .kek import use_new_kek
from .localstripe import SECRET_KEY, LocalStripe


def skip_without_stripe(env):
    """Skips the calling test (or class) when payment_stripe is not installed: the addon reads
    the Stripe key from its provider (and without it says "install the Stripe payment
    provider"); localstripe.LocalStripe() skips in turn when localstripe is missing."""
    if "payment.provider" not in env or "stripe_secret_key" not in env["payment.provider"]._fields:
        raise unittest.SkipTest("payment_stripe is not installed in this database")


UNKNOWN_PRODUCT_ID = 999999999


def with_production_chatter(env):
    """`env` with the chatter Odoo's test classes switch off (DISABLED_MAIL_CONTEXT) switched
    back on: the creation notes, followers and tracking an order gets in production."""
    return env(context={k: v for k, v in env.context.items() if k not in DISABLED_MAIL_CONTEXT})


class OfflineSyncCommon(TestPoSCommon):
    """A register with offline mode on, an open session and plain offline orders (CONTRACTS §1)
    whose `odoo` part is Odoo's own UI order data."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The card keys' KEK: a key file outside the database, named by the configuration.
        cls.kek_file = use_new_kek(cls.addClassCleanup)
        cls.config = cls.basic_config
        cls.card_pm = cls.bank_pm1.copy({"name": "Card (offline)", "offline_card_capture": True})
        cls.config.write(
            {
                "allow_offline_mode": True,
                "payment_method_ids": [(4, cls.card_pm.id)],
            }
        )
        cls.desk_pad = cls.create_product("Desk Pad", cls.categ_basic, 3.5)
        cls.lamp = cls.create_product("Lamp", cls.categ_basic, 12.0)

    def setUp(self):
        super().setUp()
        self.open_new_session()

    @classmethod
    def start_localstripe(cls, provider_name):
        """localstripe for the class (cls.stripe) and the company's Stripe provider pointing at
        it, returned; skips the class without payment_stripe or localstripe."""
        skip_without_stripe(cls.env)
        cls.stripe = LocalStripe()
        cls.addClassCleanup(cls.stripe.stop)
        cls.env["ir.config_parameter"].sudo().set_param(
            "pos_offline_sync.stripe_api_base", cls.stripe.url
        )
        return cls.env["payment.provider"].create(
            {
                "name": provider_name,
                "code": "stripe",
                "state": "test",
                "company_id": cls.config.company_id.id,
                "stripe_secret_key": SECRET_KEY,
                "stripe_publishable_key": "pk_test_pos_offline_sync",
            }
        )

    # -- plain orders ----------------------------------------------------------------------
    def plain_order(self, lines=None, payments=None, order_uuid=None):
        """A finalized offline order: `lines` [(product, qty)], `payments` [(method, amount)]
        (cash for the total when None); card payments get a sealed card."""
        order_uuid = order_uuid or str(uuid.uuid4())
        lines = lines or [(self.desk_pad, 2)]
        # With its taxes, as Odoo's UI order data computes the lines.
        total = self.create_ui_order_data(lines)["amount_total"]
        payments = payments if payments is not None else [(self.cash_pm1, total)]
        odoo = self.create_ui_order_data(lines, payments=payments, uuid=order_uuid)
        # As the register sends them: every line and payment with its own uuid.
        for command in odoo["lines"]:
            command[2]["uuid"] = str(uuid.uuid4())
        plain_payments = []
        for command, (method, amount) in zip(odoo["payment_ids"], payments, strict=True):
            pay_uuid = str(uuid.uuid4())
            command[2]["uuid"] = pay_uuid
            plain_payments.append(
                {
                    "uuid": pay_uuid,
                    "payment_method_id": method.id,
                    "payment_method_name": method.name,
                    "amount": amount,
                    "card": self.card(pay_uuid) if method.offline_card_capture else None,
                }
            )
        return {
            "v": 1,
            "uuid": order_uuid,
            "reference": odoo["name"],
            # The server judges created_at on its own clock (risk limits, plausibility).
            "created_at": fields.Datetime.now().isoformat() + "Z",
            "config_id": self.config.id,
            "session_id": self.pos_session.id,
            "cashier": {"id": self.env.uid, "name": self.env.user.name},
            "customer": None,
            "currency": self.config.currency_id.name,
            "lines": [
                {
                    "product_id": cmd[2]["product_id"],
                    "product_name": product.name,
                    "qty": qty,
                    "price_unit": cmd[2]["price_unit"],
                    "discount": 0,
                    "price_subtotal_incl": cmd[2]["price_subtotal_incl"],
                }
                for cmd, (product, qty) in zip(odoo["lines"], lines, strict=True)
            ],
            "payments": plain_payments,
            "amount_total": odoo["amount_total"],
            "amount_tax": odoo["amount_tax"],
            "amount_paid": odoo["amount_paid"],
            "amount_return": 0.0,
            "is_return": False,
            "odoo": odoo,
        }

    def order_with_unknown_product(self):
        """A plain order whose line names a product that does not exist: refused at the
        register's checks, before anything of it is written."""
        order = self.plain_order()
        order["odoo"]["lines"][0][2]["product_id"] = UNKNOWN_PRODUCT_ID
        return order

    def card(self, pay_uuid, number="4242424242424242"):
        """What the register keeps of a card: brand, last 4, expiry and the sealed envelope."""
        key = self.config._offline_card_public_key()
        info = card_keys.PublicKeyInfo(kid=key["kid"], spki_der=base64.b64decode(key["spki"]))
        envelope = card_envelope.seal_card(
            {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123", "name": "Ann"},
            info.kid,
            info.load(),
        )
        return {
            "brand": card_envelope.card_brand(number),
            "last4": number[-4:],
            "exp_month": 12,
            "exp_year": 2030,
            "envelope": envelope,
            "status": "unprocessed",
            "payment_intent_id": None,
            "message": None,
            "decline_code": None,
        }

    def sync(self, *orders, user=None):
        PosOrder = self.env["pos.order"].with_user(user) if user else self.env["pos.order"]
        return PosOrder.offline_sync_orders(
            {"v": 1, "config_id": self.config.id, "orders": list(orders)}
        )["results"]

    def find(self, order):
        return self.env["pos.order"].search([("uuid", "=", order["uuid"])])


POS_USER_GROUPS = "base.group_user,point_of_sale.group_pos_user"


def company_user(env, login, company, groups=POS_USER_GROUPS):
    """A test user of one company only (a cashier by default), for the access tests."""
    return new_test_user(
        env,
        login=login,
        groups=groups,
        company_id=company.id,
        company_ids=[Command.set(company.ids)],
    )
