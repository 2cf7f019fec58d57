/** @odoo-module */
// Helpers around the plain offline order JSON (docs/CONTRACTS.md §1): validation before it is
// stored, return detection and the summary the sync dialog shows. No Odoo, no DOM.

/** Version of the order JSON this module understands. */
export const ORDER_VERSION = 1;

/** Card statuses a stored card payment may carry (CONTRACTS §1). */
export const CARD_STATUSES = ["unprocessed", "processing", "succeeded", "failed"];

// Keys that would mean plaintext card data slipped into the order: refuse to store it.
const PLAINTEXT_CARD_KEYS = ["number", "cvc", "cvv", "pan", "card_number"];

/** Thrown by validateOfflineOrder; `reason` names the field (and the line) at fault. */
export class OfflineOrderError extends Error {
    constructor(reason) {
        super(`This order cannot be stored offline: ${reason}`);
        this.name = "OfflineOrderError";
        this.reason = reason;
    }
}

function isFiniteNumber(value) {
    return typeof value === "number" && Number.isFinite(value);
}

function checkNumber(value, what) {
    if (!isFiniteNumber(value)) {
        throw new OfflineOrderError(`${what} is not a number`);
    }
}

/**
 * True when the order is a return (refund): flagged `is_return` or with a negative total.
 * Returns are kept offline and synced like sales, but never exported to CSV.
 * @param {object} order plain order JSON
 * @returns {boolean}
 */
export function isReturnOrder(order) {
    if (!order) {
        return false;
    }
    return (
        order.is_return === true || (isFiniteNumber(order.amount_total) && order.amount_total < 0)
    );
}

/**
 * Client-side sanity check before an order enters the offline store, so a broken order is
 * refused at the register (where the cashier can still fix it) instead of at sync time.
 * Throws OfflineOrderError with a reason naming the field; returns the order unchanged.
 * @param {object} order plain order JSON (CONTRACTS §1)
 * @returns {object} the same order
 */
export function validateOfflineOrder(order) {
    if (!order || typeof order !== "object" || Array.isArray(order)) {
        throw new OfflineOrderError("the order is not an object");
    }
    if (order.v !== ORDER_VERSION) {
        throw new OfflineOrderError(`unsupported order version ${JSON.stringify(order.v)}`);
    }
    if (typeof order.uuid !== "string" || !order.uuid.trim()) {
        throw new OfflineOrderError("the order has no uuid");
    }
    if (typeof order.created_at !== "string" || Number.isNaN(Date.parse(order.created_at))) {
        throw new OfflineOrderError("created_at is not an ISO date");
    }
    if (!Array.isArray(order.lines) || order.lines.length === 0) {
        throw new OfflineOrderError("the order has no lines");
    }
    order.lines.forEach((line, index) => {
        const where = `line ${index + 1}`;
        if (!line || typeof line !== "object") {
            throw new OfflineOrderError(`${where} is not an object`);
        }
        if (line.product_id === undefined || line.product_id === null || line.product_id === "") {
            throw new OfflineOrderError(`${where}: no product`);
        }
        checkNumber(line.qty, `${where}: quantity`);
        checkNumber(line.price_unit, `${where}: unit price`);
        checkNumber(line.discount ?? 0, `${where}: discount`);
        checkNumber(line.price_subtotal_incl, `${where}: line total`);
    });
    if (!Array.isArray(order.payments)) {
        throw new OfflineOrderError("payments is not a list");
    }
    order.payments.forEach((payment, index) => {
        const where = `payment ${index + 1}`;
        if (!payment || typeof payment !== "object") {
            throw new OfflineOrderError(`${where} is not an object`);
        }
        checkNumber(payment.amount, `${where}: amount`);
        const card = payment.card;
        if (card) {
            if (PLAINTEXT_CARD_KEYS.some((key) => key in card)) {
                // Never name the value: only that plaintext card data was refused.
                throw new OfflineOrderError(`${where}: plaintext card data is never stored`);
            }
            if (!CARD_STATUSES.includes(card.status)) {
                throw new OfflineOrderError(`${where}: unknown card status`);
            }
        }
    });
    checkNumber(order.amount_total, "amount_total");
    checkNumber(order.amount_paid ?? 0, "amount_paid");
    checkNumber(order.amount_tax ?? 0, "amount_tax");
    checkNumber(order.amount_return ?? 0, "amount_return");
    return order;
}

