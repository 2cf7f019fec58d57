"""Developer tools of the project (scripts run by the Makefile), and the Odoo launcher the
real-Odoo benches and browser tests share (tools/odoo_server.py)."""
