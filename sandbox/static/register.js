// The sandbox register: a small POS page hosting the addon's unchanged browser core and OWL
// components, so that the offline mode can be demonstrated and tested in a real browser without
// Odoo. Everything offline-related goes through the core's OfflineController, as in Odoo.
import { App, Component, markRaw, onWillDestroy, useState } from "@odoo/owl";
import { OfflineStatusButton } from "/core/components/offline_status_button.js";
import { ReadinessButton } from "/core/components/readiness_button.js";
import { SyncButton } from "/core/components/sync_button.js";
import { SyncDialog } from "/core/components/sync_dialog.js";
import { OfflineController } from "/core/offline_controller.js";
import { CardForm } from "/core/components/card_form.js";
import { persistenceText } from "/core/sync_messages.js";
import { limitsFromConfig } from "/core/risk_limits.js";
import { setupCards } from "/sandbox-static/cards_register.js";
import { setupColdBoot } from "/sandbox-static/cold_boot.js";

const TEMPLATE_FILES = [
    "/core/components/offline_status_button.xml",
    "/core/components/readiness_button.xml",
    "/core/components/sync_button.xml",
    "/core/components/process_card_cell.xml",
    "/core/components/sync_dialog.xml",
    "/core/components/card_form.xml",
    "/core/components/device_name.xml",
    "/sandbox-static/register.xml",
];

// ----- transport (CONTRACTS §2, sandbox host) -------------------------------------------------

/** Rejects on network error or any non-2xx answer: the caller then knows nothing was stored. */
async function rpc(method, payload) {
    const response = await fetch(`/rpc/${method}`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(payload),
    });
    let body = null;
    try {
        body = await response.json();
    } catch {
        body = null;
    }
    if (!response.ok) {
        const message = body && body.error && body.error.message;
        throw new Error(message || `The server answered HTTP ${response.status}`);
    }
    return body.result;
}

const transport = { call: rpc };

async function ping() {
    const response = await fetch("/ping", { cache: "no-store" });
    if (!response.ok) {
        throw new Error(`ping: HTTP ${response.status}`);
    }
    return true;
}

// ----- helpers ------------------------------------------------------------------------------

function round2(value) {
    return Math.round((value + Number.EPSILON) * 100) / 100;
}

function currencyCode(config) {
    const c = config && config.currency;
    return typeof c === "string" ? c : (c && (c.name || c.code)) || "USD";
}

function formatMoney(amount, code) {
    try {
        return new Intl.NumberFormat(undefined, { style: "currency", currency: code }).format(
            amount,
        );
    } catch {
        return amount.toFixed(2);
    }
}

/** Next order number of this register; kept in localStorage so references never repeat. */
function nextSequence(dbName, configId) {
    const key = `pos_offline_sync.sandbox.seq.${dbName}.${configId}`;
    const n = (parseInt(localStorage.getItem(key) || "0", 10) || 0) + 1;
    localStorage.setItem(key, String(n));
    return n;
}

// ----- the register ---------------------------------------------------------------------------

/** Whether the browser promised to keep the offline orders, in a cashier's words. */
class StorageBadge extends Component {
    static template = "sandbox.StorageBadge";
    static props = { state: Object };

    setup() {
        this.state = useState(this.props.state);
    }

    get label() {
        return this.state.persistence || "checking";
    }

    get text() {
        return persistenceText(this.state.persistence);
    }
}

/**
 * Test hook: the auto-sync's timings from the page's query string (`?auto_sync_settle_ms=200&
 * auto_sync_base_ms=1000&auto_sync_factor=3`), so an end-to-end test need not wait 5 s.
 */
function autoSyncTiming() {
    const params = new URLSearchParams(globalThis.location.search);
    const timing = {};
    for (const [param, key] of [
        ["auto_sync_settle_ms", "settleMs"],
        ["auto_sync_base_ms", "baseMs"],
        ["auto_sync_factor", "factor"],
    ]) {
        const value = Number(params.get(param));
        if (params.has(param) && Number.isFinite(value) && value > 0) {
            timing[key] = value;
        }
    }
    return timing;
}

/** The register's data (config, products, methods, cashiers), read afresh from the server. */
async function fetchPosData() {
    const response = await fetch("/api/pos_data", { cache: "no-store" });
    if (!response.ok) {
        throw new Error(`/api/pos_data: HTTP ${response.status}`);
    }
    return response.json();
}

class SandboxPos extends Component {
    static template = "sandbox.Pos";
    static components = {
        CardForm,
        OfflineStatusButton,
        ReadinessButton,
        StorageBadge,
        SyncButton,
        SyncDialog,
    };
    static props = { data: Object };

    setup() {
        this.applyData(this.props.data);
        this.state = useState({
            screen: "login",
            cashier: null,
            lines: [],
            customer: "",
            isReturn: false,
            paymentMethodId: null,
            orderUuid: null,
            busy: false,
            error: "",
            receipt: null,
            dialogOpen: false,
            controller: null,
            offline: null,
            starting: false,
            cardForm: null, // {amount} while the offline card form is open (cards issue)
        });
        const cash =
            this.data.payment_methods.find((m) => m.is_cash) || this.data.payment_methods[0];
        this.state.paymentMethodId = cash ? cash.id : null;
        onWillDestroy(() => this.stopController());
    }

