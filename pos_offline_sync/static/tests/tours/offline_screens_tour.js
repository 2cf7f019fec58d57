/** @odoo-module */
// The Odoo POS screens an offline order passes through once synced: the Orders screen (Paid and
// Active filters, search by receipt number, details, receipt reprint), refunds (partial, then the
// rest, each rung up offline), an invoice asked for offline, the closing screen. Every sale is
// captured with the register offline and synced through the addon's dialog; a page error
// anywhere fails the tour. test_offline_screens_tour.py checks the back office afterwards.
import * as Chrome from "@point_of_sale/../tests/pos/tours/utils/chrome_util";
import * as Dialog from "@point_of_sale/../tests/generic_helpers/dialog_util";
import * as PaymentScreen from "@point_of_sale/../tests/pos/tours/utils/payment_screen_util";
import * as ProductScreen from "@point_of_sale/../tests/pos/tours/utils/product_screen_util";
import * as ReceiptScreen from "@point_of_sale/../tests/pos/tours/utils/receipt_screen_util";
import * as TicketScreen from "@point_of_sale/../tests/pos/tours/utils/ticket_screen_util";
import { refresh } from "@point_of_sale/../tests/generic_helpers/utils";
import { rpc } from "@web/core/network/rpc";
import { registry } from "@web/core/registry";

const STATUS = ".pos-offline-sync-icons [data-test='offline-status']";
const SYNC = ".pos-offline-sync-icons [data-test='sync-button']";
const FAILURE = ".pos-offline-card-failure";

/** Receipt numbers of the orders synced from offline, by their first product, from the server. */
const refs = {};

function goOffline() {
    return [
        { content: "go offline with the status icon", trigger: `${STATUS}[data-offline='false']`, run: "click" },
        { trigger: `${STATUS}[data-offline='true']` },
    ];
}

function goOnlineAndSync(count) {
    return [
        { trigger: `${SYNC}[data-count='${count}']` },
        { content: "back online", trigger: `${STATUS}[data-offline='true']`, run: "click" },
        { trigger: `${STATUS}[data-offline='false']` },
        { content: "open the sync dialog", trigger: SYNC, run: "click" },
        { trigger: `.modal [data-test='sync-row']:count(${count})` },
        { trigger: ".modal [data-test='select-all']", run: "click" },
        { content: "sync to the back office", trigger: ".modal [data-test='sync-submit']", run: "click" },
        {
            content: "every order synced",
            trigger: `${SYNC}[data-count='0']`,
            // The sync request makes the invoice and the picking too: slow on a busy machine.
            timeout: 60000,
        },
        {
            content: "close the dialog",
            trigger: ".modal [data-test='dialog-close-footer']:not([disabled])",
            run: "click",
        },
        { trigger: "body:not(:has(.pos-offline-sync-dialog))" },
    ];
}

function sell(product, qty, method, card = null) {
    const steps = [ProductScreen.addOrderline(product, qty), ProductScreen.clickPayButton()];
    if (card) {
        steps.push(
            {
                content: "pay with the card method flagged for offline capture",
                trigger: `.paymentmethods .button.paymentmethod .payment-name:contains('${method}')`,
                run: "click",
            },
            { trigger: ".modal [data-test='card-number']", run: `edit ${card}` },
            { trigger: ".modal [data-test='card-expiry']", run: "edit 12/30" },
            { trigger: ".modal [data-test='card-cvc']", run: "edit 123" },
            { trigger: ".modal [data-test='card-name']", run: "edit Ada Lovelace" },
            { trigger: ".modal [data-test='card-confirm']", run: "click" },
            { trigger: "body:not(:has(.modal [data-test='card-form']))" }
        );
    } else {
        steps.push(PaymentScreen.clickPaymentMethod(method));
    }
    steps.push(PaymentScreen.clickValidate(), ReceiptScreen.isShown(), ReceiptScreen.clickNextOrder());
    return steps.flat();
}

function readReferences() {
    return {
        content: "the receipt numbers of the synced orders, from the back office",
        trigger: "body",
        run: async () => {
            const orders = await rpc("/web/dataset/call_kw/pos.order/search_read", {
                model: "pos.order",
                method: "search_read",
                args: [[["offline_synced", "=", true], ["amount_total", ">", 0]]],
                kwargs: { fields: ["pos_reference", "lines"] },
            });
            const lines = await rpc("/web/dataset/call_kw/pos.order.line/search_read", {
                model: "pos.order.line",
                method: "search_read",
                args: [[["order_id", "in", orders.map((o) => o.id)]]],
                kwargs: { fields: ["order_id", "full_product_name"] },
            });
            for (const line of lines) {
                const order = orders.find((o) => o.id === line.order_id[0]);
                refs[line.full_product_name] = order.pos_reference;
            }
        },
    };
}

