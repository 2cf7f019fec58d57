from . import models, wizards  # noqa: F401 - Odoo loads the addon's modules by import
