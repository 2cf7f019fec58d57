/** @odoo-module */
// CSV export of offline sales orders (docs/CONTRACTS.md §5): one `line` row per order line and one
// `payment` row per payment, the order's columns repeated on each row, returns left out. RFC 4180
// quoting, CRLF line ends, UTF-8; the downloaded file starts with a byte order mark so that
// Excel reads it as UTF-8 (without one it guesses the locale's code page and garbles accented,
// Arabic or emoji names). Text a spreadsheet would run as a formula is neutralised. Of a card only brand, last 4 and status are written, never the envelope.

import {
    CSV_COLUMNS,
    CSV_LINE_COLUMNS,
    CSV_ORDER_COLUMNS,
    CSV_PAYMENT_COLUMNS,
} from "./csv_schema.js";
import { isReturnOrder } from "./order_model.js";

// OWASP CSV injection: a cell starting with one of these is a formula for a spreadsheet. A
// leading quote is escaped too, so the importer's "strip one leading quote" is lossless.
const FORMULA_START = new Set(["=", "+", "-", "@", "\t", "\r", "'"]);
const NEEDS_QUOTES = /[",\r\n]/;

/**
 * Neutralises a text cell for spreadsheets: a string starting with = + - @ tab CR (or ') gets
 * a leading '. Numbers (formatted by us) are left as they are.
 * @param {*} value
 * @returns {*} the value, or the neutralised string
 */
export function neutraliseCell(value) {
    if (typeof value === "string" && value.length && FORMULA_START.has(value[0])) {
        return `'${value}`;
    }
    return value;
}

/**
 * A number as a CSV cell: float noise trimmed (0.1 + 0.2 -> "0.3"), non-numbers empty.
 * @param {*} value
 * @returns {string}
 */
export function formatNumber(value) {
    if (typeof value !== "number" || !Number.isFinite(value)) {
        return "";
    }
    if (Number.isInteger(value)) {
        return String(value);
    }
    return String(Math.round(value * 1e6) / 1e6);
}

/**
 * One RFC 4180 cell: strings neutralised then quoted when they hold a quote, comma, CR or LF.
 * @param {*} value
 * @returns {string}
 */
export function csvCell(value) {
    if (value === null || value === undefined) {
        return "";
    }
    if (typeof value === "number") {
        return formatNumber(value);
    }
    if (typeof value === "boolean") {
        return value ? "true" : "false";
    }
    const text = String(neutraliseCell(String(value)));
    return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

// Column positions, resolved once: rows are filled by index, not by building objects per row.
const COLUMN_INDEX = Object.fromEntries(CSV_COLUMNS.map((name, index) => [name, index]));
function fill(row, names, values) {
    for (let i = 0; i < names.length; i++) {
        row[COLUMN_INDEX[names[i]]] = csvCell(values[i]);
    }
}

/**
 * Builds the CSV of the given orders (plain orders or store records). One array of rows joined
 * once, so 10,000 orders stay well under a second.
 * @param {object[]} orders
 * @returns {{csv: string, exported: number, skippedReturns: number}}
 */
export function ordersToCsv(orders) {
    const width = CSV_COLUMNS.length;
    const rows = [CSV_COLUMNS.map(csvCell).join(",")];
    const typeIndex = COLUMN_INDEX.record_type;
    let exported = 0;
    let skippedReturns = 0;
    for (const item of orders) {
        const order = item && item.order ? item.order : item;
        if (isReturnOrder(order)) {
            skippedReturns++;
            continue;
        }
        exported++;
        // The order's cells are computed once and copied into each of its rows.
        const base = new Array(width).fill("");
        fill(base, CSV_ORDER_COLUMNS, [
            order.uuid,
            order.reference,
            order.created_at,
            order.cashier?.name,
            order.customer?.id,
            order.customer?.name,
            order.currency,
            order.amount_total,
        ]);
        for (const line of order.lines || []) {
            const row = base.slice();
            row[typeIndex] = "line";
            fill(row, CSV_LINE_COLUMNS, [
                line.product_id,
                line.product_name,
                line.qty,
                line.price_unit,
                line.discount ?? 0,
                line.price_subtotal_incl,
            ]);
            rows.push(row.join(","));
        }
        for (const payment of order.payments || []) {
            const card = payment.card;
            const row = base.slice();
            row[typeIndex] = "payment";
            // Brand, last 4 and status only: the envelope never leaves the browser here.
            fill(row, CSV_PAYMENT_COLUMNS, [
                payment.uuid,
                payment.payment_method_id,
                payment.payment_method_name,
                payment.amount,
                card ? card.brand : null,
                card ? card.last4 : null,
                card ? card.status : null,
            ]);
            rows.push(row.join(","));
        }
    }
    return { csv: rows.join("\r\n") + "\r\n", exported, skippedReturns };
}

function pad(number) {
    return String(number).padStart(2, "0");
}

/**
 * File name of an export: `offline-orders-<configId>-<yyyymmdd-hhmm>.csv` (local time).
 * @param {number|string} configId
 * @param {Date} [date=new Date()]
 * @returns {string}
 */
export function csvFilename(configId, date = new Date()) {
    const day = `${date.getFullYear()}${pad(date.getMonth() + 1)}${pad(date.getDate())}`;
    const time = `${pad(date.getHours())}${pad(date.getMinutes())}`;
    return `offline-orders-${configId}-${day}-${time}.csv`;
}

/** The UTF-8 byte order mark (EF BB BF) the downloaded file starts with. */
export const CSV_BOM = "\uFEFF";

/**
 * The bytes of the CSV file: the UTF-8 BOM, then the text.
 * @param {string} csv
 * @param {object} [view=globalThis] where Blob comes from
 * @returns {Blob}
 */
export function csvBlob(csv, view = globalThis) {
    return new view.Blob([CSV_BOM, csv], { type: "text/csv;charset=utf-8" });
}

/**
 * Offers the CSV as a download (Blob + object URL + `<a download>`), BOM first.
 * @param {string} csv
 * @param {string} filename
 * @param {Document} [doc=document]
 */
export function downloadCsv(csv, filename, doc = globalThis.document) {
    const view = doc.defaultView || globalThis;
    const blob = csvBlob(csv, view);
    const url = view.URL.createObjectURL(blob);
    const link = doc.createElement("a");
    link.href = url;
    link.download = filename;
    link.style.display = "none";
    doc.body.appendChild(link);
    try {
        link.click();
    } finally {
        link.remove();
        // Revoking at once can cancel the download in some browsers: let the click start first.
        view.setTimeout(() => view.URL.revokeObjectURL(url), 1000);
    }
}