    /** Settings, products and methods the register works with (from /api/pos_data). */
    applyData(data) {
        this.data = data;
        this.config = data.config;
        this.currency = currencyCode(this.config);
        this.offlineEnabled = Boolean(this.config.allow_offline_mode);
    }

    // ----- session ----------------------------------------------------------------------------

    async login(cashier) {
        this.state.error = "";
        this.state.starting = true;
        try {
            // Settings changed since the page loaded apply at the next login, as after a
            // reload; offline (no answer), the register goes on with what it has.
            try {
                const fresh = await fetchPosData();
                const known = fresh.cashiers.find((c) => c.id === cashier.id);
                this.applyData(fresh);
                setupColdBoot(this.config);
                cashier = known || cashier;
                const methods = this.data.payment_methods;
                if (!methods.some((m) => m.id === this.state.paymentMethodId)) {
                    const cash = methods.find((m) => m.is_cash) || methods[0];
                    this.state.paymentMethodId = cash ? cash.id : null;
                }
            } catch {
                // Server unreachable: keep the data of the last load.
            }
            // A fresh controller per login: the queue is read back from IndexedDB, so what the
            // cashier sees after logging in is what the browser really kept. With offline mode
            // off it only opens a store left from when the mode was on (to sync those orders).
            const controller = await OfflineController.create({
                dbName: this.data.db_name,
                configId: this.config.id,
                settings: {
                    allowOfflineMode: this.offlineEnabled,
                    autoDetect: Boolean(this.config.allow_offline_auto_detect),
                    autoSync: Boolean(this.config.offline_auto_sync),
                },
                autoSyncTiming: autoSyncTiming(),
                transport,
                ping,
                // Device reports: who is at the register, and the card age limit.
                device: {
                    getCashier: () => this.state.cashier,
                    limits: limitsFromConfig(this.config),
                },
            });
            this.state.controller = markRaw(controller);
            this.cards = markRaw(setupCards({ data: this.data, transport, controller }));
            // Read through this component's state so that it re-renders when the keys it reads change.
            this.state.offline = controller.state;
            this.state.cashier = cashier;
            this.newOrder();
            this.state.screen = "register";
        } catch (error) {
            this.state.error = `The register could not start: ${error.message}`;
        } finally {
            this.state.starting = false;
        }
    }

    logout() {
        this.state.dialogOpen = false;
        this.stopController();
        this.state.cashier = null;
        this.state.receipt = null;
        this.state.screen = "login";
    }

    stopController() {
        const controller = this.state.controller;
        this.state.controller = null;
        this.state.offline = null;
        if (controller) {
            controller.destroy();
        }
    }

    get controller() {
        return this.state.controller;
    }

    /** The icons: offline mode on, or offline orders left from when it was. */
    get showIcons() {
        const offline = this.state.offline;
        return Boolean(offline && (offline.enabled || offline.pendingCount));
    }

    toggleOffline() {
        this.controller.toggleManualOffline();
    }

    openSyncDialog() {
        this.state.dialogOpen = true;
    }

    closeSyncDialog() {
        // The dialog gives the focus back to the icon that opened it (dialog_focus.js).
        this.state.dialogOpen = false;
    }

    cancelCardForm() {
        this.state.cardForm = null;
    }

    // ----- cart -------------------------------------------------------------------------------

    newOrder() {
        this.state.lines = [];
        this.state.customer = "";
        this.state.isReturn = false;
        this.state.error = "";
        this.state.receipt = null;
        // The order's identity exists from its creation on (CONTRACTS §1).
        this.state.orderUuid = crypto.randomUUID();
        this.state.screen = this.state.cashier ? "register" : "login";
    }

    addProduct(product) {
        const line = this.state.lines.find((l) => l.product.id === product.id);
        if (line) {
            line.qty += 1;
        } else {
            this.state.lines.push({ product, qty: 1 });
        }
    }

    changeQty(line, delta) {
        line.qty += delta;
        if (line.qty <= 0) {
            this.state.lines.splice(this.state.lines.indexOf(line), 1);
        }
    }

    toggleReturn() {
        this.state.isReturn = !this.state.isReturn;
    }

    lineQty(line) {
        return this.state.isReturn ? -line.qty : line.qty;
    }

    lineTotal(line) {
        return round2(this.lineQty(line) * line.product.price);
    }

    get total() {
        return round2(this.state.lines.reduce((sum, l) => sum + this.lineTotal(l), 0));
    }

    money(amount) {
        return formatMoney(amount, this.currency);
    }

    get paymentMethods() {
        // Offline-card methods appear only while the register captures offline (cards issue).
        void this.state.offline?.online;
        return this.cards
            ? this.cards.paymentMethods(this.data.payment_methods)
            : this.data.payment_methods.filter((m) => m.is_cash);
    }

    selectPayment(method) {
        this.state.paymentMethodId = method.id;
    }

