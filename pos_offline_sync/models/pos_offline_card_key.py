# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import base64
import logging
import os

from odoo import api, fields, models, tools
from odoo.exceptions import AccessError, UserError

from ..core import card_keys

_logger = logging.getLogger(__name__)
_WARNED = set()  # (path, reason) already logged: once per process, not per request

# Where the key-encryption key (KEK) comes from: never the database.
KEK_OPTION = "pos_offline_card_kek_file"  # odoo.conf [options]
KEK_ENV = "POS_OFFLINE_CARD_KEK_FILE"  # else this environment variable
KEK_COMMAND = "python3 pos_offline_sync/core/card_keys.py --new-kek PATH"


def kek_setting():
    """The KEK file the server's configuration names ("" when none)."""
    return (tools.config.get(KEK_OPTION) or os.environ.get(KEK_ENV) or "").strip()


class PosOfflineCardKey(models.Model):
    """A company's RSA key pair for cards captured offline.

    The private key is stored only wrapped (AES-256-GCM) by the key-encryption key named by the
    server's configuration (`pos_offline_card_kek_file`), which is never in the database: a
    copy of the database opens no card envelope. Rows are readable only by system
    administrators; the charge path reads them with sudo, and nothing else does.
    """

    _name = "pos.offline.card.key"
    _description = "Offline Card Key"
    _order = "company_id, id desc"

    company_id = fields.Many2one("res.company", required=True, index=True, readonly=True)
    kid = fields.Char(string="Key ID", required=True, readonly=True, index=True)
    public_key_spki = fields.Text(string="Public Key (SPKI, base64)", readonly=True)
    private_key_wrapped = fields.Text(
        string="Private Key (wrapped by the KEK)",
        readonly=True,
        groups="base.group_system",
        copy=False,
    )
    kek_id = fields.Char(
        string="Wrapped by KEK",
        readonly=True,
        help="Id of the key-encryption key that wraps this key (a fingerprint, not the key).",
    )
    # Left by version 19.0.1.0.0, which stored the key unprotected: wrapped (and emptied) by the
    # 19.0.1.1.0 migration or as soon as a KEK is configured; never used as such.
    private_key_pem = fields.Text(
        string="Unprotected Private Key (older version)",
        readonly=True,
        groups="base.group_system",
        copy=False,
    )
    current = fields.Boolean(default=True, readonly=True)
    active = fields.Boolean(default=True)

    _unique_kid = models.Constraint("unique (kid)", "A card key with this id already exists.")

    @api.model
    def _card_kek(self):
        """The configured KEK, or the CardKeyUnavailable saying why there is none."""
        kek = card_keys.kek_or_problem(kek_setting())
        if isinstance(kek, card_keys.CardKeyUnavailable) and kek.code == "kek_unreadable":
            # The path is for the administrator's log only, never for a screen.
            warned = (kek_setting(), kek.message)
            if warned not in _WARNED:
                _WARNED.add(warned)
                _logger.warning("offline card KEK file %s: %s", *warned)
        return kek

    @api.model
    def _get_active_key(self, company):
        """The company's current key record, created on first use (UserError without a KEK)."""
        self._check_key_access()
        info = OdooKeyStore(self.env, company).current_public()
        return self.sudo().with_context(active_test=False).search([("kid", "=", info.kid)])

    @api.model
    def _create_key(self, company):
        self._check_key_access()
        info = OdooKeyStore(self.env, company).rotate()
        return self.sudo().with_context(active_test=False).search([("kid", "=", info.kid)])

    def _check_key_access(self):
        # Keys are handled only by sudo'ed server code or by administrators.
        if not (self.env.su or self.env.user.has_group("base.group_system")):
            raise AccessError(self.env._("Card keys are handled by the server only."))

    def action_rotate(self):
        """Make a new current key; this one stays, wrapped, to open envelopes sealed with it."""
        for company in self.company_id:
            self._create_key(company)

    @api.model
    def _protect_unprotected_keys(self):
        """Wraps every key an older version stored unprotected, with the configured KEK, and
        retires it (it may have been copied meanwhile: it opens what it sealed, nothing new).
        Without a KEK they are left as they are, reported, and not used. Returns how many were
        wrapped."""
        Key = self.sudo().with_context(active_test=False)
        legacy = Key.search([("private_key_pem", "!=", False), ("private_key_wrapped", "=", False)])
        if not legacy:
            return 0
        kek = self._card_kek()
        if isinstance(kek, card_keys.CardKeyUnavailable):
            _logger.warning(
                "%d offline card key(s) are stored unprotected in the database and will not be "
                "used: %s. Set %s in the server's configuration (or %s) to a KEK file (%s) and "
                "restart Odoo: they are then wrapped and retired on first use.",
                len(legacy),
                kek.message,
                KEK_OPTION,
                KEK_ENV,
                KEK_COMMAND,
            )
            return 0
        done = 0
        for company in legacy.company_id:
            done += OdooKeyStore(self.env, company).protect_legacy()
        _logger.info(
            "%d offline card key(s) wrapped by the KEK %s and retired; earlier backups of this "
            "database still hold them unprotected",
            done,
            kek.kek_id,
        )
        return done

    @api.model
    def _key_problem(self, company):
        """Translated text saying why cards cannot be taken offline for `company` now, or
        False."""
        store = OdooKeyStore(self.env, company)
        problem = store.problem()
        if not problem:
            return False
        text = key_problem_message(self.env, problem)
        legacy = store.rows.legacy()
        if legacy:
            text += " " + self.env._(
                "%(count)s card key(s) left by an earlier version are still stored unprotected: "
                "they are wrapped and retired as soon as a KEK is configured.",
                count=len(legacy),
            )
        return text


