/** @odoo-module */
// Auto-sync on reconnect (issue 11) in the real POS: offline, a cash sale and a card taken
// offline; back online with the status icon, and nothing else: a few seconds later the Sync icon
// says it syncs by itself, the card is processed and both orders land, with no click on Sync.
// test_auto_sync_tour.py turns the setting on and finds both orders once in the back office.
import * as Chrome from "@point_of_sale/../tests/pos/tours/utils/chrome_util";
import * as Dialog from "@point_of_sale/../tests/generic_helpers/dialog_util";
import * as PaymentScreen from "@point_of_sale/../tests/pos/tours/utils/payment_screen_util";
import * as ProductScreen from "@point_of_sale/../tests/pos/tours/utils/product_screen_util";
import * as ReceiptScreen from "@point_of_sale/../tests/pos/tours/utils/receipt_screen_util";
import { negate } from "@point_of_sale/../tests/generic_helpers/utils";
import { registry } from "@web/core/registry";

const STATUS = ".pos-offline-sync-icons [data-test='offline-status']";
const SYNC = ".pos-offline-sync-icons [data-test='sync-button']";

registry.category("web_tour.tours").add("pos_offline_sync_auto_sync_tour", {
    steps: () =>
        [
            Chrome.startPoS(),
            Dialog.confirm("Open Register"),
            { trigger: `${STATUS}[data-offline='false']` },
            { content: "go offline with the status icon", trigger: STATUS, run: "click" },
            { trigger: `${STATUS}[data-offline='true']` },
            ProductScreen.addOrderline("Desk Pad", "2"),
            ProductScreen.clickPayButton(),
            PaymentScreen.clickPaymentMethod("Cash"),
            PaymentScreen.clickValidate(),
            ReceiptScreen.isShown(),
            ReceiptScreen.clickNextOrder(),
            ProductScreen.addOrderline("Whiteboard Pen", "1"),
            ProductScreen.clickPayButton(),
            {
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
            ReceiptScreen.clickNextOrder(),
            { trigger: `${SYNC}[data-count='2']:not([data-auto-sync])` },
            { content: "back online with the status icon", trigger: STATUS, run: "click" },
            { trigger: `${STATUS}[data-offline='false']` },
            {
                content: "the Sync icon says the automatic sync is about to start",
                trigger: `${SYNC}[data-auto-sync='waiting'][aria-label*='automatic sync starts']`,
            },
            {
                content: "with no click, both orders leave the browser",
                trigger: `${SYNC}[data-count='0']`,
                timeout: 30000,
            },
            { trigger: `${SYNC}:not([data-auto-sync])` },
            { content: "the dialog was never opened", trigger: negate(".modal [data-test='sync-dialog']") },
            Chrome.endTour(),
        ].flat(),
});
