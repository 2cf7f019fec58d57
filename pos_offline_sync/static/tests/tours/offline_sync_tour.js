/** @odoo-module */
// Offline mode in the real POS: go offline with the icon, sell (cash, then a card taken offline),
// reload (the orders survive in the browser), go back online, process the card, sync from the
// dialog. The Python side then finds both orders in the back office.
import * as Chrome from "@point_of_sale/../tests/pos/tours/utils/chrome_util";
import * as Dialog from "@point_of_sale/../tests/generic_helpers/dialog_util";
import * as PaymentScreen from "@point_of_sale/../tests/pos/tours/utils/payment_screen_util";
import * as ProductScreen from "@point_of_sale/../tests/pos/tours/utils/product_screen_util";
import * as ReceiptScreen from "@point_of_sale/../tests/pos/tours/utils/receipt_screen_util";
import { refresh } from "@point_of_sale/../tests/generic_helpers/utils";
import { registry } from "@web/core/registry";

const STATUS = ".pos-offline-sync-icons [data-test='offline-status']";
const SYNC = ".pos-offline-sync-icons [data-test='sync-button']";

registry.category("web_tour.tours").add("pos_offline_sync_tour", {
    steps: () =>
        [
            Chrome.startPoS(),
            Dialog.confirm("Open Register"),
            {
                content: "both offline icons sit next to Odoo's status, online and empty",
                trigger: `${STATUS}[data-offline='false']`,
            },
            { trigger: `${SYNC}[data-count='0']` },
            {
                content: "go offline with the status icon",
                trigger: STATUS,
                run: "click",
            },
            { trigger: `${STATUS}[data-offline='true']` },
            ProductScreen.addOrderline("Desk Pad", "2"),
            ProductScreen.clickPayButton(),
            PaymentScreen.clickPaymentMethod("Cash"),
            PaymentScreen.clickValidate(),
            ReceiptScreen.isShown(),
            {
                content: "the sale waits in the browser: the Sync icon counts it",
                trigger: `${SYNC}[data-count='1']`,
            },
            ReceiptScreen.clickNextOrder(),
            // A second sale, by card: the flagged method asks for the card while offline.
            ProductScreen.addOrderline("Whiteboard Pen", "1"),
            ProductScreen.clickPayButton(),
            {
                content: "pay with the card method flagged for offline capture",
                trigger: ".paymentmethods .button.paymentmethod .payment-name:contains('Bank')",
                run: "click",
            },
            { trigger: ".modal [data-test='card-number']", run: "edit 4242 4242 4242 4242" },
            { trigger: ".modal [data-test='card-expiry']", run: "edit 12/30" },
            { trigger: ".modal [data-test='card-cvc']", run: "edit 123" },
            { trigger: ".modal [data-test='card-name']", run: "edit Ada Lovelace" },
            { trigger: ".modal [data-test='card-confirm']", run: "click" },
            { trigger: "body:not(:has(.modal [data-test='card-form']))" },
            PaymentScreen.clickValidate(),
            ReceiptScreen.isShown(),
            { trigger: `${SYNC}[data-count='2']` },
            refresh(),
            {
                content: "after a reload both orders are still waiting, and the register still offline",
                trigger: `${SYNC}[data-count='2']`,
            },
            { trigger: `${STATUS}[data-offline='true']` },
            {
                content: "back online with the status icon",
                trigger: STATUS,
                run: "click",
            },
            { trigger: `${STATUS}[data-offline='false']` },
            { content: "open the sync dialog", trigger: SYNC, run: "click" },
            { trigger: ".modal [data-test='sync-row']" },
            {
                content: "process the card: it turns green",
                trigger: ".modal [data-test='process-card-button']",
                run: "click",
            },
            { trigger: ".modal [data-test='process-card-button'][data-status='succeeded']" },
            { content: "select every waiting order", trigger: ".modal [data-test='select-all']", run: "click" },
            { content: "sync to the back office", trigger: ".modal [data-test='sync-submit']", run: "click" },
            {
                content: "the dialog confirms and the icon empties",
                trigger: `${SYNC}[data-count='0']`,
            },
            Chrome.endTour(),
        ].flat(),
});
