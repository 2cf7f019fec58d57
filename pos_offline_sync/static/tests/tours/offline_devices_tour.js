/** @odoo-module */
// Device reports in the real POS: an offline sale, back online, and the back office's
// pos.offline.device record follows what this browser holds (1 waiting order, then the name
// the cashier gives the device, then 0 once synced), read with the cashier's own rights.
import * as Chrome from "@point_of_sale/../tests/pos/tours/utils/chrome_util";
import * as Dialog from "@point_of_sale/../tests/generic_helpers/dialog_util";
import * as PaymentScreen from "@point_of_sale/../tests/pos/tours/utils/payment_screen_util";
import * as ProductScreen from "@point_of_sale/../tests/pos/tours/utils/product_screen_util";
import * as ReceiptScreen from "@point_of_sale/../tests/pos/tours/utils/receipt_screen_util";
import { rpc } from "@web/core/network/rpc";
import { registry } from "@web/core/registry";

/* global odoo */

const STATUS = ".pos-offline-sync-icons [data-test='offline-status']";
const SYNC = ".pos-offline-sync-icons [data-test='sync-button']";

/** Polls the back office (bounded: 30 s) until this POS's device record matches. */
function serverShows(what, matches) {
    return {
        content: `the back office's device record shows ${what}`,
        trigger: "body",
        run: async () => {
            for (let i = 0; i < 150; i++) {
                const rows = await rpc("/web/dataset/call_kw/pos.offline.device/search_read", {
                    model: "pos.offline.device",
                    method: "search_read",
                    args: [[["config_id", "=", odoo.pos_config_id]]],
                    kwargs: { fields: ["name", "waiting_count", "cashier_name"] },
                });
                if (rows.length === 1 && matches(rows[0])) {
                    return;
                }
                await new Promise((resolve) => setTimeout(resolve, 200));
            }
            throw new Error(`the device record never showed ${what}`);
        },
    };
}

registry.category("web_tour.tours").add("pos_offline_devices_tour", {
    steps: () =>
        [
            Chrome.startPoS(),
            Dialog.confirm("Open Register"),
            serverShows("an empty register", (row) => row.waiting_count === 0),
            { content: "go offline", trigger: STATUS, run: "click" },
            { trigger: `${STATUS}[data-offline='true']` },
            ProductScreen.addOrderline("Desk Pad", "1"),
            ProductScreen.clickPayButton(),
            PaymentScreen.clickPaymentMethod("Cash"),
            PaymentScreen.clickValidate(),
            ReceiptScreen.isShown(),
            { trigger: `${SYNC}[data-count='1']` },
            ReceiptScreen.clickNextOrder(),
            { content: "back online", trigger: STATUS, run: "click" },
            { trigger: `${STATUS}[data-offline='false']` },
            serverShows("1 waiting order", (row) => row.waiting_count === 1),
            { content: "open the sync dialog", trigger: SYNC, run: "click" },
            { trigger: ".modal [data-test='sync-row']" },
            { content: "rename this device", trigger: ".modal [data-test='device-rename']", run: "click" },
            { trigger: ".modal [data-test='device-name-input']", run: "edit Tour tablet" },
            { trigger: ".modal [data-test='device-save']", run: "click" },
            { trigger: ".modal [data-test='device-name-text']:contains('Tour tablet')" },
            serverShows("the new name", (row) => row.name === "Tour tablet"),
            { trigger: ".modal [data-test='select-all']", run: "click" },
            { trigger: ".modal [data-test='sync-submit']", run: "click" },
            { trigger: `${SYNC}[data-count='0']` },
            serverShows("0 waiting orders", (row) => row.waiting_count === 0),
            Chrome.endTour(),
        ].flat(),
});
