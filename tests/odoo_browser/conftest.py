"""Browser tests against a real Odoo 19 (make test-odoo): collected only when ODOO_BIN and
ODOO_PYTHON name an installed Odoo, so `make test` (no Odoo) never sees them."""

from __future__ import annotations

import os

if not (os.environ.get("ODOO_BIN") and os.environ.get("ODOO_PYTHON")):
    collect_ignore_glob = ["test_*.py"]
