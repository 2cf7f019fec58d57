/** @odoo-module */
// The register's offline settings change in the back office while it is open; a refresh and a
// log out / log in (both reuse Odoo's cached POS data) must show the new behaviour. The
// settings are written through the ORM by the tour itself (the user is a POS manager), as the
// settings page does (its fields are related to pos.config). test_settings_refresh_tour.py
// sets up the register: offline mode off, "Bank" capturing cards offline.
/* global posmodel */
import * as Chrome from "@point_of_sale/../tests/pos/tours/utils/chrome_util";
import * as Dialog from "@point_of_sale/../tests/generic_helpers/dialog_util";
import * as PaymentScreen from "@point_of_sale/../tests/pos/tours/utils/payment_screen_util";
import * as ProductScreen from "@point_of_sale/../tests/pos/tours/utils/product_screen_util";
import { negate, refresh } from "@point_of_sale/../tests/generic_helpers/utils";
import { registry } from "@web/core/registry";
import { browser } from "@web/core/browser/browser";
import { rpc } from "@web/core/network/rpc";

const ICONS = ".pos-offline-sync-icons";
const STATUS = `${ICONS} [data-test='offline-status']`;
const CONFIG_KEY = "pos_offline_sync_settings_tour_config";

function writeSettings(vals) {
    return {
        content: `back office: pos.config ${JSON.stringify(vals)}`,
        trigger: "body",
        run: async () => {
            const configId = posmodel.config.id;
            browser.localStorage.setItem(CONFIG_KEY, String(configId));
            await rpc("/web/dataset/call_kw/pos.config/write", {
                model: "pos.config",
                method: "write",
                args: [[configId], vals],
                kwargs: {},
            });
        },
    };
}

function noIcons() {
    return [
        ProductScreen.isShown(),
        { content: "the register is loaded", trigger: ".pos .pos-rightheader" },
        { content: "no offline icons", trigger: negate(ICONS) },
    ];
}

function check(content, predicate) {
    return {
        content,
        trigger: "body",
        run: () => {
            if (!predicate()) {
                throw new Error(`not so: ${content}`);
            }
        },
    };
}

/** Offline, a Bank payment of a pen (the order kept from before has `pens` then): the card
 * form, refused or not by the amount limit. */
function cardFormForAPen(refused, pens) {
    return [
        { trigger: `${STATUS}[data-offline='false']`, run: "click" },
        { trigger: `${STATUS}[data-offline='true']` },
        ProductScreen.clickDisplayedProduct("Whiteboard Pen", true, pens),
        ProductScreen.clickPayButton(),
        {
            trigger: ".paymentmethods .button.paymentmethod .payment-name:contains('Bank')",
            run: "click",
        },
        refused
            ? {
                  content: "the card limit set in the back office refuses the payment",
                  trigger: ".modal [data-test='card-refusal']:contains(over this POS's limit)",
              }
            : {
                  content: "no card limit any more",
                  trigger: ".modal [data-test='card-form']:not(:has([data-test='card-refusal']))",
              },
        { trigger: ".modal [data-test='card-cancel']", run: "click" },
        { trigger: negate(".modal [data-test='card-form']") },
        PaymentScreen.clickBackToProductScreen(),
        { trigger: `${STATUS}[data-offline='true']`, run: "click" },
        { trigger: `${STATUS}[data-offline='false']` },
    ];
}

function logOutAndIn() {
    return [
        {
            content: "log out",
            trigger: "body",
            run: () => {
                window.location.href = "/web/session/logout?redirect=/web/login";
            },
            expectUnloadPage: true,
        },
        { trigger: ".oe_login_form input[name='login']", run: "edit pos_admin" },
        { trigger: ".oe_login_form input[name='password']", run: "edit pos_admin" },
        {
            content: "straight back to the register after the login",
            trigger: ".oe_login_form input[name='redirect']:hidden",
            run() {
                this.anchor.value = `/pos/ui/${browser.localStorage.getItem(CONFIG_KEY)}`;
            },
        },
        {
            trigger: ".oe_login_form .oe_login_buttons button:contains(log in)",
            run: "click",
            expectUnloadPage: true,
        },
    ];
}

registry.category("web_tour.tours").add("pos_offline_sync_settings_refresh_tour", {
    steps: () =>
        [
            Chrome.startPoS(),
            Dialog.confirm("Open Register"),
            ...noIcons(),
            writeSettings({ allow_offline_mode: true, offline_card_max_amount: 0.5 }),
            refresh(),
            {
                content: "after a refresh: the offline icons",
                trigger: `${STATUS}[data-offline='false']`,
            },
            ...cardFormForAPen(true, "1"),
            writeSettings({
                allow_offline_auto_detect: true,
                offline_auto_sync: true,
                offline_card_max_amount: 0,
            }),
            ...logOutAndIn(),
            {
                content: "after logging in again: the icons",
                trigger: `${STATUS}[data-offline='false']`,
            },
            check("auto-detect is on", () => posmodel.offlineSync.state.autoDetect === true),
            check("auto-sync is on", () => posmodel.offlineSync.state.autoSync?.enabled === true),
            Chrome.startPoS(),
            ...cardFormForAPen(false, "2"),
            writeSettings({
                allow_offline_mode: false,
                allow_offline_auto_detect: false,
                offline_auto_sync: false,
            }),
            refresh(),
            ...noIcons(),
            check("offline mode is off", () => !posmodel.offlineSync.state.enabled),
            Chrome.endTour(),
        ].flat(),
});
