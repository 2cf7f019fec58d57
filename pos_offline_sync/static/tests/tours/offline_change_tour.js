/** @odoo-module */
// A cash sale with change, rung up offline in the real POS and synced from the dialog: Odoo's
// register sends the change as a negative amount_return (its `change` getter), which the
// back office turns into the order's change line.
import * as Chrome from "@point_of_sale/../tests/pos/tours/utils/chrome_util";
import * as Dialog from "@point_of_sale/../tests/generic_helpers/dialog_util";
import * as PaymentScreen from "@point_of_sale/../tests/pos/tours/utils/payment_screen_util";
import * as ProductScreen from "@point_of_sale/../tests/pos/tours/utils/product_screen_util";
import * as ReceiptScreen from "@point_of_sale/../tests/pos/tours/utils/receipt_screen_util";
import { registry } from "@web/core/registry";

const STATUS = ".pos-offline-sync-icons [data-test='offline-status']";
const SYNC = ".pos-offline-sync-icons [data-test='sync-button']";

registry.category("web_tour.tours").add("pos_offline_change_tour", {
    steps: () =>
        [
            Chrome.startPoS(),
            Dialog.confirm("Open Register"),
            { trigger: `${STATUS}[data-offline='false']` },
            { content: "go offline with the status icon", trigger: STATUS, run: "click" },
            { trigger: `${STATUS}[data-offline='true']` },
            ProductScreen.addOrderline("Desk Pad", "1"),
            ProductScreen.clickPayButton(),
            PaymentScreen.clickPaymentMethod("Cash"),
            PaymentScreen.enterPaymentLineAmount("Cash", "100"),
            PaymentScreen.clickValidate(),
            ReceiptScreen.isShown(),
            { content: "the sale with change waits in the browser", trigger: `${SYNC}[data-count='1']` },
            ReceiptScreen.clickNextOrder(),
            { content: "back online with the status icon", trigger: STATUS, run: "click" },
            { trigger: `${STATUS}[data-offline='false']` },
            { content: "open the sync dialog", trigger: SYNC, run: "click" },
            { trigger: ".modal [data-test='sync-row']" },
            { content: "select it", trigger: ".modal [data-test='select-all']", run: "click" },
            { content: "sync it", trigger: ".modal [data-test='sync-submit']", run: "click" },
            { content: "it landed: the icon empties", trigger: `${SYNC}[data-count='0']` },
            Chrome.endTour(),
        ].flat(),
});
