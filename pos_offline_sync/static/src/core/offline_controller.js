/** @odoo-module */
// The one object both hosts (the sandbox register and the Odoo PosStore patch) use, so their glue
// stays thin: it opens the offline store, runs the connectivity monitor, keeps the reactive state
// up to date, captures offline orders and syncs the checked ones.

import { ConnectivityMonitor } from "./connectivity.js";
import { csvFilename, downloadCsv, ordersToCsv } from "./csv_export.js";
import { OfflineStore } from "./offline_store.js";
import { databaseName } from "./offline_store_schema.js";
import { createOfflineState } from "./offline_state.js";
import { validateOfflineOrder } from "./order_model.js";
import { DEFAULT_CONCURRENCY, SyncEngine } from "./sync_engine.js";

/** Refusal of sync() while offline (the help page: sync only once back online). */
export const SYNC_OFFLINE_MESSAGE =
    "You are offline: orders can be synced only when the POS is online.";

/** Refusal of captureOrder() when the POS config does not allow offline mode. */
export const OFFLINE_NOT_ALLOWED_MESSAGE = "Offline mode is not allowed on this Point of Sale.";

// Meta-store key of the manual switch: a cashier who went offline stays offline after a reload.
const MANUAL_OFFLINE_KEY = "manualOffline";

// When the browser cannot list its databases (no databases(), or it fails), answer "maybe":
// opening creates at worst an empty store, while "no" would hide orders left waiting there.
async function databaseMayExist(indexedDB, name) {
    if (!indexedDB) {
        return false;
    }
    if (typeof indexedDB.databases !== "function") {
        return true;
    }
    try {
        return (await indexedDB.databases()).some((info) => info.name === name);
    } catch {
        return true;
    }
}

/** Offline mode of one register. Create it with `OfflineController.create()`. */
export class OfflineController {
    /**
     * Opens the store (offline mode allowed, or orders left from when it was), requests
     * persistent storage, starts the monitor and fills the state.
     *
     * Never rejects because of the browser: if IndexedDB cannot be opened, `state.error` says
     * why and captureOrder() refuses with that reason.
     *
     * @param {object} options
     * @param {string} options.dbName Odoo database name
     * @param {number|string} options.configId POS config id
     * @param {{allowOfflineMode: boolean, autoDetect: boolean}} options.settings
     * @param {{call: Function}} options.transport the RPC transport (CONTRACTS §2)
     * @param {() => Promise<*>} [options.ping] heartbeat (needed with auto-detect)
     * @param {EventTarget} [options.target=window] online/offline event source
     * @param {IDBFactory} [options.indexedDB=globalThis.indexedDB]
     * @param {object} [options.store] an already opened store (tests); skips opening one
     * @param {StorageManager} [options.storage=navigator.storage] for persist()
     * @param {number} [options.batchSize] the first batch's size (see SyncEngine; then adaptive)
     * @param {Function} [options.beforeSend] see SyncEngine (card processing)
     * @param {number} [options.concurrency=4] see SyncEngine: card orders processed at once
     * @param {object} [options.monitorOptions] extra ConnectivityMonitor options (timers, ...)
     * @returns {Promise<OfflineController>}
     */
    static async create({
        dbName,
        configId,
        settings = {},
        transport,
        ping,
        target = globalThis.window,
        indexedDB = globalThis.indexedDB,
        store = null,
        storage = globalThis.navigator?.storage,
        batchSize,
        beforeSend = null,
        concurrency = DEFAULT_CONCURRENCY,
        monitorOptions = {},
    } = {}) {
        const enabled = Boolean(settings.allowOfflineMode);
        const autoDetect = enabled && Boolean(settings.autoDetect);
        const state = createOfflineState({ enabled, autoDetect });
        let manualOffline = false;
        if (!store) {
            const name = databaseName(dbName, configId);
            // With offline mode off, open only an existing store: orders left there must still
            // be listed and synced, but no empty database is created for nothing.
            if (enabled || (await databaseMayExist(indexedDB, name))) {
                try {
                    store = await OfflineStore.open({
                        dbName,
                        configId,
                        indexedDB,
                        onBlocked: () => {
                            state.error =
                                "Another tab of this register keeps an older offline store open: " +
                                "close or reload it.";
                        },
                        onVersionChange: () => {
                            state.error =
                                "The offline store was upgraded in another tab: reload this page.";
                        },
                    });
                } catch (error) {
                    state.error = `Offline orders cannot be kept in this browser: ${error.message}`;
                }
            }
        }
        if (store && enabled) {
            try {
                manualOffline = Boolean(await store.getMeta(MANUAL_OFFLINE_KEY, false));
            } catch {
                manualOffline = false;
            }
            state.persistence = await OfflineStore.requestPersistence(storage);
        }
        const monitor = new ConnectivityMonitor({
            ping,
            autoDetect,
            target,
            manualOffline: enabled && manualOffline,
            ...monitorOptions,
        });
        const controller = new OfflineController({
            dbName,
            configId,
            state,
            store,
            transport,
            monitor,
            batchSize,
            beforeSend,
            concurrency,
        });
        monitor.start();
        await controller.refresh();
        return controller;
    }

