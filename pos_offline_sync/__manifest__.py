# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "POS Offline Sync",
    "summary": "Offline mode for the Point of Sale: capture sales without a connection, "
    "sync the chosen ones later, charge cards taken offline exactly once",
    "version": "19.0.1.0.0",
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
        "views/res_config_settings_views.xml",
    ],
    "assets": {
        "point_of_sale._assets_pos": [
            "pos_offline_sync/static/src/**/*",
        ],
        "web.assets_tests": [
            "pos_offline_sync/static/tests/tours/**/*",
        ],
    },
}
