# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import base64

from odoo import api, fields, models
from odoo.exceptions import AccessError

from ..core import card_keys


class PosOfflineCardKey(models.Model):
    """A company's RSA key pair for cards captured offline.

    The private key is readable only by system administrators (field group and access rights);
    the charge path reads it with sudo, and nothing else does.
    """

    _name = "pos.offline.card.key"
    _description = "Offline Card Key"
    _order = "company_id, id desc"

    company_id = fields.Many2one("res.company", required=True, index=True, readonly=True)
    kid = fields.Char(string="Key ID", required=True, readonly=True, index=True)
    public_key_spki = fields.Text(string="Public Key (SPKI, base64)", readonly=True)
    private_key_pem = fields.Text(
        string="Private Key", readonly=True, groups="base.group_system", copy=False
    )
    current = fields.Boolean(default=True, readonly=True)
    active = fields.Boolean(default=True)

    _unique_kid = models.Constraint("unique (kid)", "A card key with this id already exists.")

    @api.model
    def _get_active_key(self, company):
        """The company's current key, created on first use."""
        self._check_key_access()
        key = self.search(
            [("company_id", "=", company.id), ("current", "=", True)], limit=1, order="id desc"
        )
        return key or self._create_key(company)

    @api.model
    def _create_key(self, company):
        self._check_key_access()
        private = card_keys.generate_private_key()
        info = card_keys.public_info(private)
        self.search([("company_id", "=", company.id), ("current", "=", True)]).write(
            {"current": False}
        )
        return self.create(
            {
                "company_id": company.id,
                "kid": info.kid,
                "public_key_spki": info.spki_b64,
                "private_key_pem": card_keys.private_to_pem(private).decode("ascii"),
            }
        )

    def _check_key_access(self):
        # Keys are handled only by sudo'ed server code or by administrators.
        if not (self.env.su or self.env.user.has_group("base.group_system")):
            raise AccessError(self.env._("Card keys are handled by the server only."))

    def action_rotate(self):
        """Make a new current key; this one stays to open envelopes sealed with it."""
        for company in self.company_id:
            self._create_key(company)


class OdooKeyStore:
    """The core's KeyStore protocol over pos.offline.card.key, for one company."""

    def __init__(self, env, company):
        self.Key = env["pos.offline.card.key"].sudo().with_context(active_test=False)
        self.company = company

    def current_public(self):
        key = self.Key._get_active_key(self.company)
        return card_keys.PublicKeyInfo(kid=key.kid, spki_der=base64.b64decode(key.public_key_spki))

    def get_private(self, kid):
        key = self.Key.search([("company_id", "=", self.company.id), ("kid", "=", kid)], limit=1)
        if not key:
            return None
        return card_keys.private_from_pem(key.private_key_pem.encode("ascii"))

    def rotate(self):
        key = self.Key._create_key(self.company)
        return card_keys.PublicKeyInfo(kid=key.kid, spki_der=base64.b64decode(key.public_key_spki))
