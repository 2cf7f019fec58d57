# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, http
from odoo.addons.point_of_sale.tests.test_frontend import TestPointOfSaleHttpCommon
from odoo.tests import Form

from .common import skip_without_stripe
from .kek import use_new_kek
from .localstripe import SECRET_KEY, LocalStripe


class OfflineTourCommon(TestPointOfSaleHttpCommon):
    """Odoo's own POS tour setup, with offline mode turned on the way a manager does."""

    def enable_offline_mode(self):
        settings = Form(self.env["res.config.settings"])
        settings.pos_config_id = self.main_pos_config
        settings.pos_allow_offline_mode = True
        settings.save().execute()
        self.assertTrue(self.main_pos_config.allow_offline_mode)

    def watch_odoo_sync(self):
        """The uuids the register sends through Odoo's own sync_from_ui route (not the addon's
        offline_sync_orders, which stores through the same method): a list filled as it goes."""
        pushed = []
        PosOrder = type(self.env["pos.order"])
        own = PosOrder.sync_from_ui

        @api.model
        def sync_from_ui(records, orders):
            request = http.request
            if request and request.httprequest.path.endswith("/pos.order/sync_from_ui"):
                pushed.extend(order.get("uuid") for order in orders)
            return own(records, orders)

        self.patch(PosOrder, "sync_from_ui", sync_from_ui)
        return pushed

    def enable_offline_cards(self):
        """Cards taken offline on the "Bank" method, charged through localstripe; returns it.
        Skips the test without payment_stripe or localstripe."""
        skip_without_stripe(self.env)
        # Their keys wrapped by a KEK file the configuration names.
        use_new_kek(self.addCleanup)
        self.bank_payment_method.offline_card_capture = True
        stripe = LocalStripe()
        self.addCleanup(stripe.stop)
        self.env["ir.config_parameter"].sudo().set_param(
            "pos_offline_sync.stripe_api_base", stripe.url
        )
        self.env["payment.provider"].create(
            {
                "name": "Stripe (tour)",
                "code": "stripe",
                "state": "test",
                "company_id": self.main_pos_config.company_id.id,
                "stripe_secret_key": SECRET_KEY,
                "stripe_publishable_key": "pk_test_pos_offline_sync",
            }
        )
        return stripe