    /** Use OfflineController.create(). */
    constructor({
        dbName,
        configId,
        state,
        store,
        transport,
        monitor,
        batchSize,
        beforeSend,
        concurrency = DEFAULT_CONCURRENCY,
    }) {
        this.dbName = dbName;
        this.configId = configId;
        this.state = state;
        this.store = store;
        this.transport = transport;
        this.monitor = monitor;
        this.engine = store
            ? new SyncEngine({ store, transport, batchSize, configId, beforeSend, concurrency })
            : null;
        this._applyMonitor(monitor.snapshot());
        this._unsubscribe = monitor.subscribe((snapshot) => {
            this._applyMonitor(snapshot);
            if (snapshot.reason === "manual" && this.store && this.state.enabled) {
                this.store.setMeta(MANUAL_OFFLINE_KEY, snapshot.manualOffline).catch((error) => {
                    console.error("pos_offline_sync: could not save the offline switch", error);
                });
            }
        });
        // Other tabs of the same register capture and sync too: keep the count in step.
        this._channel = null;
        if (store && typeof globalThis.BroadcastChannel === "function") {
            this._channel = new globalThis.BroadcastChannel(databaseName(dbName, configId));
            this._channel.onmessage = () => this.refresh();
        }
    }

    _applyMonitor(snapshot) {
        this.state.online = snapshot.online;
        this.state.manualOffline = snapshot.manualOffline;
    }

    _broadcast() {
        try {
            this._channel?.postMessage("changed");
        } catch {
            // Closed channel: only the other tabs' count is late.
        }
    }

    /**
     * True when a finalized order must go to the offline store instead of the server: offline
     * mode allowed and the register offline (manual or detected).
     * @returns {boolean}
     */
    shouldCaptureOffline() {
        return this.state.enabled && !this.state.online;
    }

    /**
     * Validates and stores an order; resolves once the write is committed (show the receipt
     * only then). Rejects with a clear error (invalid order, storage full, no store): then the
     * sale must not be finalized.
     * @param {object} order plain order JSON (CONTRACTS §1)
     * @returns {Promise<object>} the stored record
     */
    async captureOrder(order) {
        if (!this.state.enabled) {
            throw new Error(OFFLINE_NOT_ALLOWED_MESSAGE);
        }
        if (!this.store) {
            throw new Error(this.state.error || "Offline orders cannot be kept in this browser.");
        }
        validateOfflineOrder(order);
        const record = await this.store.put(order);
        this._broadcast();
        await this.refresh();
        return record;
    }

    /**
     * The waiting offline orders, oldest first, as light records (OfflineStore.listSummaries):
     * `{uuid, created_at, is_return, last_result, summary: true, order}` where `order` has the
     * listing fields and card brand/last 4/status, but no lines and no card envelope. Use
     * getRecord(uuid) for the full order (card processing). With `limit`, only the `limit`
     * oldest: a bounded read for a first page (the dialog paints it before reading the rest).
     * @param {{limit?: number}} [options]
     * @returns {Promise<object[]>}
     */
    async listPending({ limit } = {}) {
        if (!this.store) {
            return [];
        }
        return limit === undefined || limit === null
            ? this.store.listSummaries()
            : this.store.listSummaries({ limit });
    }

