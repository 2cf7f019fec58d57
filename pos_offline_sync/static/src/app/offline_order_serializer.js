/** @odoo-module */
// Turns a finalized Odoo POS order into the plain offline order of docs/CONTRACTS.md §1, with
// Odoo's own serializeForORM() kept under `odoo` so the server can replay it through
// sync_from_ui unchanged.

function isoUtc(value) {
    // date_order is a luxon DateTime (or a server string) in the POS models.
    if (value && typeof value.toUTC === "function") {
        return value.toUTC().toISO();
    }
    const d = value ? new Date(String(value).replace(" ", "T") + "Z") : new Date();
    return Number.isNaN(d.getTime()) ? new Date().toISOString() : d.toISOString();
}

function plainCard(payment) {
    const card = payment.uiState?.offlineCard;
    if (!card) {
        return null;
    }
    // Only what CONTRACTS §1 allows: brand, last 4, expiry and the sealed envelope.
    return {
        brand: card.brand,
        last4: card.last4,
        exp_month: card.exp_month,
        exp_year: card.exp_year,
        envelope: card.envelope,
        status: "unprocessed",
        payment_intent_id: null,
        message: null,
        decline_code: null,
    };
}

/**
 * @param {object} order an Odoo pos.order model instance, prices already set (setOrderPrices)
 * @param {object} pos the PosStore
 * @returns {object} plain offline order, version 1
 */
export function toOfflineOrder(order, pos) {
    const currency = pos.currency;
    const round = (n) => (currency ? currency.round(n) : Math.round(n * 100) / 100);
    const partner = order.partner_id;
    const cashier = order.user_id || pos.user;
    // Odoo gives a refund's lines the sign of the order's total undone (priceIncl is the
    // line's total times the order's sign): the plain lines carry their own, adding up to it.
    const sign = order.orderSign < 0 ? -1 : 1;
    const lines = order.lines.map((line) => ({
        product_id: line.product_id.id,
        product_name: line.getFullProductName(),
        qty: line.getQuantity(),
        price_unit: line.price_unit,
        discount: line.discount || 0,
        price_subtotal_incl: round((line.price_subtotal_incl ?? line.priceIncl) * sign),
    }));
    const payments = order.payment_ids
        .filter((p) => !p.is_change)
        .map((p) => ({
            uuid: p.uuid,
            payment_method_id: p.payment_method_id.id,
            payment_method_name: p.payment_method_id.name,
            amount: round(p.amount),
            card: plainCard(p),
        }));
    // keepCommands: serializing also marks the order clean and consumes its pending line
    // deletions; should the capture fail, Odoo's own sync (the fallback) would find nothing
    // to send. The capture consumes them once it has committed (pos_store_patch.js).
    const odoo = order.serializeForORM({ keepCommands: true });
    const total = round(order.amount_total);
    const plain = {
        v: 1,
        uuid: order.uuid,
        reference: order.pos_reference || order.name || order.uuid,
        created_at: isoUtc(order.date_order),
        config_id: pos.config.id,
        session_id: pos.session?.id ?? null,
        cashier: cashier ? { id: cashier.id, name: cashier.name } : null,
        customer: partner ? { id: partner.id, name: partner.name } : null,
        currency: currency?.name || "",
        lines,
        payments,
        amount_total: total,
        amount_tax: round(order.amount_tax),
        amount_paid: round(order.amount_paid),
        // The money given back, unsigned: Odoo's `change` is negative for a sale's change,
        // positive for a refund's (signed against the payments, as it books it).
        amount_return: round(Math.abs(order.amount_return || 0)),
        is_return: total < 0 || Boolean(order.isRefund),
        odoo,
    };
    // Plain JSON for IndexedDB: the POS models hand out reactive proxies, which the browser
    // cannot structured-clone (DataCloneError).
    return JSON.parse(JSON.stringify(plain));
}