/**
 * The card payments of an order (payments carrying a `card` object).
 * @param {object} order
 * @returns {object[]}
 */
export function cardPayments(order) {
    return (order?.payments || []).filter((payment) => payment && payment.card);
}

/**
 * What the sync dialog shows for one order. Accepts an order or a store record
 * `{uuid, order, ...}`.
 * @param {object} orderOrRecord
 * @returns {{uuid: string, reference: string, createdAt: string, customerName: string,
 *   total: number, currency: string, paymentMethods: string, hasCard: boolean,
 *   cardStatus: string|null, isReturn: boolean}}
 */
export function summarizeOrder(orderOrRecord) {
    const order = orderOrRecord && orderOrRecord.order ? orderOrRecord.order : orderOrRecord;
    const payments = order.payments || [];
    const names = [];
    for (const payment of payments) {
        const name = payment.payment_method_name || "";
        if (name && !names.includes(name)) {
            names.push(name);
        }
    }
    const cards = cardPayments(order);
    return {
        uuid: order.uuid,
        reference: order.reference || order.uuid,
        createdAt: order.created_at,
        customerName: order.customer?.name || "",
        total: order.amount_total,
        currency: order.currency || "",
        paymentMethods: names.join(", "),
        hasCard: cards.length > 0,
        // The least advanced card status, so a pending card is never hidden behind a paid one.
        cardStatus: cards.length ? worstCardStatus(cards.map((p) => p.card.status)) : null,
        isReturn: isReturnOrder(order),
    };
}

/**
 * The order without its lines, its opaque `odoo` payload and any card envelope: what a listing
 * needs (reference, date, customer, total, payment methods, card status). Kept in the store's
 * summaries so the sync dialog opens fast over thousands of orders and never holds envelopes.
 * @param {object} order plain order JSON
 * @returns {object} a light copy, flagged `light: true`
 */
export function lightOrder(order) {
    return {
        v: order.v,
        light: true,
        uuid: order.uuid,
        reference: order.reference,
        created_at: order.created_at,
        config_id: order.config_id,
        session_id: order.session_id,
        cashier: order.cashier ? { id: order.cashier.id, name: order.cashier.name } : null,
        customer: order.customer ? { id: order.customer.id, name: order.customer.name } : null,
        currency: order.currency,
        line_count: Array.isArray(order.lines) ? order.lines.length : 0,
        payments: lightPayments(order),
        amount_total: order.amount_total,
        amount_tax: order.amount_tax,
        amount_paid: order.amount_paid,
        amount_return: order.amount_return,
        is_return: isReturnOrder(order),
    };
}

/**
 * The payments of an order with, of a card, only brand, last 4, status and outcome.
 * @param {object} order
 * @returns {object[]}
 */
export function lightPayments(order) {
    const payments = Array.isArray(order.payments) ? order.payments : [];
    return payments
        .filter((payment) => payment && typeof payment === "object")
        .map((payment) => ({
            uuid: payment.uuid,
            payment_method_id: payment.payment_method_id,
            payment_method_name: payment.payment_method_name,
            amount: payment.amount,
            card: payment.card
                ? {
                      brand: payment.card.brand,
                      last4: payment.card.last4,
                      status: payment.card.status,
                      payment_intent_id: payment.card.payment_intent_id ?? null,
                      message: payment.card.message ?? null,
                      decline_code: payment.card.decline_code ?? null,
                  }
                : null,
        }));
}

function worstCardStatus(statuses) {
    for (const status of ["failed", "unprocessed", "processing", "succeeded"]) {
        if (statuses.includes(status)) {
            return status;
        }
    }
    return statuses[0];
}
