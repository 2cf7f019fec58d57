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

// Which columns each row fills: the order's repeat on every row, the others belong to a `line`
// or a `payment` row. Together with record_type they are exactly CSV_COLUMNS (checked below).
export const CSV_ORDER_COLUMNS = [
    "order_uuid",
    "order_reference",
    "created_at",
    "cashier",
    "customer_id",
    "customer",
    "currency",
    "order_total",
];
export const CSV_LINE_COLUMNS = [
    "product_id",
    "product_name",
    "quantity",
    "unit_price",
    "discount_percent",
    "line_total",
];
export const CSV_PAYMENT_COLUMNS = [
    "payment_uuid",
    "payment_method_id",
    "payment_method",
    "payment_amount",
    "card_brand",
    "card_last4",
    "card_status",
];

// A column renamed on one side only would silently export empty cells: refuse to load instead.
const grouped = [
    "record_type",
    ...CSV_ORDER_COLUMNS,
    ...CSV_LINE_COLUMNS,
    ...CSV_PAYMENT_COLUMNS,
];
if (grouped.join(",") !== CSV_COLUMNS.join(",")) {
    throw new Error("csv_schema.js: the column groups do not match CSV_COLUMNS");
}
