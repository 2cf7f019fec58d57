from . import (  # noqa: F401 - Odoo's test runner finds the tests by import
    test_access,
    test_bench,
    test_card_kek,
    test_charge_card_tour,
    test_csv_import,
    test_devices,
    test_ledger_lock,
    test_offline_card,
    test_offline_sync,
    test_sync_log,
    test_tour,
)
