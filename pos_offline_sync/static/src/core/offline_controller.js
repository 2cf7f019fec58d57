/** @odoo-module */
// The one object both hosts (the sandbox register and the Odoo PosStore patch) use, so their glue
// stays thin: it opens the offline store, runs the connectivity monitor, keeps the reactive state
// up to date, captures offline orders and syncs the checked ones.

import { ConnectivityMonitor } from "./connectivity.js";
import { csvFilename, downloadCsv, ordersToCsv } from "./csv_export.js";
import { _t, setTranslate } from "./i18n.js";
import { DeviceIdentity } from "./device_identity.js";
import { DeviceReporter } from "./device_reporter.js";
import { OfflineStore } from "./offline_store.js";
import { databaseName } from "./offline_store_schema.js";
import { createOfflineState } from "./offline_state.js";
import { validateOfflineOrder } from "./order_model.js";
import { DEFAULT_CONCURRENCY, SyncEngine } from "./sync_engine.js";
import { SyncLock } from "./sync_lock.js";
import { TEXTS } from "./device_texts.js";
import { AutoSyncScheduler } from "./auto_sync.js";
import { shouldConfirmLeaving } from "./readiness.js";

// English sources (the msgids), shown through _t() where they reach the cashier.

/** Refusal of sync() while offline (the help page: sync only once back online). */
export const SYNC_OFFLINE_MESSAGE = _t(
    "You are offline: orders can be synced only when the POS is online."
);

/** Refusal of captureOrder() when the POS config does not allow offline mode. */
export const OFFLINE_NOT_ALLOWED_MESSAGE = _t("Offline mode is not allowed on this Point of Sale.");

