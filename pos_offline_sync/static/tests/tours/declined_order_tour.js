/** @odoo-module */
// A card taken offline and declined at sync leaves an unpaid order in the back office. The
// register must still open with it (it is one of the session's draft orders), show it in the
// Orders screen with the reason, and show it again once the back office was paid it: a page
// error anywhere fails the tour. test_declined_order_tour.py runs the three tours in order.
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
const REASON = "Card payment failed: VISA **** 0341";

/** The declined order's receipt number, read from the server (the tour cannot know it). */
let reference = null;

function findDeclinedOrder() {
    return {
        content: "the declined order's receipt number, from the back office",
        trigger: "body",
        run: async () => {
            const orders = await rpc("/web/dataset/call_kw/pos.order/search_read", {
                model: "pos.order",
                method: "search_read",
                args: [[["offline_synced", "=", true]]],
                kwargs: { fields: ["pos_reference"] },
            });
            if (orders.length !== 1 || !orders[0].pos_reference) {
                throw new Error(`expected one order synced from offline, got ${JSON.stringify(orders)}`);
            }
            reference = orders[0].pos_reference;
        },
    };
}

/** Orders screen: search the declined order by its receipt number and open it. */
function openDeclinedOrder(filter) {
    return [
        Chrome.clickOrders(),
        TicketScreen.isShown(),
        ...(filter ? TicketScreen.selectFilter(filter) : []),
        {
            content: "search by receipt number",
            trigger: ".pos-search-bar input",
            run: async (helpers) => await helpers.edit(reference),
        },
        {
            trigger: `.pos-search-bar .search ul li:contains("Receipt Number")`,
            run: "click",
        },
        {
            content: "one order found: the declined one",
            trigger: ".ticket-screen .order-row:count(1)",
        },
        {
            trigger: ".ticket-screen .order-row",
            run: "click",
        },
        {
            content: "its details say why the card did not pay",
            trigger: `.ticket-screen ${FAILURE}:contains(${REASON})`,
        },
    ];
}

registry.category("web_tour.tours").add("pos_offline_sync_declined_order_tour", {
    steps: () =>
        [
            Chrome.startPoS(),
            Dialog.confirm("Open Register"),
            { trigger: `${STATUS}[data-offline='false']`, run: "click" },
            { trigger: `${STATUS}[data-offline='true']` },
            ProductScreen.addOrderline("Whiteboard Pen", "1"),
            ProductScreen.clickPayButton(),
            {
                content: "pay with the card method flagged for offline capture",
                trigger: ".paymentmethods .button.paymentmethod .payment-name:contains('Bank')",
                run: "click",
            },
            { trigger: ".modal [data-test='card-number']", run: "edit 4000 0000 0000 0341" },
            { trigger: ".modal [data-test='card-expiry']", run: "edit 12/30" },
            { trigger: ".modal [data-test='card-cvc']", run: "edit 123" },
            { trigger: ".modal [data-test='card-name']", run: "edit Ada Lovelace" },
            { trigger: ".modal [data-test='card-confirm']", run: "click" },
            { trigger: "body:not(:has(.modal [data-test='card-form']))" },
            PaymentScreen.clickValidate(),
            ReceiptScreen.isShown(),
            { trigger: `${SYNC}[data-count='1']` },
            ReceiptScreen.clickNextOrder(),
            { content: "back online", trigger: STATUS, run: "click" },
            { trigger: `${STATUS}[data-offline='false']` },
            { trigger: SYNC, run: "click" },
            { trigger: ".modal [data-test='select-all']", run: "click" },
            {
                content: "sync: the card is processed first, declined, the order lands unpaid",
                trigger: ".modal [data-test='sync-submit']",
                run: "click",
            },
            { trigger: `${SYNC}[data-count='0']` },
            // Reopened, the register loads the session's draft orders, the declined one too.
            refresh(),
            { content: "the register is back", trigger: `${SYNC}[data-count='0']` },
            ProductScreen.isShown(),
            findDeclinedOrder(),
            ...openDeclinedOrder(null),
            Chrome.endTour(),
        ].flat(),
});

registry.category("web_tour.tours").add("pos_offline_sync_declined_paid_tour", {
    steps: () =>
        [
            { content: "the register opens", trigger: `${SYNC}[data-count='0']` },
            findDeclinedOrder(),
            ...openDeclinedOrder("Paid"),
            {
                content: "paid in the back office",
                trigger: ".ticket-screen .order-row:contains(Paid)",
            },
            Chrome.endTour(),
        ].flat(),
});

// Back office: the order's form shows the reason; Odoo's own Payment button pays it in cash.
registry.category("web_tour.tours").add("pos_offline_sync_declined_backoffice_tour", {
    steps: () => [
        {
            content: "the form says the card failed, with the reason",
            trigger: ".o_form_view .alert-danger:contains(Card payment failed)",
        },
        { trigger: `.o_form_view .o_field_widget[name='offline_card_failure']:contains(${REASON})` },
        {
            content: "Odoo's Payment button",
            trigger: ".o_form_view .o_statusbar_buttons button:contains(Payment)",
            run: "click",
        },
        {
            content: "cash for the amount due",
            trigger: ".modal .o_field_widget[name='payment_method_id'] input",
            run: "edit Cash",
        },
        { trigger: ".ui-autocomplete .dropdown-item:contains(Cash)", run: "click" },
        { trigger: ".modal-footer button[name='check']", run: "click" },
        { trigger: ".o_statusbar_status .o_arrow_button_current:contains(Paid)" },
        {
            content: "the reason stays on the paid order",
            trigger: `.o_form_view .o_field_widget[name='offline_card_failure']:contains(${REASON})`,
        },
    ],
});