def key_problem_message(env, problem):
    """The translated text of a core CardKeyUnavailable (names key ids only, never a path)."""
    params = problem.params
    if problem.code == "no_kek":
        return env._(
            "No key-encryption key (KEK) is configured on the server, so card keys cannot be "
            "protected and cards cannot be taken offline. Set %(option)s in the Odoo "
            "configuration file (or the %(env)s environment variable) to a KEK file made with "
            "%(command)s, then restart Odoo.",
            option=KEK_OPTION,
            env=KEK_ENV,
            command=KEK_COMMAND,
        )
    if problem.code == "kek_unreadable":
        reasons = {
            "file not found": env._("file not found"),
            "permission denied": env._("permission denied"),
            "cannot be read": env._("it cannot be read"),
            "not a KEK file": env._("not a KEK file"),
        }
        return env._(
            "The key-encryption key (KEK) file named by %(option)s cannot be used (%(reason)s), "
            "so cards cannot be taken offline. Check the file and that the Odoo user may read "
            "it.",
            option=KEK_OPTION,
            reason=reasons.get(params.get("reason"), params.get("reason")),
        )
    if problem.code == "kek_mismatch":
        return env._(
            "Card key %(kid)s is wrapped by the key-encryption key %(wrapped_by)s, but the "
            "configured one is %(configured)s: restore that KEK file (the cards waiting for this "
            "key cannot be charged without it), or rotate the card key to take new cards.",
            kid=params.get("kid"),
            wrapped_by=params.get("wrapped_by"),
            configured=params.get("configured"),
        )
    if problem.code == "unprotected":
        return env._(
            "Card key %(kid)s is still stored without key-encryption key protection: configure a "
            "KEK so that it is wrapped; until then it is not used.",
            kid=params.get("kid"),
        )
    return env._(
        "Card key %(kid)s cannot be unwrapped with the configured key-encryption key: its "
        "stored form was altered.",
        kid=params.get("kid"),
    )


class _OdooKeyRows:
    """The core's KeyRows over pos.offline.card.key (sudo), for one company."""

    def __init__(self, Key, company):
        self.Key = Key
        self.company = company

    @staticmethod
    def _stored(key):
        if not key:
            return None
        return card_keys.StoredKey(
            kid=key.kid,
            spki_der=base64.b64decode(key.public_key_spki),
            wrapped=key.private_key_wrapped or None,
            legacy_pem=key.private_key_pem.encode("ascii") if key.private_key_pem else None,
        )

    def _domain(self, *more):
        return [("company_id", "=", self.company.id), *more]

    def current(self):
        return self._stored(
            self.Key.search(self._domain(("current", "=", True)), limit=1, order="id desc")
        )

    def get(self, kid):
        return self._stored(self.Key.search(self._domain(("kid", "=", kid)), limit=1))

    def add(self, stored, *, only_if_none=False):
        if only_if_none:
            found = self.current()
            if found is not None:
                return found
        self.Key.search(self._domain(("current", "=", True))).write({"current": False})
        self.Key.create(
            {
                "company_id": self.company.id,
                "kid": stored.kid,
                "public_key_spki": base64.b64encode(stored.spki_der).decode("ascii"),
                "private_key_wrapped": stored.wrapped,
                "kek_id": stored.kek_id,
            }
        )
        return stored

    def legacy(self):
        keys = self.Key.search(
            self._domain(("private_key_pem", "!=", False), ("private_key_wrapped", "=", False))
        )
        return [self._stored(key) for key in keys]

    def protect(self, kid, wrapped):
        self.Key.search(self._domain(("kid", "=", kid))).write(
            {
                "private_key_wrapped": wrapped,
                "kek_id": card_keys.wrapped_kek_id(wrapped),
                "private_key_pem": False,
                "current": False,
            }
        )


class OdooKeyStore(card_keys.ProtectedKeyStore):
    """The core's KeyStore over pos.offline.card.key for one company, its private keys wrapped
    by the KEK of the server's configuration. Refusals are UserErrors with a translated text."""

    def __init__(self, env, company):
        self.env = env
        Key = env["pos.offline.card.key"].sudo().with_context(active_test=False)
        super().__init__(_OdooKeyRows(Key, company), Key._card_kek())

    def _user_error(self, problem):
        return UserError(key_problem_message(self.env, problem))

    def current_public(self):
        try:
            return super().current_public()
        except card_keys.CardKeyUnavailable as exc:
            raise self._user_error(exc) from None

    def get_private(self, kid):
        try:
            return super().get_private(kid)
        except card_keys.CardKeyUnavailable as exc:
            raise self._user_error(exc) from None

    def rotate(self):
        try:
            return super().rotate()
        except card_keys.CardKeyUnavailable as exc:
            raise self._user_error(exc) from None

    def public_answer(self):
        """The `offline_card_public_key` result: the key, or why there is none (translated)."""
        try:
            return card_keys.ProtectedKeyStore.current_public(self).as_rpc()
        except card_keys.CardKeyUnavailable as exc:
            return card_keys.unavailable_answer(exc.code, key_problem_message(self.env, exc))

    def kek_problem_message(self):
        """Why no card can be charged at all (no usable KEK), translated; else None."""
        problem = self.kek_problem()
        return key_problem_message(self.env, problem) if problem else None