    // ----- validate ---------------------------------------------------------------------------

    buildOrder() {
        const method = this.data.payment_methods.find((m) => m.id === this.state.paymentMethodId);
        const total = this.total;
        const name = this.state.customer.trim();
        const lines = this.state.lines.map((l) => ({
            product_id: l.product.id,
            product_name: l.product.name,
            qty: this.lineQty(l),
            price_unit: l.product.price,
            discount: 0,
            price_subtotal_incl: this.lineTotal(l),
        }));
        const seq = nextSequence(this.data.db_name, this.config.id);
        return {
            v: 1,
            uuid: this.state.orderUuid,
            reference: `Order ${String(this.config.id).padStart(5, "0")}-${String(seq).padStart(4, "0")}`,
            created_at: new Date().toISOString(),
            config_id: this.config.id,
            session_id: this.data.session_id ?? this.config.session_id ?? null,
            cashier: { id: this.state.cashier.id, name: this.state.cashier.name },
            customer: name ? { id: null, name } : null,
            currency: this.currency,
            lines,
            payments: [
                {
                    uuid: crypto.randomUUID(),
                    payment_method_id: method.id,
                    payment_method_name: method.name,
                    amount: total,
                    card: null,
                },
            ],
            amount_total: total,
            amount_tax: 0,
            amount_paid: total,
            amount_return: 0,
            is_return: total < 0,
        };
    }

    get canValidate() {
        return !this.state.busy && this.state.lines.length > 0 && this.state.paymentMethodId;
    }

    async validate() {
        if (!this.canValidate) {
            return;
        }
        const method = this.data.payment_methods.find((m) => m.id === this.state.paymentMethodId);
        if (this.cards?.isCardMethod(method)) {
            if (!this.controller.shouldCaptureOffline()) {
                this.state.error =
                    "This card method takes cards only while the register is offline.";
                return;
            }
            // The card form encrypts the card; the order is captured on its confirm.
            this.state.cardForm = { amount: this.total };
            return;
        }
        this.state.busy = true;
        this.state.error = "";
        const order = this.buildOrder();
        try {
            const controller = this.controller;
            if (controller.shouldCaptureOffline()) {
                // The receipt only once the order is committed to IndexedDB.
                await controller.captureOrder(order);
                this.showReceipt(order, "offline");
                return;
            }
            let result;
            try {
                const answer = await transport.call("offline_sync_orders", {
                    v: 1,
                    config_id: this.config.id,
                    orders: [order],
                });
                result = answer && answer.results && answer.results[0];
            } catch (error) {
                if (controller && controller.state.enabled) {
                    // No answer while offline mode is allowed: keep the order offline, never lose it.
                    await controller.captureOrder(order);
                    this.showReceipt(order, "offline");
                    return;
                }
                this.state.error = `The server could not be reached; the order is still here, try again. (${error.message})`;
                return;
            }
            if (result && result.ok) {
                this.showReceipt(order, "synced");
            } else {
                this.state.error = `The server refused the order: ${(result && result.reason) || "no reason given"}`;
            }
        } catch (error) {
            this.state.error = `The order could not be saved: ${error.message}`;
        } finally {
            this.state.busy = false;
        }
    }

    /** The card form's confirm: the order carries the encrypted card and is kept offline. */
    async captureCardOrder(card) {
        const order = this.buildOrder();
        order.payments[0].card = card;
        await this.controller.captureOrder(order);
        this.state.cardForm = null;
        this.showReceipt(order, "offline");
    }

    showReceipt(order, status) {
        this.state.receipt = { order, status };
        this.state.screen = "receipt";
        // The Validate button that had the focus is gone: the next step is New Order.
        requestAnimationFrame(() => document.querySelector("[data-test=new-order]")?.focus());
    }
}

// ----- boot -----------------------------------------------------------------------------------

async function loadTemplates() {
    const parts = await Promise.all(
        TEMPLATE_FILES.map(async (url) => {
            const response = await fetch(url);
            if (!response.ok) {
                throw new Error(`${url}: HTTP ${response.status}`);
            }
            return response.text();
        }),
    );
    // One <templates> document: strip each file's XML declaration and root element.
    const inner = parts.map((xml) =>
        xml.replace(/<\?xml[^>]*\?>/, "").replace(/<\/?templates[^>]*>/g, ""),
    );
    return `<templates>${inner.join("\n")}</templates>`;
}

async function boot() {
    const target = document.getElementById("app");
    try {
        const [templates, data] = await Promise.all([
            loadTemplates(),
            fetch("/api/pos_data", { cache: "no-store" }).then((r) => {
                if (!r.ok) {
                    throw new Error(`/api/pos_data: HTTP ${r.status}`);
                }
                return r.json();
            }),
        ]);
        const app = new App(SandboxPos, { templates, props: { data }, env: {} });
        await app.mount(target);
        window.__posSandbox = { app, data };
        setupColdBoot(data.config);
    } catch (error) {
        target.textContent = `The register could not load: ${error.message}`;
        target.setAttribute("data-test", "boot-error");
    }
}

boot();
