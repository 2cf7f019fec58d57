"""Framework-free logic of pos_offline_sync.

Nothing under this package imports Odoo: the Odoo models and the sandbox host both call it.
"""
