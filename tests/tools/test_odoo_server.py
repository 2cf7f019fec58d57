"""The shared Odoo launcher's two rules that do not need an Odoo: the environment it gives Odoo
(no ODOO_* option but ODOO_RC), and what counts as a server that refuses connections."""

from __future__ import annotations

import http.server
import socket
import threading
from unittest.mock import patch

from tools.odoo_server import OdooServer, odoo_environment


def test_odoo_gets_no_odoo_variable_but_its_config_file():
    given = {
        "ODOO_ADDONS_PATH": "",  # empty: Odoo 19 took it as an empty addons path
        "ODOO_DB": "other",
        "ODOO_RC": "/etc/odoo.cfg",
        "PATH": "/usr/bin",
    }
    with patch.dict("os.environ", given, clear=True):
        assert odoo_environment() == {"ODOO_RC": "/etc/odoo.cfg", "PATH": "/usr/bin"}


def server(port: int) -> OdooServer:
    return OdooServer(odoo_bin="odoo-bin", odoo_python="python3", db="db", port=port)


def test_a_closed_port_refuses_and_a_server_answering_an_error_does_not():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    assert server(closed).refuses()

    class Failing(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the handler's name
            self.send_error(500)

        def log_message(self, *args):
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Failing)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        assert not server(httpd.server_address[1]).refuses()
    finally:
        httpd.shutdown()
        httpd.server_close()
