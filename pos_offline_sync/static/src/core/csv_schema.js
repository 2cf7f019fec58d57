/** @odoo-module */
// The CSV column schema of offline orders, defined once: the browser export uses it here and the
// back-office import (pos_offline_sync/core/csv_schema.py) reads the JSON array between the
// markers below. Keep the array valid JSON.

// BEGIN CSV_COLUMNS
export const CSV_COLUMNS = [
    "record_type",
    "order_uuid",
    "order_reference",
    "created_at",
    "cashier",
    "customer_id",
    "customer",
    "currency",
    "order_total",
    "product_id",
    "product_name",
    "quantity",
    "unit_price",
    "discount_percent",
    "line_total",
    "payment_uuid",
    "payment_method_id",
    "payment_method",
    "payment_amount",
    "card_brand",
    "card_last4",
    "card_status"
];
// END CSV_COLUMNS

/** Columns holding free text a spreadsheet could run as a formula; neutralised on export. */
export const CSV_TEXT_COLUMNS = [
    "order_reference",
    "cashier",
    "customer",
    "product_name",
    "payment_method",
    "card_brand",
];
