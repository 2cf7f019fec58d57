/** @odoo-module */
// PosStore glue: creates the offline controller when the register allows offline mode, and
// while the controller says "capture offline", finalized orders go to the offline store
// instead of the server. Everything else (and everything when offline mode is off) stays on
// Odoo's own path.
import { markRaw } from "@odoo/owl";
import { patch } from "@web/core/utils/patch";
import { rpc } from "@web/core/network/rpc";
import { _t } from "@web/core/l10n/translation";
import { PosStore } from "@point_of_sale/app/services/pos_store";
import { OfflineController } from "@pos_offline_sync/core/offline_controller";
import { CardVault } from "@pos_offline_sync/core/card_vault";
import { cardProcessorOf } from "@pos_offline_sync/core/card_processing";
import { limitsFromConfig, watchCardAge } from "@pos_offline_sync/core/risk_limits";
import { afterPaint } from "@pos_offline_sync/core/components/frame_throttle";
import { toOfflineOrder } from "./offline_order_serializer";

/* global odoo */

// The pos.config fields offline_register_settings answers with (besides the card key).
const SETTING_FIELDS = [
    "allow_offline_mode",
    "allow_offline_auto_detect",
    "offline_auto_sync",
    "offline_card_max_amount",
    "offline_card_max_total",
    "offline_card_max_age_hours",
];
// An answer later than this leaves the cached settings: a slow server must not hold the
// register's opening (it would be waiting for the very thing offline mode is for).
const SETTINGS_TIMEOUT_MS = 4000;

// A hidden page draws no frames: the capture does not wait for one longer than this (a
// visible one draws every 16 ms; a loaded machine can take a few frames' time).
const PAINT_WAIT_MS = 250;

function offlineSettings(config, publicKey) {
    return {
        allowOfflineMode: Boolean(config.allow_offline_mode),
        autoDetect: Boolean(config.allow_offline_auto_detect),
        autoSync: Boolean(config.offline_auto_sync),
        cardMaxAmount: config.offline_card_max_amount || 0,
        cardMaxTotal: config.offline_card_max_total || 0,
        cardMaxAgeHours: config.offline_card_max_age_hours || 0,
        publicKey: publicKey || null,
    };
}