// Meta-store key of the manual switch: a cashier who went offline stays offline after a reload.
const MANUAL_OFFLINE_KEY = "manualOffline";
// How long after a capture its refresh waits: past the receipt's render (tens of ms).
const REFRESH_AFTER_CAPTURE_MS = 300;

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
     * @param {(source: string) => string} [options.translate] translates the messages the
     *   core builds (Odoo: its `_t`); without it they stay in English (see i18n.js)
     * @param {LockManager|null} [options.locks=navigator.locks] Web Locks for one sync at a time
     *   across tabs (null: per tab only)
     * @param {number} [options.lockWaitMs] longest wait for another tab's sync
     * @param {object|null} [options.device] device reports (issue 11): `{getCashier, limits,
     *   heartbeatMs, changeDelayMs}`; null: none. Needs the store.
     * @param {object} [options.identity] an already opened DeviceIdentity (tests)
     * @param {object} [options.autoSyncTiming] AutoSyncScheduler timing overrides (tests):
     *   `{settleMs, baseMs, maxMs, factor, random}`; used when `settings.autoSync` is on
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
        translate,
        locks,
        lockWaitMs,
        device = {},
        identity = null,
        autoSyncTiming = {},
    } = {}) {
        if (translate !== undefined) {
            setTranslate(translate);
        }
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
                            state.error = _t(
                                "Another tab of this register keeps an older offline store " +
                                    "open: close or reload it."
                            );
                        },
                        onVersionChange: () => {
                            state.error = _t(
                                "The offline store was upgraded in another tab: reload this page."
                            );
                        },
                    });
                } catch (error) {
                    state.error = _t("Offline orders cannot be kept in this browser: %(reason)s", {
                        reason: error.message,
                    });
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
            locks,
            lockWaitMs,
        });
        if (store && device) {
            await controller._startDevice({ identity, indexedDB, locks, ...device });
        }
        monitor.start();
        await controller.refresh();
        if (store) {
            controller._guardUnload(target);
        }
        if (enabled && store && settings.autoSync) {
            controller._startAutoSync(autoSyncTiming);
        }
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
        locks,
        lockWaitMs,
    }) {
        this.dbName = dbName;
        this.configId = configId;
        this.state = state;
        this.store = store;
        this.transport = transport;
        this.monitor = monitor;
        // One sync at a time across the tabs of this register, on the store's name.
        const lockOptions = { name: store?.name || databaseName(dbName, configId) };
        if (locks !== undefined) {
            lockOptions.locks = locks;
        }
        if (lockWaitMs !== undefined) {
            lockOptions.waitMs = lockWaitMs;
        }
        this.lock = store ? new SyncLock(lockOptions) : null;
        this._listeners = new Set();
        this._watchingRemote = false;
        this.device = null; // DeviceIdentity of this browser profile
        this.reporter = null;
        this._getCashier = null;
        this.autoSync = null; // AutoSyncScheduler when the POS syncs by itself on reconnect
        this.engine = store
            ? new SyncEngine({
                  store,
                  transport,
                  batchSize,
                  configId,
                  beforeSend,
                  concurrency,
                  lock: this.lock,
                  // Names the sync in the server's log: this device and the cashier.
                  describeSync: () => ({
                      device_id: this.device?.id ?? null,
                      cashier: this._cashierName(),
                  }),
              })
            : null;
        this._applyMonitor(monitor.snapshot());
        this._unsubscribe = monitor.subscribe((snapshot) => {
            const wasOnline = this.state.online;
            this._applyMonitor(snapshot);
            if (snapshot.online && !wasOnline) {
                this.reporter?.changed(); // what was kept while offline, as soon as online
            }
            this.autoSync?.setOnline(snapshot.online);
            if (snapshot.reason === "manual" && this.store && this.state.enabled) {
                this.store.setMeta(MANUAL_OFFLINE_KEY, snapshot.manualOffline).catch((error) => {
                    console.error("pos_offline_sync: could not save the offline switch", error);
                });
            }
        });
        // Other tabs of the same register capture and sync too: keep the count in step, and
        // show the live progress of a sync running in another tab.
        this._channel = null;
        if (store && typeof globalThis.BroadcastChannel === "function") {
            this._channel = new globalThis.BroadcastChannel(databaseName(dbName, configId));
            this._channel.onmessage = (event) => this._onMessage(event.data);
        }
    }

    /** Opens the device identity and starts its reports; without one, the register works on. */
    async _startDevice({ identity, indexedDB, locks, getCashier, limits, ...timing }) {
        this._getCashier = getCashier || null;
        if (!identity && !indexedDB) {
            return; // no IndexedDB: no store either, nothing to report
        }
        try {
            this.device = identity || (await DeviceIdentity.open({ dbName: this.dbName, indexedDB }));
        } catch (error) {
            console.warn("pos_offline_sync: no device identity:", error?.message || error);
            return;
        }
        this.state.device = { id: this.device.id, name: this.device.name };
        const options = {
            identity: this.device,
            transport: this.transport,
            configId: this.configId,
            state: this.state,
            listPending: () => this.listPending(),
            getCashier,
            lockName: `${this.lock.name}:report`,
            ...timing,
        };
        if (limits) {
            options.limits = limits;
        }
        if (locks !== undefined) {
            options.locks = locks;
        }
        this.reporter = new DeviceReporter(options);
        this.reporter.start();
    }

    /**
     * Auto-sync on reconnect: after the settle wait, every waiting order is sent through
     * sync() (so cards are processed first, by the same ledger path as the dialog's sync, and
     * under the same cross-tab lock). Put off while this tab or another one syncs.
     */
    _startAutoSync(timing = {}) {
        this.autoSync = new AutoSyncScheduler({
            ...timing,
            run: () => this._autoSyncRun(),
            canRun: () => !this.state.syncing && !this.state.remoteSync,
            hasWork: async () => (await this.countPending()) > 0,
            onChange: (snapshot) => {
                this.state.autoSync = { enabled: true, ...snapshot };
            },
        });
        this.state.autoSync = { enabled: true, ...this.autoSync.snapshot() };
        this.autoSync.setOnline(this.state.online);
    }

    /**
     * Leaving the page while orders wait and the browser promised nothing about keeping them
     * asks first (the browser's own "Leave site?" question; its words are the browser's).
     */
    _guardUnload(target) {
        if (!target || typeof target.addEventListener !== "function") {
            return;
        }
        const onBeforeUnload = (event) => {
            if (shouldConfirmLeaving(this.state)) {
                event.preventDefault();
                try {
                    event.returnValue = ""; // older browsers ask only with a returnValue
                } catch {
                    // A read-only returnValue (not a browser's BeforeUnloadEvent): prevented is enough.
                }
            }
        };
        target.addEventListener("beforeunload", onBeforeUnload);
        this._unguardUnload = () => target.removeEventListener("beforeunload", onBeforeUnload);
    }

    async _autoSyncRun() {
        const uuids = await this.listPendingUuids();
        if (!uuids.length) {
            return { ok: true };
        }
        const results = await this.sync(uuids, { auto: true });
        // No answer (not sent): retry later. Refusals stay for the cashier, not retried here.
        return { ok: !results.some((result) => result.status === "not_sent") };
    }

    _cashierName() {
        try {
            const name = this._getCashier?.()?.name;
            return typeof name === "string" && name ? name : null;
        } catch {
            return null;
        }
    }

    /**
     * Renames this device (kept in IndexedDB, reported at once).
     * @param {string} name
     * @returns {Promise<string>} the stored name
     */
    async renameDevice(name) {
        if (!this.device) {
            throw new Error(this.state.error || TEXTS.deviceNone);
        }
        const stored = await this.device.rename(name);
        this.state.device = { id: this.device.id, name: stored };
        this.reporter?.changed();
        return stored;
    }

    /**
     * Calls `fn(message)` after each change made by another tab (`{type: "changed"}` or
     * `{type: "sync", running, phase, done, total}`), once this tab's state is refreshed.
     * @param {(message: object) => void} fn
     * @returns {() => void} unsubscribe
     */
    subscribe(fn) {
        this._listeners.add(fn);
        return () => this._listeners.delete(fn);
    }

    async _onMessage(data) {
        const message = data && typeof data === "object" ? data : { type: "changed" };
        if (message.type === "sync") {
            this._applyRemoteSync(message);
        }
        await this.refresh();
        for (const fn of this._listeners) {
            try {
                fn(message);
            } catch (error) {
                console.error("pos_offline_sync: a listener failed", error);
            }
        }
    }

    _applyRemoteSync(message) {
        if (!message.running) {
            this.state.remoteSync = null;
            return;
        }
        this.state.remoteSync = {
            phase: message.phase === "cards" ? "cards" : "send",
            done: Number(message.done) || 0,
            total: Number(message.total) || 0,
        };
        // A tab killed mid-sync says nothing more: its lock, released by the browser, tells.
        if (!this._watchingRemote && this.lock?.supported) {
            this._watchingRemote = true;
            const watch = (this._watchAbort = new AbortController());
            this.lock
                .whenFree({ signal: watch.signal })
                .catch(() => undefined)
                .then(() => {
                    this._watchingRemote = false;
                    if (watch.signal.aborted) {
                        return undefined; // destroyed meanwhile
                    }
                    this.state.remoteSync = null;
                    return this.refresh();
                });
        }
    }

    _applyMonitor(snapshot) {
        this.state.online = snapshot.online;
        this.state.manualOffline = snapshot.manualOffline;
    }

    _broadcast(message = { type: "changed" }) {
        try {
            this._channel?.postMessage(message);
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
            throw new Error(_t(OFFLINE_NOT_ALLOWED_MESSAGE));
        }
        if (!this.store) {
            throw new Error(
                this.state.error || _t("Offline orders cannot be kept in this browser.")
            );
        }
        validateOfflineOrder(order);
        // The count and the oldest order come with the committed write (one transaction):
        // no further read stands between Validate and the receipt.
        const { record, count, oldestCreatedAt } = await this.store.putCounted(order);
        this.state.pendingCount = count;
        this.state.oldestPendingAt = oldestCreatedAt;
        this._broadcast();
        this.reporter?.changed(); // itself waits (CHANGE_DELAY_MS) before it reads and sends
        this._refreshAfterReceipt();
        return record;
    }

    /**
     * The rest of a capture (the re-read of the count, the card age count down) follows once
     * the receipt is drawn: its reads, started now, would take the main thread from the
     * receipt's render (5 to 7 ms of the Validate in a one-off probe of the real POS; the
     * Validate figures of bench/odoo_browser_bench.py show the whole).
     * The count shown meanwhile is the write's own. Captures in a row share one refresh.
     */
    _refreshAfterReceipt() {
        if (this._refreshTimer) {
            return;
        }
        this._refreshTimer = setTimeout(() => {
            this._refreshTimer = null;
            this.refresh().catch(() => {});
        }, REFRESH_AFTER_CAPTURE_MS);
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
        // Every change passes here (capture, sync, card outcome, another tab's broadcast).
        this.reporter?.changed();
    }

    /**
     * Syncs the checked orders (see SyncEngine.sync). Refuses while offline with
     * SYNC_OFFLINE_MESSAGE, and while another sync runs in this tab. While another tab of the
     * register syncs, waits for it (`state.waitingForSync`, its progress in
     * `state.remoteSync`), then sends what is still waiting; the orders it synced come back
     * "missing". Gives up with a LockWaitError after the lock's wait or when `signal` aborts.
     * Fills `state.progress`, `state.syncing` and `state.lastResults`, and tells the other tabs
     * its progress.
     * @param {string[]} uuids
     * @param {{onProgress?: Function, onWait?: Function, signal?: AbortSignal}} [options]
     * @returns {Promise<object[]>} one result per uuid
     */
    async sync(uuids, { onProgress, onWait, signal, auto = false } = {}) {
        if (!this.state.online) {
            throw new Error(_t(SYNC_OFFLINE_MESSAGE));
        }
        if (!this.engine) {
            throw new Error(
                this.state.error || _t("There are no offline orders in this browser.")
            );
        }
        if (this.engine.running) {
            throw new Error(_t("A sync is already running; wait for it to finish."));
        }
        this.state.syncing = true;
        this.state.autoSyncing = auto;
        this.state.progress = { done: 0, total: uuids.length };
        let holding = false;
        try {
            const results = await this.engine.sync(uuids, {
                onWait: () => {
                    this.state.waitingForSync = true;
                    onWait?.();
                },
                signal,
                onProgress: (progress) => {
                    // The first progress comes from inside the lock: no other tab syncs now.
                    holding = true;
                    this.state.waitingForSync = false;
                    this.state.remoteSync = null;
                    this.state.progress = { ...progress };
                    this._broadcast({ type: "sync", running: true, ...progress });
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
            this.state.autoSyncing = false;
            this.state.waitingForSync = false;
            this._broadcast(holding ? { type: "sync", running: false } : { type: "changed" });
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
        clearTimeout(this._refreshTimer);
        this._refreshTimer = null;
        this._unguardUnload?.();
        this.autoSync?.stop();
        this.autoSync = null;
        this.reporter?.stop();
        this.reporter = null;
        this.device?.close?.();
        this._watchAbort?.abort();
        this._unsubscribe?.();
        this.monitor.stop();
        this._channel?.close();
        this._channel = null;
        this.store?.close?.();
    }
}
