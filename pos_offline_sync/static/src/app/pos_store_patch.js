/** @odoo-module */
// PosStore glue: creates the offline controller when the register allows offline mode, and
// while the controller says "capture offline", finalized orders go to the offline store
// instead of the server. Everything else (and everything when offline mode is off) stays on
// Odoo's own path.
import { markRaw } from "@odoo/owl";
import { patch } from "@web/core/utils/patch";
import { rpc } from "@web/core/network/rpc";
import { PosStore } from "@point_of_sale/app/services/pos_store";
import { OfflineController } from "@pos_offline_sync/core/offline_controller";
import { CardVault } from "@pos_offline_sync/core/card_vault";
import { cardProcessorOf } from "@pos_offline_sync/core/card_processing";
import { limitsFromConfig } from "@pos_offline_sync/core/risk_limits";
import { toOfflineOrder } from "./offline_order_serializer";

/* global odoo */

function offlineSettings(config) {
    return {
        allowOfflineMode: Boolean(config.allow_offline_mode),
        autoDetect: Boolean(config.allow_offline_auto_detect),
        cardMaxAmount: config.offline_card_max_amount || 0,
        cardMaxTotal: config.offline_card_max_total || 0,
        cardMaxAgeHours: config.offline_card_max_age_hours || 0,
        publicKey: config._offline_card_public_key || null,
    };
}

patch(PosStore.prototype, {
    async afterProcessServerData() {
        // Also with offline mode off: orders captured while it was on must stay listed and
        // syncable (the controller then only opens an existing store).
        await this.setupOfflineSync();
        return await super.afterProcessServerData(...arguments);
    },

    async setupOfflineSync() {
        try {
            // markRaw: the controller holds IndexedDB handles; its `state` is reactive itself.
            this.offlineSync = markRaw(await OfflineController.create({
                dbName: odoo.info?.db || this.data.databaseName,
                configId: this.config.id,
                settings: offlineSettings(this.config),
                transport: {
                    call: (method, payload) => this.data.call("pos.order", method, [payload]),
                },
                ping: () => rpc("/pos/ping"),
                target: window,
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
            this.notification.add(`Offline mode is unavailable: ${error.message || error}`, {
                type: "danger",
            });
            return;
        }
        // Orders captured offline live in our store only: drop Odoo's local copies so that its
        // own pending-order sync never pushes them behind the cashier's back.
        // Keys only: cheap even with thousands of waiting orders.
        const captured = new Set(await this.offlineSync.listPendingUuids());
        for (const order of this.models["pos.order"].filter((o) => captured.has(o.uuid))) {
            if (!order.isSynced) {
                this.removePendingOrder(order);
                this.data.localDeleteCascade(order);
            }
        }
        this.offlineCapturedUuids = captured;
        await this.setupOfflineCards();
        if (captured.has(this.router.state.params?.orderUuid)) {
            // The reload happened on the receipt of an order that now lives in our store only.
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
        await vault.remember(this.config._offline_card_public_key).catch(() => vault.cachedKey());
        this.offlineCards = markRaw({ vault, limits: limitsFromConfig(this.config) });
    },

    // A method, not a getter: PosStore caches its getters (WithLazyGetterTrap).
    shouldCaptureOffline() {
        return Boolean(this.offlineSync && this.offlineSync.shouldCaptureOffline());
    },

    async syncAllOrders(options = {}) {
        if (!this.shouldCaptureOffline()) {
            return await super.syncAllOrders(...arguments);
        }
        const { orderToCreate, orderToUpdate } = this.getPendingOrder();
        const orders = (options.orders || [...orderToCreate, ...orderToUpdate]).filter(
            (order) => order.finalized && !order.isSynced && order.state !== "cancel"
        );
        try {
            for (const order of orders) {
                await this.preSyncAllOrders([order]);
                await this.offlineSync.captureOrder(toOfflineOrder(order, this));
                this.removePendingOrder(order);
                this.offlineCapturedUuids.add(order.uuid);
            }
        } catch (error) {
            // Could not keep it offline: Odoo's own path keeps it pending, nothing is lost.
            console.warn("pos_offline_sync: order not captured offline", error);
            this.notification.add(`Order kept for Odoo's own sync: ${error.message || error}`, {
                type: "warning",
            });
            return await super.syncAllOrders(...arguments);
        }
        // Drafts (and anything not finalized) wait for the connection, as in Odoo.
        return [];
    },
});
