# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""19.0.1.1.0: card private keys are stored wrapped by the key-encryption key (KEK) of the
server's configuration, never unprotected. Keys that 19.0.1.0.0 stored unprotected are wrapped
now and retired when a KEK is configured; without one they are left, reported in the log and
refused for use until a KEK exists (they are wrapped then, on first use)."""

from odoo import SUPERUSER_ID, api


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    env["pos.offline.card.key"]._protect_unprotected_keys()
