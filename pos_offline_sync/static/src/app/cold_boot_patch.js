/** @odoo-module */
// Cold boot offline (issue 11). Odoo 19's service worker serves the POS page and its assets
// with no server, but its data service still needs one: offline, `missingRecursive` answers
// nothing and `getLocalDataFromIndexedDB` then hands `undefined` to `Models._loadData`
// ("valsArray is not iterable", the "Oops" screen); a page opened from the dashboard
// (`from_backend`) calls `load_data` and alerts. For a register whose cached config has offline
// mode on, and only then, the POS starts from the data the browser holds: the orders waiting
// in the addon's store are listed and new sales captured as on any offline register. Back
// online, the cashier is offered Odoo's own reload, which refreshes the data.
import { patch } from "@web/core/utils/patch";
import { ConnectionLostError, rpc } from "@web/core/network/rpc";
import { _t } from "@web/core/l10n/translation";
import { PosData } from "@point_of_sale/app/services/data_service";
import { PosStore } from "@point_of_sale/app/services/pos_store";
import { IndexedDB } from "@web/core/utils/indexed_db";
import { jsToPyLocale } from "@web/core/l10n/utils";
import { user } from "@web/core/user";
import { session } from "@web/session";

/* global odoo */

// A ping slower than this at start counts as no server: the register must not wait for the
// very thing offline mode is for.
const PING_TIMEOUT_MS = 5000;

async function serverAnswers() {
    let timer;
    try {
        await Promise.race([
            rpc("/pos/ping", {}, { silent: true }),
            new Promise((_, reject) => {
                const lost = () => reject(new ConnectionLostError("/pos/ping"));
                timer = setTimeout(lost, PING_TIMEOUT_MS);
            }),
        ]);
        return true;
    } catch (error) {
        // Anything but a lost connection (an expired session...) is Odoo's to show.
        return !(error instanceof ConnectionLostError);
    } finally {
        clearTimeout(timer);
    }
}

patch(PosData.prototype, {
    async loadInitialData() {
        const cached = await this.indexedDB.readAll(["pos.config", "pos.session"]);
        const config = cached?.["pos.config"]?.[0];
        const session = cached?.["pos.session"]?.[0];
        // Known from what the browser holds: the last config this register loaded online.
        this.offlineColdBootAllowed = Boolean(config?.allow_offline_mode);
        const sameSession =
            session?.state === "opened" && session.id === parseInt(odoo.pos_session_id);
        if (!this.offlineColdBootAllowed || !sameSession) {
            return await super.loadInitialData(...arguments);
        }
        if (!this.network.offline && (await serverAnswers())) {
            return await super.loadInitialData(...arguments);
        }
        this.offlineColdBoot = true;
        if (!this.network.offline) {
            // The browser has a network, the server does not answer: Odoo's own retry loop
            // (checkConnectivity pings every 2 s while the browser says it is online).
            this.network.offline = true;
            this.checkConnectivityTimeout = setTimeout(() => this.checkConnectivity(), 2000);
        }
        return await this.getCachedServerDataFromIndexedDB();
    },

    async missingRecursive(recordMap, idsMap = {}, acc = {}) {
        if (!(this.network.offline && this.offlineColdBootAllowed)) {
            return await super.missingRecursive(...arguments);
        }
        // Nobody to fetch the missing relations from: the browser's records, as they are
        // (Odoo answers `{}` here, which drops the waiting orders and breaks the loading).
        for (const [model, records] of Object.entries(recordMap)) {
            acc[model] = (acc[model] || []).concat(records);
        }
        return acc;
    },
});

// Requests of the POS page that Odoo's service worker must not cache (it skips some itself).
const NOT_CACHED = ["/web/dataset", "/pos/ping", "/websocket", "/longpolling", "/json/", "/bus/"];
// Resources only (scripts, styles, fonts, images): what a page fetches itself is mostly RPC,
// often POST, which a GET to cache would only turn into an error.
const NOT_RESOURCES = new Set(["fetch", "xmlhttprequest", "beacon"]);

/**
 * The URL the next start will ask its translations from: Odoo's localization service sends the
 * hash it holds, which is only known after this load, so no earlier request matches it.
 */
