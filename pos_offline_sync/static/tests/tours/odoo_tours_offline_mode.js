/** @odoo-module */
// Odoo's own POS tours run with offline mode on (test_odoo_pos_tours_offline_mode.py): the tour
// named by the cookie that test sets gets one first step asserting the addon's icons and
// settings, so its pass proves it ran with offline mode on. Odoo's steps are left as they are,
// and without the cookie (any other test) nothing changes.
/* global posmodel */
import { registry } from "@web/core/registry";
import { cookie } from "@web/core/browser/cookie";

export const TOUR_COOKIE = "pos_offline_sync_odoo_tour";

// Odoo's 10 s wait per step, raised for these tours: on a machine shared by many test runs one
// synced order with its invoice was seen to take 29 s (2 s when idle). Same states waited for.
const STEP_TIMEOUT_MS = 60000;

const tours = registry.category("web_tour.tours");
const checked = new WeakSet();

const offlineModeStep = {
    content: "pos_offline_sync: offline mode and auto-detect on, its icons in the navbar, online",
    // "body ...": also under a dialog (Odoo's opening or closing one), where nothing is clicked.
    trigger: "body .pos-offline-sync-icons [data-test='offline-status'][data-offline='false']",
    run() {
        const config = posmodel.config;
        if (!config.allow_offline_mode || !config.allow_offline_auto_detect) {
            throw new Error("offline mode or auto-detect is off on this register");
        }
        if (!posmodel.offlineSync?.state.enabled) {
            throw new Error("the offline controller is not enabled");
        }
        if (!document.querySelector(".pos-offline-sync-icons [data-test='sync-button']")) {
            throw new Error("no Sync to Server icon");
        }
    },
};

function addCheck(name) {
    const tour = tours.get(name, null);
    if (tour && !checked.has(tour)) {
        const steps = tour.steps;
        tour.steps = () => [offlineModeStep, ...steps()];
        tour.timeout ??= STEP_TIMEOUT_MS;
        checked.add(tour);
    }
}

/** The Python side's ready check: the tour it starts begins with the offline mode step. */
export function offlineCheckAdded(name) {
    return cookie.get(TOUR_COOKIE) === name && checked.has(tours.get(name, null));
}

const wanted = cookie.get(TOUR_COOKIE);
if (wanted) {
    // On every page load of that browser (Odoo's tours reload the page and resume).
    addCheck(wanted);
    tours.addEventListener("UPDATE", ({ detail }) => {
        if (detail.key === wanted) {
            addCheck(wanted);
        }
    });
}