/** Orders screen, `filter` chosen, searched by the receipt number of the order of `product`. */
function searchOrder(product, filter) {
    return [
        ...TicketScreen.selectFilter(filter),
        {
            content: `search the ${product} order by receipt number`,
            trigger: ".pos-search-bar input",
            run: async (helpers) => await helpers.edit(refs[product]),
        },
        { trigger: `.pos-search-bar .search ul li:contains("Receipt Number")`, run: "click" },
    ];
}

function openPaidOrder(product) {
    return [
        ...searchOrder(product, "Paid"),
        { content: "found once", trigger: ".ticket-screen .order-row:count(1)" },
        { trigger: ".ticket-screen .order-row", run: "click" },
        {
            content: "its lines are shown",
            trigger: `.ticket-screen .order-container .orderline:contains(${product})`,
        },
    ];
}

function notFound(product, filter) {
    return [
        ...searchOrder(product, filter),
        {
            content: `not under ${filter}`,
            trigger: ".ticket-screen:not(:has(.order-row))",
        },
    ];
}

function reprintAndDetails(product) {
    return [
        ...openPaidOrder(product),
        {
            content: "reprint its receipt",
            trigger: ".ticket-screen .control-buttons button:contains(Print Receipt)",
            run: "click",
        },
        {
            content: "printed: the back office counts the reprint",
            trigger: ".ticket-screen .control-buttons button:contains(Print Receipt):not(:has(.fa-spin))",
            run: async () => {
                // The count is written after the print: wait for it (the tour's own timeout).
                for (;;) {
                    const [order] = await rpc("/web/dataset/call_kw/pos.order/search_read", {
                        model: "pos.order",
                        method: "search_read",
                        args: [[["pos_reference", "=", refs[product]]]],
                        kwargs: { fields: ["nb_print"] },
                    });
                    if (order?.nb_print >= 1) {
                        return;
                    }
                    await new Promise((resolve) => requestAnimationFrame(resolve));
                }
            },
        },
        {
            content: "its details (Odoo's order form)",
            trigger: ".ticket-screen .control-buttons button.edit-order-payment",
            run: "click",
        },
        { trigger: `.modal .o_form_view .o_field_widget[name='lines'] td:contains(${product})` },
        { trigger: ".modal .o_form_view .o_statusbar_status .o_arrow_button_current:contains(Paid)" },
        { content: "close the details", trigger: ".modal .btn-close", run: "click" },
        { trigger: "body:not(:has(.modal .o_form_view))" },
    ];
}

registry.category("web_tour.tours").add("pos_offline_sync_orders_screen_tour", {
    steps: () =>
        [
            Chrome.startPoS(),
            Dialog.confirm("Open Register"),
            ...goOffline(),
            sell("Desk Pad", "2", "Cash"),
            sell("Whiteboard Pen", "1", "Bank", "4242 4242 4242 4242"),
            sell("Letter Tray", "1", "Bank", "4000 0000 0000 0341"),
            ...goOnlineAndSync(3),
            // Reopened, the register loads the session's draft orders: the declined one.
            refresh(),
            { content: "the register is back", trigger: `${SYNC}[data-count='0']` },
            ProductScreen.isShown(),
            readReferences(),
            Chrome.clickOrders(),
            TicketScreen.isShown(),
            ...reprintAndDetails("Desk Pad"),
            ...reprintAndDetails("Whiteboard Pen"),
            ...notFound("Letter Tray", "Paid"),
            // Unpaid: the declined card's order is among the active ones, with its reason.
            ...searchOrder("Letter Tray", "Active"),
            { trigger: ".ticket-screen .order-row:count(1)" },
            { trigger: ".ticket-screen .order-row", run: "click" },
            { trigger: `.ticket-screen ${FAILURE}:contains(Card payment failed)` },
            ...notFound("Desk Pad", "Active"),
            ...notFound("Whiteboard Pen", "Active"),
            Chrome.endTour(),
        ].flat(),
});

function refundFromOrders(qty) {
    return [
        ...ProductScreen.clickRefund(),
        TicketScreen.isShown(),
        ...openPaidOrder("Desk Pad"),
        ProductScreen.clickNumpad(qty),
        TicketScreen.toRefundTextContains(`To Refund: ${qty}.00`),
        TicketScreen.confirmRefund(),
        PaymentScreen.isShown(),
        PaymentScreen.clickPaymentMethod("Cash"),
        PaymentScreen.clickValidate(),
        ReceiptScreen.isShown(),
        ReceiptScreen.clickNextOrder(),
    ].flat();
}

