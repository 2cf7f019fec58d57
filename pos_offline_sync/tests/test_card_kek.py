# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Card keys apart from card data, in real Odoo and PostgreSQL: everything the database holds
(every row of the key and attempt tables, read with SQL as a dump would) opens no envelope;
the KEK file does. Without a KEK no public key is handed out and the settings say why; a key
an older version stored unprotected is wrapped and retired, or left unused and reported."""

import base64
import binascii
import json
import shutil
import uuid

from cryptography.hazmat.primitives import serialization
from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import new_test_user, tagged
from odoo.tools import SQL

from ..core import card_envelope, card_keys
from ..models.pos_offline_card_key import KEK_OPTION, OdooKeyStore
from .common import OfflineSyncCommon
from .kek import card_kek_setting, new_kek_file

CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}


def _b64(part):
    try:
        return base64.b64decode(part, validate=True)
    except (binascii.Error, ValueError):
        return None


def _private_key(blob):
    for load in (serialization.load_pem_private_key, serialization.load_der_private_key):
        try:
            return load(blob, password=None)
        except (ValueError, TypeError):
            continue
    return None


def _candidate_keys(rows):
    """Every private key a holder of these rows alone can load: PEM or DER, plain or base64,
    in any column (what an attacker with a dump would try)."""
    found = []
    for row in rows:
        for value in row.values():
            if isinstance(value, memoryview):
                value = value.tobytes()
            if isinstance(value, str):
                value = value.encode()
            if not isinstance(value, bytes) or len(value) < 100:
                continue
            blobs = [value, *(_b64(part) for part in value.replace(b":", b"\n").split())]
            found += [key for key in map(_private_key, filter(None, blobs)) if key]
    return found


@tagged("post_install", "-at_install")
class TestCardKek(OfflineSyncCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.provider = cls.start_localstripe("Stripe (KEK test)")
        cls.pos_user = new_test_user(
            cls.env,
            login="kek_cashier",
            groups="base.group_user,point_of_sale.group_pos_user",
            company_id=cls.config.company_id.id,
            company_ids=[Command.set(cls.config.company_id.ids)],
        )

    def setUp(self):
        super().setUp()
        self.registry_enter_test_mode()  # the ledger's own cursors must wrap the test's

    def seal(self):
        key = self.config._offline_card_public_key()
        self.assertEqual(set(key), {"v", "kid", "spki"}, key)
        info = card_keys.PublicKeyInfo(kid=key["kid"], spki_der=base64.b64decode(key["spki"]))
        return card_envelope.seal_card({**CARD, "name": "Ann"}, info.kid, info.load())

    def waiting_attempt(self, envelope):
        """An attempt whose outcome is unknown (Stripe never answered): it keeps its card."""
        return (
            self.env["pos.offline.card.attempt"]
            .sudo()
            .create(
                {
                    "order_uuid": str(uuid.uuid4()),
                    "payment_uuid": str(uuid.uuid4()),
                    "order_reference": "KEK test",
                    "state": "retryable",
                    "amount": 7.0,
                    "currency": "USD",
                    "envelope": json.dumps(envelope),
                    "company_id": self.config.company_id.id,
                    "config_id": self.config.id,
                }
            )
        )

    def dump(self, table):
        self.env.flush_all()
        self.env.cr.execute(SQL("SELECT * FROM %s", SQL.identifier(table)))
        names = [column.name for column in self.env.cr.description]
        return [dict(zip(names, row, strict=True)) for row in self.env.cr.fetchall()]

    def test_everything_the_database_holds_opens_no_envelope_the_kek_does(self):
        # Keys an older version left in this database are wrapped too (as the upgrade does).
        self.env["pos.offline.card.key"]._protect_unprotected_keys()
        envelope = self.seal()
        self.config._offline_card_public_key()  # a second call: still one key
        self.env["pos.offline.card.key"].sudo().search([])._create_key(self.config.company_id)
        self.waiting_attempt(envelope)
        keys, attempts = self.dump("pos_offline_card_key"), self.dump("pos_offline_card_attempt")
        company = self.config.company_id.id
        self.assertEqual(len([k for k in keys if k["company_id"] == company]), 2)
        stored = [json.loads(a["envelope"]) for a in attempts if a["envelope"]]
        self.assertIn(envelope, stored)
        text = repr(keys)
        self.assertNotIn("PRIVATE KEY", text)
        self.assertTrue(all(not k["private_key_pem"] for k in keys))
        # No private key can be loaded from any column of any row ...
        loose = _candidate_keys(keys + attempts)
        self.assertEqual(loose, [])
        # ... so no stored envelope opens with what the rows hold.
        loaded = {card_keys.public_info(key).kid: key for key in loose}
        for sealed in stored:
            with self.assertRaises(card_envelope.EnvelopeError):
                card_envelope.open_envelope(sealed, loaded.get)
        # The configuration database holds no KEK either.
        kek_text = self.kek_file.read_text().splitlines()[-1]
        for table in ("ir_config_parameter", "pos_offline_card_key", "pos_offline_card_attempt"):
            self.assertNotIn(kek_text, repr(self.dump(table)), table)
        # With the KEK file (the one thing not in the database) the same rows open it.
        kek = card_keys.read_kek_file(self.kek_file)
        wrapped = {k["kid"]: k["private_key_wrapped"] for k in keys if k["company_id"] == company}
        self.assertTrue(all(card_keys.wrapped_kek_id(w) == kek.kek_id for w in wrapped.values()))
        opened = card_envelope.open_envelope(
            envelope, lambda kid: card_keys.unwrap_private_key(wrapped[kid], kid, kek)
        )
        self.assertEqual(opened.last4, "4242")
        # And the server, which has it, opens the retired key's envelope after rotation.
        Key = self.env["pos.offline.card.key"].sudo()
        self.assertFalse(Key.search([("kid", "=", envelope["kid"])]).current, "rotated away")
        store = OdooKeyStore(self.env, self.config.company_id)
        self.assertEqual(card_envelope.open_envelope(envelope, store.get_private).last4, "4242")

    def test_without_kek_no_public_key_is_handed_out_and_everyone_is_told_why(self):
        envelope = self.seal()  # a key made while the KEK was there
        attempt = self.waiting_attempt(envelope)
        PosOrder = self.env["pos.order"].with_user(self.pos_user)
        for setting in ("", self.kek_file.parent / "missing.kek"):
            with card_kek_setting(setting):
                answer = PosOrder.offline_card_public_key({"v": 1, "config_id": self.config.id})
                self.assertEqual(set(answer), {"v", "unavailable"}, answer)
                reason = answer["unavailable"]
                self.assertEqual(reason["code"], "no_kek" if not setting else "kek_unreadable")
                self.assertIn(KEK_OPTION, reason["message"])
                self.assertIn("cards cannot be taken offline", reason["message"])
                self.assertNotIn(str(setting) or "\0", reason["message"])  # no path shown
                # The POS data carries the same refusal, not a key.
                data = self.config.current_session_id.load_data(["pos.config"])
                self.assertEqual(data["pos.config"][0]["_offline_card_public_key"], answer)
                # The manager sees it on the settings and on the payment method.
                settings = self.env["res.config.settings"].create({"pos_config_id": self.config.id})
                self.assertEqual(settings.pos_offline_card_key_warning, reason["message"])
                self.card_pm.invalidate_recordset(["offline_card_key_warning"])
                self.assertEqual(self.card_pm.offline_card_key_warning, reason["message"])
                # Processing a waiting card is a configuration error: nothing written, the
                # card kept for when the KEK is back.
                payload = {
                    "v": 1,
                    "config_id": self.config.id,
                    "order_uuid": attempt.order_uuid,
                    "payment_uuid": attempt.payment_uuid,
                    "amount": 7.0,
                    "currency": "USD",
                    "reference": "KEK test",
                    "envelope": envelope,
                }
                outcome = PosOrder.offline_process_card(payload)
                self.assertEqual(outcome["status"], "config_error", outcome)
                self.assertIn(KEK_OPTION, outcome["message"])
                self.assertTrue(attempt.envelope)
                self.assertEqual(attempt.state, "retryable")
                with self.assertRaisesRegex(UserError, KEK_OPTION):
                    self.env["pos.offline.card.key"]._get_active_key(self.config.company_id)
        # The KEK is back: the same key again, and no warning.
        self.assertEqual(self.seal()["kid"], envelope["kid"])
        self.card_pm.invalidate_recordset(["offline_card_key_warning"])
        self.assertFalse(self.card_pm.offline_card_key_warning)

    def test_another_kek_refuses_the_current_key_until_rotated(self):
        envelope = self.seal()
        other, folder = new_kek_file()
        self.addCleanup(shutil.rmtree, folder, True)
        with card_kek_setting(other):
            answer = self.config._offline_card_public_key()
            self.assertEqual(answer["unavailable"]["code"], "kek_mismatch")
            store = OdooKeyStore(self.env, self.config.company_id)
            with self.assertRaisesRegex(UserError, "restore that KEK file"):
                card_envelope.open_envelope(envelope, store.get_private)
            self.env["pos.offline.card.key"].sudo().search([]).action_rotate()
            self.assertNotEqual(self.seal()["kid"], envelope["kid"])
        # The first KEK back: the old envelope opens (nothing was lost).
        store = OdooKeyStore(self.env, self.config.company_id)
        self.assertEqual(card_envelope.open_envelope(envelope, store.get_private).last4, "4242")

    def test_unprotected_key_of_19_0_1_0_0_is_refused_without_kek_then_wrapped(self):
        Key = self.env["pos.offline.card.key"].sudo()
        Key._protect_unprotected_keys()  # any this database already had: only ours below
        legacy = card_keys.generate_private_key(2048)
        info = card_keys.public_info(legacy)
        # What 19.0.1.0.0 stored: the private key as plain PKCS#8 PEM.
        row = Key.create(
            {
                "company_id": self.config.company_id.id,
                "kid": info.kid,
                "public_key_spki": info.spki_b64,
                "private_key_pem": card_keys.private_to_pem(legacy).decode(),
            }
        )
        waiting = card_envelope.seal_card({**CARD, "name": "Ann"}, info.kid, info.load())
        # The scan above finds such a key: it is what a dump of 19.0.1.0.0 gave away.
        self.assertEqual(len(_candidate_keys(self.dump("pos_offline_card_key"))), 1)
        with card_kek_setting(""):
            with self.assertLogs(
                "odoo.addons.pos_offline_sync.models.pos_offline_card_key", "WARNING"
            ) as logs:
                self.assertEqual(Key._protect_unprotected_keys(), 0)
            self.assertIn("1 offline card key(s) are stored unprotected", logs.output[0])
            self.assertNotIn("PRIVATE", "".join(logs.output))
            answer = self.config._offline_card_public_key()
            self.assertIn("unavailable", answer)
            self.card_pm.invalidate_recordset(["offline_card_key_warning"])
            self.assertIn("still stored unprotected", self.card_pm.offline_card_key_warning)
            with self.assertRaises(UserError):
                OdooKeyStore(self.env, self.config.company_id).get_private(info.kid)
            self.assertTrue(row.private_key_pem)
        # With the KEK: wrapped, erased, retired; it opens what it sealed, seals nothing new.
        self.assertEqual(Key._protect_unprotected_keys(), 1)
        row.invalidate_recordset()
        self.assertFalse(row.private_key_pem)
        self.assertFalse(row.current)
        kek = card_keys.read_kek_file(self.kek_file)
        self.assertEqual(row.kek_id, kek.kek_id)
        self.assertNotIn("PRIVATE KEY", repr(self.dump("pos_offline_card_key")))
        self.assertEqual(_candidate_keys(self.dump("pos_offline_card_key")), [])
        self.assertNotEqual(self.seal()["kid"], info.kid)
        store = OdooKeyStore(self.env, self.config.company_id)
        self.assertEqual(card_envelope.open_envelope(waiting, store.get_private).last4, "4242")
        self.assertEqual(Key._protect_unprotected_keys(), 0)  # idempotent
