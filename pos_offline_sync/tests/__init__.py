from . import (  # noqa: F401 - Odoo's test runner finds the tests by import
    test_access,
    test_bench,
    test_charge_card_tour,
    test_csv_import,
    test_declined_order_tour,
    test_ledger_lock,
    test_localstripe_support,
    test_migrate_internal_note,
    test_offline_card,
    test_offline_sync,
    test_settings_refresh_tour,
    test_tour,
)
