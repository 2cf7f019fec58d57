import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
    OfflineOrderError,
    isReturnOrder,
    summarizeOrder,
    validateOfflineOrder,
} from "../../pos_offline_sync/static/src/core/order_model.js";
import { cardPayment, makeOrder, makeReturn } from "./helpers/orders.mjs";

function rejects(order, pattern) {
    assert.throws(
        () => validateOfflineOrder(order),
        (error) => error instanceof OfflineOrderError && pattern.test(error.reason)
    );
}

describe("isReturnOrder", () => {
    it("tells returns by flag or by a negative total", () => {
        assert.equal(isReturnOrder(makeOrder()), false);
        assert.equal(isReturnOrder(makeReturn()), true);
        assert.equal(isReturnOrder(makeReturn({ is_return: false })), true);
        assert.equal(isReturnOrder(makeOrder({ is_return: true })), true);
        assert.equal(isReturnOrder(makeOrder({ amount_total: 0 })), false);
        assert.equal(isReturnOrder(null), false);
    });
});

describe("validateOfflineOrder", () => {
    it("accepts a well-formed sale, return and card order", () => {
        const withCard = makeOrder();
        withCard.payments = [cardPayment()];
        for (const order of [makeOrder(), makeReturn(), withCard]) {
            assert.equal(validateOfflineOrder(order), order);
        }
    });

    it("refuses an order without uuid, date or lines", () => {
        rejects(makeOrder({ uuid: "" }), /uuid/);
        rejects(makeOrder({ uuid: undefined }), /uuid/);
        rejects(makeOrder({ created_at: "yesterday" }), /created_at/);
        rejects(makeOrder({ lines: [] }), /no lines/);
        rejects(makeOrder({ v: 2 }), /version/);
        assert.throws(() => validateOfflineOrder(null), OfflineOrderError);
        assert.throws(() => validateOfflineOrder([]), OfflineOrderError);
    });

    it("names the line whose quantity or price is not a number", () => {
        const order = makeOrder();
        order.lines.push({ ...order.lines[0], qty: "2" });
        rejects(order, /^line 2: quantity is not a number$/);
        const nan = makeOrder();
        nan.lines[0].price_unit = Number.NaN;
        rejects(nan, /^line 1: unit price/);
        const noProduct = makeOrder();
        noProduct.lines[0].product_id = null;
        rejects(noProduct, /^line 1: no product/);
    });

    it("refuses bad payments and totals", () => {
        const order = makeOrder();
        order.payments[0].amount = "7";
        rejects(order, /^payment 1: amount/);
        rejects(makeOrder({ amount_total: Number.POSITIVE_INFINITY }), /amount_total/);
        rejects(makeOrder({ payments: null }), /payments/);
    });

    it("refuses plaintext card data without echoing it", () => {
        const order = makeOrder();
        const payment = cardPayment();
        payment.card.number = "4242424242424242";
        order.payments = [payment];
        assert.throws(
            () => validateOfflineOrder(order),
            (error) =>
                /plaintext card data/.test(error.message) && !error.message.includes("4242424242")
        );
    });
});

describe("summarizeOrder", () => {
    it("gives the dialog's columns from an order or a record", () => {
        const order = makeOrder();
        order.payments.push(cardPayment());
        order.payments.push({ ...order.payments[0], uuid: "again" });
        for (const input of [order, { uuid: order.uuid, order }]) {
            const summary = summarizeOrder(input);
            assert.equal(summary.uuid, order.uuid);
            assert.equal(summary.reference, order.reference);
            assert.equal(summary.createdAt, order.created_at);
            assert.equal(summary.customerName, "Deco Addict");
            assert.equal(summary.total, 7);
            assert.equal(summary.paymentMethods, "Cash, Card (offline)");
            assert.equal(summary.hasCard, true);
            assert.equal(summary.cardStatus, "unprocessed");
            assert.equal(summary.isReturn, false);
        }
    });

    it("handles a walk-in customer and no card", () => {
        const summary = summarizeOrder(makeOrder({ customer: null }));
        assert.equal(summary.customerName, "");
        assert.equal(summary.hasCard, false);
        assert.equal(summary.cardStatus, null);
    });
});

describe("store summaries", () => {
    it("keep what a listing needs and drop lines, odoo payload and card envelopes", async () => {
        const { makeRecord, makeSummary, expandSummary } =
            await import("../../pos_offline_sync/static/src/core/offline_store.js");
        const { lightOrder } =
            await import("../../pos_offline_sync/static/src/core/order_model.js");
        const order = makeOrder({ odoo: { big: "payload" } });
        order.payments.push(cardPayment());
        const row = makeSummary(makeRecord(order));
        assert.ok(!JSON.stringify(row).includes("envelope"));
        assert.ok(!JSON.stringify(row).includes("payload"));
        const expanded = expandSummary(structuredClone(row));
        assert.deepEqual(expanded.order, lightOrder(order));
        assert.equal(expanded.order.line_count, 1);
        const walkIn = expandSummary(makeSummary(makeRecord(makeOrder({ customer: null }))));
        assert.equal(walkIn.order.customer, null);
    });
});
