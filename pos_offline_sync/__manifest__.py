# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "POS Offline Sync",
    "summary": "Offline mode for the Point of Sale: capture sales without a connection, "
    "sync the chosen ones later, charge cards taken offline exactly once",
    "version": "19.0.1.2.0",
    "category": "Sales/Point of Sale",
    "website": "https://github.com/pos-offline-sync/pos_offline_sync",
    "author": "pos_offline_sync developers",
    "maintainers": ["pos-offline-sync"],
    "license": "LGPL-3",
    "development_status": "Beta",
    "application": False,
    "installable": True,
    "depends": ["point_of_sale"],
    "external_dependencies": {"python": ["cryptography", "stripe"]},
    "data": [
        "security/ir.model.access.csv",
        "security/pos_offline_sync_security.xml",
        "views/res_config_settings_views.xml",
        "views/pos_payment_method_views.xml",
        "views/pos_order_views.xml",
        "views/pos_offline_card_attempt_views.xml",
        "views/pos_offline_card_key_views.xml",
        "views/offline_csv_import_views.xml",
        "views/charge_new_card_views.xml",
        "views/pos_offline_device_views.xml",
        "views/pos_config_views.xml",
        "views/offline_close_session_views.xml",
        "views/pos_offline_sync_log_views.xml",
    ],
    "assets": {
        "point_of_sale._assets_pos": [
            "pos_offline_sync/static/src/core/**/*",
            "pos_offline_sync/static/src/app/**/*",
        ],
        "web.assets_backend": [
            "pos_offline_sync/static/src/core/card_vault.js",
            "pos_offline_sync/static/src/core/risk_limits.js",
            "pos_offline_sync/static/src/core/components/card_form.*",
            "pos_offline_sync/static/src/core/components/offline_sync.css",
            "pos_offline_sync/static/src/backend/**/*",
        ],
        "web.assets_tests": [
            "pos_offline_sync/static/tests/tours/**/*",
        ],
    },
}