async function nextTranslationsUrl() {
    const url = session.translationURL || "/web/webclient/translations";
    const lang = jsToPyLocale(user.lang || document.documentElement.getAttribute("lang"));
    const stored = await new IndexedDB("localization", session.registry_hash).read(
        url,
        JSON.stringify({ lang })
    );
    if (!stored?.hash) {
        return null;
    }
    // As objectToUrlEncodedString builds it.
    return `${url}?hash=${encodeURIComponent(stored.hash)}&lang=${encodeURIComponent(lang)}`;
}

async function posWorkerRegistration() {
    // Odoo registers it once the POS is mounted: a little after this load asks.
    let registration;
    for (let tries = 0; !registration && tries < 60; tries++) {
        const all = await navigator.serviceWorker.getRegistrations();
        registration = all.find((r) => new URL(r.scope).pathname === "/pos/");
        if (!registration) {
            await new Promise((resolve) => setTimeout(resolve, 1000));
        }
    }
    const worker = registration?.installing || registration?.waiting;
    if (worker && !registration.active) {
        await new Promise((resolve) => {
            worker.addEventListener("statechange", () => worker.state === "activated" && resolve());
        });
    }
    return registration;
}

/**
 * Odoo's service worker caches what a page it controls fetches, and the bundle and page URLs it
 * is given; the first load of a register is not controlled yet, so its translations, images and
 * fonts would be missing from a cold start. Given to it the way Odoo gives its own list.
 */
function cacheForColdBoot() {
    const worker = navigator.serviceWorker;
    if (!worker) {
        return;
    }
    const pending = new Set();
    let timer;
    const send = async () => {
        timer = null;
        const urlsToCache = [...pending];
        pending.clear();
        // The POS's own worker (scope /pos/), not the web client's (scope /) that
        // `navigator.serviceWorker.ready` may answer with while the POS's still installs.
        const registration = await posWorkerRegistration();
        registration?.active?.postMessage({ urlsToCache });
    };
    const add = (url) => {
        pending.add(url);
        timer = timer || setTimeout(send, 1000);
    };
    nextTranslationsUrl()
        .then((url) => url && add(url))
        .catch((error) => console.warn("pos_offline_sync: translations not cached", error));
    if (worker.controller) {
        return; // a controlled page: the worker sees and caches its requests itself
    }
    const take = (entries) => {
        for (const entry of entries) {
            const url = new URL(entry.name, window.location.href);
            if (
                url.origin === window.location.origin &&
                !NOT_RESOURCES.has(entry.initiatorType) &&
                !NOT_CACHED.some((part) => url.pathname.includes(part))
            ) {
                add(url.pathname + url.search);
            }
        }
    };
    const observer = new PerformanceObserver((list) => take(list.getEntries()));
    observer.observe({ type: "resource", buffered: true });
}

patch(PosStore.prototype, {
    async afterProcessServerData() {
        if (this.config.allow_offline_mode && !this.data.offlineColdBoot) {
            cacheForColdBoot();
        }
        if (this.data.offlineColdBoot) {
            const onOnline = () => {
                window.removeEventListener("pos-network-online", onOnline);
                this.offerColdBootReload();
            };
            window.addEventListener("pos-network-online", onOnline);
        }
        return await super.afterProcessServerData(...arguments);
    },

    async allowProductCreation() {
        if (this.data.offlineColdBoot && this.data.network.offline) {
            // Odoo asks the server from the navbar's onMounted, unhandled: no product is
            // created without a connection anyway.
            return false;
        }
        return await super.allowProductCreation(...arguments);
    },

    offerColdBootReload() {
        // Odoo's own loading with the server (as opened from the dashboard) refreshes
        // products, prices and settings; waiting orders stay in the browser across it.
        this.notification.add(
            _t("Back online. Reload the register to get the latest products and prices."),
            {
                type: "info",
                sticky: true,
                buttons: [
                    {
                        name: _t("Reload"),
                        primary: true,
                        onClick: () => {
                            const url = new URL(window.location.href);
                            url.searchParams.set("from_backend", "True");
                            window.location.href = url.toString();
                        },
                    },
                ],
            }
        );
    },
});