patch(PosStore.prototype, {
    async afterProcessServerData() {
        await this.refreshOfflineSettings();
        // Also with offline mode off: orders captured while it was on must stay listed and
        // syncable (the controller then only opens an existing store).
        await this.setupOfflineSync();
        // Before Odoo picks the open order the cashier continues with.
        await this.dropFinishedOpenOrders();
        return await super.afterProcessServerData(...arguments);
    },

    /**
     * Odoo writes its orders to IndexedDB 300 ms after a change: a page reloaded sooner
     * restores an order already paid and synced as an open, empty draft, and Odoo makes it the
     * current order. The next sale rung into it has that order's uuid, and Odoo's sync then
     * answered "sync ignored": the sale, paid, never reached the back office (1 sale in 70 in
     * bench/odoo_browser_bench.py). Empty open orders the server holds as finished are dropped
     * here; the server stores any sale that slips through as the new sale it is
     * (core/order_identity.py).
     */
    async dropFinishedOpenOrders() {
        if (!this.config.allow_offline_mode || this.data.network.offline) {
            return;
        }
        // Empty ones only: lines may be a sale rung in before a reload, which the server then
        // stores as the new sale it is (core/order_identity.py), never drops.
        const open = this.models["pos.order"].filter(
            (o) => !o.finalized && o.uuid && !o.lines.length && !o.payment_ids.length
        );
        if (!open.length) {
            return;
        }
        let finished;
        let timer;
        try {
            finished = await Promise.race([
                this.data.orm.searchRead(
                    "pos.order",
                    [
                        ["uuid", "in", open.map((o) => o.uuid)],
                        ["state", "not in", ["draft", "cancel"]],
                    ],
                    ["uuid"]
                ),
                new Promise((_, reject) => {
                    timer = setTimeout(() => reject(new Error("no answer in time")), SETTINGS_TIMEOUT_MS);
                }),
            ]);
        } catch (error) {
            console.warn("pos_offline_sync: open orders not checked against the server", error);
            return;
        } finally {
            clearTimeout(timer);
        }
        const done = new Set(finished.map((r) => r.uuid));
        for (const order of open.filter((o) => done.has(o.uuid))) {
            this.removePendingOrder(order);
            this.data.localDeleteCascade(order);
        }
    },

    /**
     * Odoo reloads its POS data only when the register is opened from the back office: a
     * refresh or a new login reuses the browser's copy, whose offline settings may be old. The
     * few the offline mode reads are asked fresh and written into that copy (so a later load
     * without a connection has them too); without an answer the copy is used as it is.
     */
    async refreshOfflineSettings() {
        if (odoo.from_backend || this.data.network.offline) {
            return; // just loaded from the server, or nobody to ask
        }
        let fresh;
        let timer;
        try {
            fresh = await Promise.race([
                this.data.call("pos.order", "offline_register_settings", [
                    { v: 1, config_id: this.config.id },
                ]),
                new Promise((_, reject) => {
                    timer = setTimeout(
                        () => reject(new Error("no answer in time")),
                        SETTINGS_TIMEOUT_MS
                    );
                }),
            ]);
        } catch (error) {
            console.warn("pos_offline_sync: offline settings not refreshed, cached ones used", error);
            return;
        } finally {
            clearTimeout(timer);
        }
        if (!fresh || fresh.v !== 1) {
            return;
        }
        const config = this.config;
        config.update(
            Object.fromEntries(SETTING_FIELDS.filter((f) => f in fresh).map((f) => [f, fresh[f]])),
            { omitUnknownField: true }
        );
        // A read-only view of Odoo's raw data on the record: kept beside it instead.
        this.offlineCardPublicKey = fresh.card_public_key || false;
        const methods = [];
        for (const method of config.payment_method_ids) {
            const capture = fresh.offline_card_capture?.[String(method.id)];
            if (capture !== undefined && capture !== method.offline_card_capture) {
                method.update({ offline_card_capture: capture }, { omitUnknownField: true });
                methods.push({ ...method.raw });
            }
        }
        this.data.synchronizeServerDataInIndexedDB({
            "pos.config": [{ ...config.raw, _offline_card_public_key: this.offlineCardPublicKey }],
            ...(methods.length ? { "pos.payment.method": methods } : {}),
        });
    },

    /** Odoo's identifier of this device (0, as Odoo's default, when it has none). */
    offlineDeviceIdentifier() {
        try {
            return this.device.identifier ?? 0;
        } catch {
            return 0; // its localStorage entry is gone: the sync must not fail for it
        }
    },

    /** The card key as last answered by the server, else as loaded with the POS data. */
    offlineCardKey() {
        return this.offlineCardPublicKey ?? this.config._offline_card_public_key;
    },

    async setupOfflineSync() {
        try {
            // markRaw: the controller holds IndexedDB handles; its `state` is reactive itself.
            this.offlineSync = markRaw(await OfflineController.create({
                dbName: odoo.info?.db || this.data.databaseName,
                configId: this.config.id,
                settings: offlineSettings(this.config, this.offlineCardKey()),
                transport: {
                    // The device, as Odoo's own sync names it: the server's "orders changed"
                    // notice then leaves this register alone (it would read its open orders
                    // again for its own sync).
                    call: (method, payload) =>
                        this.data.call("pos.order", method, [payload], {
                            context: { device_identifier: this.offlineDeviceIdentifier() },
                        }),
                },
                ping: () => rpc("/pos/ping"),
                target: window,
                // The core's own messages (results, refusals, card form) in the user's language.
                translate: _t,
                // Device reports (issue 11): who is at the register, the card age limit.
                device: {
                    getCashier: () => {
                        const cashier = this.getCashier();
                        return cashier ? { id: cashier.id, name: cashier.name } : null;
                    },
                    limits: limitsFromConfig(this.config),
                },
            }));
        } catch (error) {
            // Without its store the register still sells through Odoo's own path.
            this.offlineSync = null;
            this.notification.add(
                _t("Offline mode is unavailable: %s", String(error.message || error)),
                { type: "danger" }
            );
            return;
        }
        // Orders captured offline live in our store only: drop Odoo's local copies so that its
        // own pending-order sync never pushes them behind the cashier's back.
        // Keys only: cheap even with thousands of waiting orders. Those synced since (through
        // the dialog) are the server's now: Odoo would push their copies again at load.
        const captured = new Set(await this.offlineSync.listPendingUuids());
        const ours = (o) => captured.has(o.uuid) || o.uiState?.offlineCaptured;
        const dropped = new Set(captured);
        for (const order of this.models["pos.order"].filter(ours)) {
            if (!order.isSynced) {
                dropped.add(order.uuid);
                this.removePendingOrder(order);
                this.data.localDeleteCascade(order);
            }
        }
        this.offlineCapturedUuids = captured;
        await this.setupOfflineCards();
        if (dropped.has(this.router.state.params?.orderUuid)) {
            // The reload happened on the receipt of an order that now lives in our store (or
            // the server's) only.
            const next = this.defaultPage;
            this.router.navigate(next.page, next.params);
        }
    },

    async setupOfflineCards() {
        // The Process column of the sync dialog and the sync's "process first" hook.
        cardProcessorOf(this.offlineSync);
        if (!this.config.payment_method_ids.some((m) => m.offline_card_capture)) {
            return;
        }
        const vault = new CardVault({
            transport: this.offlineSync.transport,
            configId: this.config.id,
            dbName: odoo.info?.db || "",
        });
        // The key comes with the POS data and is cached for a register opened offline.
        await vault.remember(this.offlineCardKey()).catch(() => vault.cachedKey());
        const limits = limitsFromConfig(this.config);
        this.offlineCards = markRaw({ vault, limits });
        // The Sync icon's and the readiness panel's count down towards the card age limit,
        // refreshed with the waiting orders (as the sandbox register does).
        const controller = this.offlineSync;
        const ageWatch = watchCardAge({ controller, limits });
        const refresh = controller.refresh.bind(controller);
        controller.refresh = async () => {
            await refresh();
            await ageWatch.update();
        };
        const destroy = controller.destroy.bind(controller);
        controller.destroy = () => {
            ageWatch.stop();
            destroy();
        };
    },

    // The receipt's Edit Payment opens the order's back-office form: none while the register
    // captures offline, and none in this register for an order captured offline (its sync is
    // the addon's, not Odoo's own).
    canEditPayment(order) {
        return (
            !this.shouldCaptureOffline() &&
            !this.offlineCapturedUuids?.has(order.uuid) &&
            super.canEditPayment(...arguments)
        );
    },

    // A method, not a getter: PosStore caches its getters (WithLazyGetterTrap).
    shouldCaptureOffline() {
        return Boolean(this.offlineSync && this.offlineSync.shouldCaptureOffline());
    },

    /** Kept or being written by the offline store: Odoo's own sync must never send it. */
    isOfflineOrder(order) {
        return Boolean(
            this.offlineCapturing?.has(order.uuid) || this.offlineCapturedUuids?.has(order.uuid)
        );
    },

    /**
     * Odoo's own sync of `options`, less the offline store's orders: one being captured is
     * still pending in Odoo until its write commits (another device closing the session puts
     * every paid order back in pending too).
     */
    async syncAllOrdersOwnPath(options = {}) {
        const { orderToCreate, orderToUpdate } = this.getPendingOrder();
        const orders = options.orders || [...orderToCreate, ...orderToUpdate];
        if (!orders.some((order) => this.isOfflineOrder(order))) {
            return await super.syncAllOrders(options);
        }
        const own = orders.filter((order) => !this.isOfflineOrder(order));
        return await super.syncAllOrders({ ...options, orders: own });
    },

    async syncAllOrders(options = {}) {
        if (!this.shouldCaptureOffline()) {
            return await this.syncAllOrdersOwnPath(options);
        }
        const { orderToCreate, orderToUpdate } = this.getPendingOrder();
        const orders = (options.orders || [...orderToCreate, ...orderToUpdate]).filter(
            (order) => order.finalized && !order.isSynced && order.state !== "cancel"
        );
        this.offlineCapturing ??= new Set();
        for (const order of orders) {
            // Checked at each order, after the awaits of the ones before: another call may
            // have captured it meanwhile. Captured once, it is never captured again (its
            // commands were consumed: a second copy would lack them).
            if (this.isOfflineOrder(order)) {
                continue;
            }
            this.offlineCapturing.add(order.uuid);
            try {
                if (this.offlineValidations?.has(order.uuid)) {
                    // A Validate's capture starts once the receipt it navigated to is drawn:
                    // run before that frame, its serialization and the write's start stood
                    // between Validate and the receipt. The receipt takes no input until
                    // the commit (payment_validation_patch.js), so nothing waits on it but
                    // the commit itself, a frame later.
                    await afterPaint({ maxMs: PAINT_WAIT_MS });
                }
                await this.preSyncAllOrders([order]);
                await this.offlineSync.captureOrder(toOfflineOrder(order, this));
            } catch (error) {
                // Could not keep it offline: Odoo's own path keeps it pending, nothing is lost.
                console.warn("pos_offline_sync: order not captured offline", error);
                this.notification.add(
                    _t("Order kept for Odoo's own sync: %s", String(error.message || error)),
                    { type: "warning" }
                );
                // Not captured: Odoo's again (the orders still being captured are left out).
                this.offlineCapturing.delete(order.uuid);
                return await this.syncAllOrdersOwnPath(options);
            } finally {
                this.offlineCapturing.delete(order.uuid);
            }
            // Stored: from here on it is the offline store's alone. Nothing below may send it
            // down Odoo's own path as well.
            this.removePendingOrder(order);
            this.offlineCapturedUuids.add(order.uuid);
            // As Odoo's own sync leaves a sent order: clean, its line deletions consumed (the
            // stored copy carries them).
            order.serializeForORM();
            // Kept with Odoo's copy in its IndexedDB: that copy is dropped at the next load.
            order.uiState = { ...order.uiState, offlineCaptured: true };
            this.data.debouncedSynchronizeLocalDataInIndexedDB?.();
            // As Odoo's own sync does: a refund done frees its lines' refund details, or the
            // rest of the refunded line stays bound to this order in the Orders screen.
            for (const line of order.lines) {
                const refunded = line.refunded_orderline_id;
                delete refunded?.order_id?.uiState?.lineToRefund?.[refunded.uuid];
            }
            // The Validate waiting for this commit lets the receipt take input.
            this.offlineValidations?.get(order.uuid)?.onCommitted();
        }
        // Drafts (and anything not finalized) wait for the connection, as in Odoo.
        return [];
    },
});
