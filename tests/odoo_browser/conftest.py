"""Browser tests against a real Odoo 19 (make test-odoo): collected only when ODOO_BIN and
ODOO_PYTHON name an installed Odoo, so `make test` (no Odoo) never sees them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tools.odoo_server import OdooServer

if not (os.environ.get("ODOO_BIN") and os.environ.get("ODOO_PYTHON")):
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture
def odoo(tmp_path):
    server = OdooServer(
        odoo_bin=os.environ["ODOO_BIN"],
        odoo_python=os.environ["ODOO_PYTHON"],
        config=os.environ.get("ODOO_CONFIG") or None,
        addons_path=os.environ.get("ODOO_ADDONS_PATH") or None,
        db=os.environ.get("ODOO_DB", "pos_offline_sync_test"),
        port=int(os.environ.get("ODOO_BROWSER_PORT", "8079")),
        numbered_logs=True,  # started twice: the log of each start
    )
    server.log = Path(os.environ.get("ODOO_BROWSER_LOG", tmp_path / "odoo.log"))
    try:
        server.start(server.log)
        yield server
    finally:
        server.stop()  # also when it did not start: nothing keeps the port