    /**
     * Number of waiting orders, read now (state.pendingCount may lag behind another tab).
     * @returns {Promise<number>}
     */
    async countPending() {
        return this.store ? this.store.count() : 0;
    }

    /**
     * Uuids of every waiting order (keys only: cheap even over 10,000), for "select all"
     * before the whole list is loaded.
     * @returns {Promise<string[]>}
     */
    async listPendingUuids() {
        return this.store ? this.store.getAllUuids() : [];
    }

    /**
     * The full stored record of one order, or null.
     * @param {string} uuid
     * @returns {Promise<object|null>}
     */
    async getRecord(uuid) {
        return this.store ? this.store.get(uuid) : null;
    }

    /** Re-reads pendingCount and oldestPendingAt from the store; never rejects. */
    async refresh() {
        if (!this.store) {
            this.state.pendingCount = 0;
            this.state.oldestPendingAt = null;
            return;
        }
        try {
            const [count, oldest] = await Promise.all([
                this.store.count(),
                this.store.oldestCreatedAt(),
            ]);
            this.state.pendingCount = count;
            this.state.oldestPendingAt = oldest;
        } catch (error) {
            this.state.error = error.message;
        }
    }

    /**
     * Syncs the checked orders (see SyncEngine.sync). Refuses while offline with
     * SYNC_OFFLINE_MESSAGE, and while another sync runs. Fills `state.progress`, `state.syncing`
     * and `state.lastResults`.
     * @param {string[]} uuids
     * @param {{onProgress?: Function}} [options]
     * @returns {Promise<object[]>} one result per uuid
     */
    async sync(uuids, { onProgress } = {}) {
        if (!this.state.online) {
            throw new Error(SYNC_OFFLINE_MESSAGE);
        }
        if (!this.engine) {
            throw new Error(this.state.error || "There are no offline orders in this browser.");
        }
        if (this.engine.running) {
            throw new Error("A sync is already running; wait for it to finish.");
        }
        this.state.syncing = true;
        this.state.progress = { done: 0, total: uuids.length };
        try {
            const results = await this.engine.sync(uuids, {
                onProgress: (progress) => {
                    this.state.progress = { ...progress };
                    onProgress?.(progress);
                },
            });
            const lastResults = { ...this.state.lastResults };
            for (const result of results) {
                lastResults[result.uuid] = {
                    ok: result.ok,
                    status: result.status,
                    reason: result.reason,
                };
            }
            this.state.lastResults = lastResults;
            return results;
        } finally {
            this.state.syncing = false;
            this._broadcast();
            await this.refresh();
        }
    }

    /**
     * The CSV export of the given orders (returns left out).
     * @param {string[]} uuids the checked orders
     * @returns {Promise<{csv: string, exported: number, skippedReturns: number, filename: string}>}
     */
    async exportCsv(uuids) {
        const records = this.store ? await this.store.getMany(uuids) : [];
        const result = ordersToCsv(records.filter(Boolean));
        return { ...result, filename: csvFilename(this.configId) };
    }

    /**
     * exportCsv() then offers the file as a download.
     * @param {string[]} uuids
     * @param {Document} [doc=document]
     * @returns {Promise<{csv: string, exported: number, skippedReturns: number, filename: string}>}
     */
    async downloadCsv(uuids, doc = globalThis.document) {
        const result = await this.exportCsv(uuids);
        if (result.exported) {
            downloadCsv(result.csv, result.filename, doc);
        }
        return result;
    }

    /**
     * The status icon's click: flips the manual offline switch (kept across reloads).
     * @returns {boolean} the new effective online state
     */
    toggleManualOffline() {
        if (!this.state.enabled) {
            return this.state.online;
        }
        return this.monitor.toggle();
    }

    /**
     * Sets the manual offline switch.
     * @param {boolean} value
     */
    setManualOffline(value) {
        if (this.state.enabled) {
            this.monitor.setManualOffline(value);
        }
    }

    /** Stops the monitor and closes the store. */
    destroy() {
        this._unsubscribe?.();
        this.monitor.stop();
        this._channel?.close();
        this._channel = null;
        this.store?.close?.();
    }
}