registry.category("web_tour.tours").add("pos_offline_sync_refund_tour", {
    steps: () =>
        [
            Chrome.startPoS(),
            Dialog.confirm("Open Register"),
            ...goOffline(),
            sell("Desk Pad", "3", "Cash"),
            ...goOnlineAndSync(1),
            refresh(),
            { content: "the register is back", trigger: `${SYNC}[data-count='0']` },
            readReferences(),
            // A partial refund, rung up offline, synced.
            ...goOffline(),
            refundFromOrders("1"),
            ...goOnlineAndSync(1),
            // The rest, offline again, synced.
            ...goOffline(),
            refundFromOrders("2"),
            ...goOnlineAndSync(1),
            // Reopened: nothing left to refund on the original.
            refresh(),
            { trigger: `${SYNC}[data-count='0']` },
            readReferences(),
            ...ProductScreen.clickRefund(),
            ...openPaidOrder("Desk Pad"),
            TicketScreen.noLinesToRefund(),
            Chrome.endTour(),
        ].flat(),
});

registry.category("web_tour.tours").add("pos_offline_sync_invoice_tour", {
    steps: () =>
        [
            Chrome.startPoS(),
            Dialog.confirm("Open Register"),
            ...goOffline(),
            ProductScreen.addOrderline("Whiteboard Pen", "5"),
            ProductScreen.clickPartnerButton(),
            ProductScreen.clickCustomer("Partner Test 1"),
            ProductScreen.clickPayButton(),
            PaymentScreen.clickPaymentMethod("Cash"),
            PaymentScreen.clickInvoiceButton(),
            PaymentScreen.isInvoiceButtonChecked(),
            PaymentScreen.clickValidate(),
            ReceiptScreen.isShown(),
            {
                content: "the cashier is told the invoice comes with the sync",
                trigger: ".o_notification:contains(invoice will be made when this order is synced)",
            },
            {
                // Odoo's own "An error occurred while generating an invoice" before the fix.
                content: "no invoice error dialog",
                trigger: "body:not(:has(.modal))",
            },
            ReceiptScreen.clickNextOrder(),
            ...goOnlineAndSync(1),
            Chrome.endTour(),
        ].flat(),
});

/** The closing popup shows `amount` (read from the back office) for the method `name`. */
function closingShows(name, expected) {
    return {
        content: `${name}: the amount the back office holds`,
        trigger: `.modal .close-pos-popup .payment-methods-overview .fs-3:contains(${name})`,
        run: async () => {
            const shown = [
                ...document.querySelectorAll(".modal .close-pos-popup .payment-methods-overview .fs-3"),
            ].find((row) => row.textContent.includes(name));
            const amount = expected();
            if (!shown.textContent.includes(amount)) {
                throw new Error(`${name}: expected ${amount}, the closing screen shows ${shown.textContent}`);
            }
        },
    };
}

const sessionTotals = {};

registry.category("web_tour.tours").add("pos_offline_sync_closing_tour", {
    steps: () =>
        [
            Chrome.startPoS(),
            Dialog.confirm("Open Register"),
            ...goOffline(),
            sell("Desk Pad", "2", "Cash"),
            sell("Letter Tray", "1", "Cash"),
            sell("Whiteboard Pen", "1", "Bank", "4242 4242 4242 4242"),
            ...goOnlineAndSync(3),
            {
                content: "what the back office holds per method",
                trigger: "body",
                run: async () => {
                    const payments = await rpc("/web/dataset/call_kw/pos.payment/search_read", {
                        model: "pos.payment",
                        method: "search_read",
                        args: [[["pos_order_id.offline_synced", "=", true]]],
                        kwargs: { fields: ["amount", "payment_method_id"] },
                    });
                    for (const p of payments) {
                        const name = p.payment_method_id[1];
                        sessionTotals[name] = (sessionTotals[name] || 0) + p.amount;
                    }
                    if (!sessionTotals.Cash || !sessionTotals.Bank) {
                        throw new Error(`cash and card expected, got ${JSON.stringify(sessionTotals)}`);
                    }
                },
            },
            Chrome.clickMenuOption("Close Register"),
            closingShows("Cash", () => sessionTotals.Cash.toFixed(2)),
            closingShows("Bank", () => sessionTotals.Bank.toFixed(2)),
            {
                content: "count the cash: what is expected",
                trigger: ".modal .close-pos-popup .cash-input-sub-section .fa-clone, .modal .close-pos-popup .fa-clone.btn-secondary",
                run: "click",
            },
            ProductScreen.cashDifferenceIs("0.00"),
            {
                content: "close the register",
                trigger: ".modal .modal-footer .btn:contains(Close Register)",
                run: "click",
                expectUnloadPage: true,
            },
            { content: "the session is closed: the register page is left", trigger: "body" },
        ].flat(),
});
