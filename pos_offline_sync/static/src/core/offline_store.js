/** @odoo-module */
// A thin promise wrapper over IndexedDB holding the offline orders of one POS config. Every write
// resolves only when its transaction is committed (`oncomplete`): that is the signal the register
// waits for before it shows the receipt. No network call ever happens inside a transaction.

import {
    CREATED_AT_INDEX,
    DB_VERSION,
    META_STORE,
    ORDERS_STORE,
    SUMMARIES_STORE,
    databaseName,
    upgrade,
} from "./offline_store_schema.js";
import { isReturnOrder, lightPayments } from "./order_model.js";
import { _t } from "./i18n.js";

/** Message of the error raised when the browser's storage quota is exhausted. */
export const STORAGE_FULL_MESSAGE = _t(
    "The browser refused to store the order: storage is full"
);

/** Error of the offline store; `cause` keeps the browser's DOMException when there is one. */
/**
 * The record put() stores for `order` and its summary; throws what makeRecord() throws, or an
 * OfflineStoreError when the summary cannot be made.
 */
function recordAndSummary(order) {
    const record = makeRecord(order);
    try {
        return { record, summary: makeSummary(record) };
    } catch (error) {
        throw toStoreError(error, "The order could not be stored");
    }
}

export class OfflineStoreError extends Error {
    constructor(message, cause) {
        super(message);
        this.name = "OfflineStoreError";
        if (cause) {
            this.cause = cause;
        }
    }
}

function toStoreError(error, action) {
    if (error instanceof OfflineStoreError) {
        return error;
    }
    const name = error?.name || "";
    if (name === "QuotaExceededError") {
        return new OfflineStoreError(_t(STORAGE_FULL_MESSAGE), error);
    }
    if (name === "DataCloneError") {
        return new OfflineStoreError(
            `${action}: the order holds data a browser cannot store (${name}).`,
            error
        );
    }
    if (name === "VersionError") {
        return new OfflineStoreError(
            `${action}: this browser holds offline orders of a newer version of the addon.`,
            error
        );
    }
    if (name === "InvalidStateError") {
        return new OfflineStoreError(
            `${action}: the offline store is closed; reload the page.`,
            error
        );
    }
    // Our own errors (from an update callback) carry a readable message: keep it.
    if (error instanceof Error && !(globalThis.DOMException && error instanceof DOMException)) {
        return new OfflineStoreError(`${action}: ${error.message}`, error);
    }
    return new OfflineStoreError(`${action} (${name || "unknown error"}).`, error);
}

/**
 * Commits once the requests made so far are done, without waiting for their success events to
 * run on the page's thread (where the transaction would otherwise stay open until they did).
 * Browsers without commit() commit when the transaction is idle, as before.
 */
function commitNow(tx) {
    if (typeof tx.commit === "function") {
        tx.commit();
    }
}

function requestResult(request) {
    return new Promise((resolve, reject) => {
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
    });
}

/**
 * Builds the stored record of an order; store-only bookkeeping stays beside the order.
 * @param {object} order plain order JSON (CONTRACTS §1)
 * @returns {{uuid: string, order: object, created_at: string, is_return: boolean, last_result: null}}
 */
export function makeRecord(order) {
    if (!order || typeof order !== "object") {
        throw new OfflineStoreError("The order could not be stored: it is not an object.");
    }
    if (typeof order.uuid !== "string" || !order.uuid) {
        throw new OfflineStoreError("The order could not be stored: it has no uuid.");
    }
    return {
        uuid: order.uuid,
        order,
        created_at: order.created_at || new Date().toISOString(),
        is_return: isReturnOrder(order),
        last_result: null,
    };
}

/**
 * The flat row kept in the summaries store for one record: primitives and one small object per
 * payment (flat rows read back several times faster than nested ones). No lines, no `odoo`
 * payload, no card envelope.
 * @param {object} record
 * @returns {object}
 */
export function makeSummary(record) {
    // Tolerant of odd records (written by an older client): a listing must never hide an order.
    const order = record.order && typeof record.order === "object" ? record.order : {};
    return {
        uuid: record.uuid,
        created_at: record.created_at,
        is_return: record.is_return,
        last_result: record.last_result ?? null,
        reference: order.reference ?? null,
        config_id: order.config_id ?? null,
        session_id: order.session_id ?? null,
        cashier_id: order.cashier?.id ?? null,
        cashier_name: order.cashier?.name ?? null,
        customer_id: order.customer?.id ?? null,
        customer_name: order.customer?.name ?? null,
        currency: order.currency ?? null,
        line_count: Array.isArray(order.lines) ? order.lines.length : 0,
        amount_total: order.amount_total,
        amount_tax: order.amount_tax ?? 0,
        amount_paid: order.amount_paid ?? 0,
        amount_return: order.amount_return ?? 0,
        payments: lightPayments(order),
    };
}

/**
 * A summaries row as a light record `{uuid, created_at, is_return, last_result, summary: true,
 * order}`, `order` shaped like lightOrder() (so listings read `record.order.*` either way).
 * @param {object} row
 * @returns {object}
 */
export function expandSummary(row) {
    const hasCustomer = row.customer_id !== null || row.customer_name !== null;
    const hasCashier = row.cashier_id !== null || row.cashier_name !== null;
    return {
        uuid: row.uuid,
        created_at: row.created_at,
        is_return: row.is_return,
        last_result: row.last_result,
        summary: true,
        order: {
            v: 1,
            light: true,
            uuid: row.uuid,
            reference: row.reference,
            created_at: row.created_at,
            config_id: row.config_id,
            session_id: row.session_id,
            cashier: hasCashier ? { id: row.cashier_id, name: row.cashier_name } : null,
            customer: hasCustomer ? { id: row.customer_id, name: row.customer_name } : null,
            currency: row.currency,
            line_count: row.line_count,
            payments: row.payments,
            amount_total: row.amount_total,
            amount_tax: row.amount_tax,
            amount_paid: row.amount_paid,
            amount_return: row.amount_return,
            is_return: row.is_return,
        },
    };
}

const BOTH_STORES = [ORDERS_STORE, SUMMARIES_STORE];

/**
 * The offline orders of one POS config in IndexedDB. Create it with `OfflineStore.open()`.
 * Records are plain data: `{uuid, order, created_at, is_return, last_result}`.
 */
export class OfflineStore {
    /**
     * Opens (creating or upgrading) the database `pos_offline_sync-<dbName>-<configId>`.
     * @param {object} options
     * @param {string} options.dbName Odoo database name
     * @param {number|string} options.configId POS config id
     * @param {IDBFactory} [options.indexedDB=globalThis.indexedDB]
     * @param {"strict"|"relaxed"|"default"} [options.durability="strict"] for write transactions
     * @param {Function} [options.onBlocked] called while another tab holds an older version open
     * @param {Function} [options.onVersionChange] called after this connection closed itself
     *   because another tab upgrades the database
     * @returns {Promise<OfflineStore>}
     */
    static open({
        dbName,
        configId,
        indexedDB = globalThis.indexedDB,
        durability = "strict",
        onBlocked,
        onVersionChange,
    } = {}) {
        const name = databaseName(dbName, configId);
        if (!indexedDB) {
            return Promise.reject(
                new OfflineStoreError(
                    "This browser has no IndexedDB: offline orders cannot be kept."
                )
            );
        }
        return new Promise((resolve, reject) => {
            let request;
            try {
                request = indexedDB.open(name, DB_VERSION);
            } catch (error) {
                reject(toStoreError(error, "The offline store could not be opened"));
                return;
            }
            request.onupgradeneeded = (event) => upgrade(request.result, event.oldVersion);
            // The open request stays pending until the other tab closes; tell the host so it can
            // say so rather than hang silently.
            request.onblocked = () => onBlocked?.();
            request.onsuccess = () =>
                resolve(
                    new OfflineStore(request.result, {
                        name,
                        indexedDB,
                        durability,
                        onVersionChange,
                    })
                );
            request.onerror = () =>
                reject(toStoreError(request.error, "The offline store could not be opened"));
        });
    }

    /**
     * Deletes the database of one config (tests and "forget this register" tools only).
     * @returns {Promise<void>}
     */
    static deleteDatabase({ dbName, configId, indexedDB = globalThis.indexedDB } = {}) {
        const name = databaseName(dbName, configId);
        return new Promise((resolve, reject) => {
            const request = indexedDB.deleteDatabase(name);
            request.onsuccess = () => resolve();
            request.onerror = () =>
                reject(toStoreError(request.error, "The offline store could not be deleted"));
        });
    }

    /**
     * Asks the browser to keep this origin's storage under pressure (navigator.storage.persist).
     * @param {StorageManager} [storage=navigator.storage]
     * @returns {Promise<"persisted"|"best-effort"|"unsupported">}
     */
    static async requestPersistence(storage = globalThis.navigator?.storage) {
        if (!storage || typeof storage.persist !== "function") {
            return "unsupported";
        }
        try {
            if (typeof storage.persisted === "function" && (await storage.persisted())) {
                return "persisted";
            }
            return (await storage.persist()) ? "persisted" : "best-effort";
        } catch {
            // A refusal to answer leaves the default: best-effort storage.
            return "best-effort";
        }
    }

    /** Use OfflineStore.open(). */
    constructor(db, { name, indexedDB, durability = "strict", onVersionChange } = {}) {
        this.db = db;
        this.name = name;
        this.indexedDB = indexedDB;
        this.durability = durability;
        this.closed = false;
        this.closedReason = "";
        // Another tab upgrades the schema: let it, this tab must reload to use the new one.
        db.onversionchange = () => {
            this._markClosed("another tab upgraded the offline store; reload the page");
            db.close();
            onVersionChange?.();
        };
        db.onclose = () =>
            this._markClosed("the browser closed the offline store (storage cleared?)");
    }

    _markClosed(reason) {
        if (!this.closed) {
            this.closed = true;
            this.closedReason = reason;
        }
    }

    /** Same as OfflineStore.requestPersistence(), for hosts that only hold the instance. */
    requestPersistence(storage) {
        return OfflineStore.requestPersistence(storage);
    }

    /**
     * Runs `body(tx, setResult, fail)` in one transaction; resolves with the result once
     * committed, rejects (and aborts) on `fail(error)` or any error of the transaction.
     * `body` must be synchronous: awaiting anything would let the transaction auto-commit.
     */
    _transaction(storeNames, mode, action, body) {
        if (this.closed) {
            return Promise.reject(new OfflineStoreError(`${action}: ${this.closedReason}.`));
        }
        return new Promise((resolve, reject) => {
            let tx;
            try {
                tx =
                    mode === "readwrite"
                        ? this.db.transaction(storeNames, mode, { durability: this.durability })
                        : this.db.transaction(storeNames, mode);
            } catch (error) {
                reject(toStoreError(error, action));
                return;
            }
            let result;
            let failure = null;
            const fail = (error) => {
                failure = failure || toStoreError(error, action);
                try {
                    tx.abort();
                } catch {
                    // Already finished: the rejection below still reports the error.
                }
                reject(failure);
            };
            tx.oncomplete = () => resolve(result);
            tx.onabort = () => reject(failure || toStoreError(tx.error, action));
            try {
                body(
                    tx,
                    (value) => {
                        result = value;
                    },
                    fail
                );
            } catch (error) {
                fail(error);
            }
        });
    }

    /**
     * Stores (or replaces) one order; resolves with the record once the write is committed.
     * Rejects with OfflineStoreError (STORAGE_FULL_MESSAGE when the quota is exhausted): then the
     * register must not finalize the sale.
     * @param {object} order plain order JSON
     * @returns {Promise<object>} the stored record
     */
    put(order) {
        let record, summary;
        try {
            ({ record, summary } = recordAndSummary(order));
        } catch (error) {
            return Promise.reject(error);
        }
        return this._transaction(
            BOTH_STORES,
            "readwrite",
            "The order could not be stored",
            (tx, set) => {
                tx.objectStore(ORDERS_STORE).put(record);
                tx.objectStore(SUMMARIES_STORE).put(summary);
                set(record);
                commitNow(tx);
            }
        );
    }

    /**
     * put(), and in the same transaction the number of waiting orders and the oldest one's
     * created_at as they are at its commit: what the register shows next, without another
     * transaction after the write (each is a round trip to the browser's storage process, on
     * the cashier's wait between Validate and the receipt).
     * @param {object} order plain order JSON
     * @returns {Promise<{record: object, count: number, oldestCreatedAt: string|null}>}
     */
    putCounted(order) {
        let record, summary;
        try {
            ({ record, summary } = recordAndSummary(order));
        } catch (error) {
            return Promise.reject(error);
        }
        return this._transaction(
            BOTH_STORES,
            "readwrite",
            "The order could not be stored",
            (tx, set) => {
                const orders = tx.objectStore(ORDERS_STORE);
                orders.put(record);
                tx.objectStore(SUMMARIES_STORE).put(summary);
                const result = { record, count: 0, oldestCreatedAt: null };
                set(result);
                // Requests of one transaction run in order: these see the write above.
                requestResult(orders.count()).then((count) => {
                    result.count = count;
                });
                requestResult(orders.index(CREATED_AT_INDEX).openKeyCursor()).then((cursor) => {
                    result.oldestCreatedAt = cursor ? cursor.key : null;
                });
                // Nothing more to ask: the commit need not wait for these requests' success
                // events, which wait for the page's main thread (the receipt's render, at
                // Validate). Their results still arrive.
                commitNow(tx);
            }
        );
    }

    /**
     * Stores many orders in one committed transaction (bulk loads, benchmarks).
     * @param {object[]} orders
     * @returns {Promise<number>} how many were stored
     */
    putMany(orders) {
        let records;
        let summaries;
        try {
            records = orders.map(makeRecord);
            summaries = records.map(makeSummary);
        } catch (error) {
            return Promise.reject(toStoreError(error, "The orders could not be stored"));
        }
        return this._transaction(
            BOTH_STORES,
            "readwrite",
            "The orders could not be stored",
            (tx, set) => {
                const store = tx.objectStore(ORDERS_STORE);
                const summaryStore = tx.objectStore(SUMMARIES_STORE);
                records.forEach((record, index) => {
                    store.put(record);
                    summaryStore.put(summaries[index]);
                });
                set(records.length);
            }
        );
    }

    /** One request in its own readonly transaction; resolves with its result once done. */
    _read(storeName, action, makeRequest) {
        return this._transaction(storeName, "readonly", action, (tx, set) => {
            requestResult(makeRequest(tx.objectStore(storeName))).then(set);
        });
    }

    /**
     * One record, or null.
     * @param {string} uuid
     * @returns {Promise<object|null>}
     */
    get(uuid) {
        return this._read(ORDERS_STORE, "The order could not be read", (store) =>
            store.get(uuid)
        ).then((value) => value ?? null);
    }

    /**
     * Records of the given uuids, in the same order, null where missing; one transaction.
     * @param {string[]} uuids
     * @returns {Promise<Array<object|null>>}
     */
    getMany(uuids) {
        return this._transaction(
            ORDERS_STORE,
            "readonly",
            "The orders could not be read",
            (tx, set) => {
                const store = tx.objectStore(ORDERS_STORE);
                const records = new Array(uuids.length).fill(null);
                uuids.forEach((uuid, index) => {
                    requestResult(store.get(uuid)).then((value) => {
                        records[index] = value ?? null;
                    });
                });
                set(records);
            }
        );
    }

    /**
     * All records, oldest first (by created_at).
     * @returns {Promise<object[]>}
     */
    getAll() {
        return this._read(ORDERS_STORE, "The orders could not be read", (store) =>
            store.index(CREATED_AT_INDEX).getAll()
        );
    }

    /**
     * Light copies of all records, oldest first: `{uuid, created_at, is_return, last_result,
     * summary: true, order}` where `order` has no lines, no `odoo` payload and no card envelope
     * (see lightOrder). What a listing needs, several times faster than getAll().
     *
     * With `limit`, only the `limit` oldest (a first page): a bounded read through the
     * summaries' created_at index, so its cost does not grow with the queue. A page may miss an
     * order whose summary is missing, and is one shorter per stray summary (order gone) it
     * skips; the full listing (no limit) never misses an order.
     * @param {{limit?: number}} [options]
     * @returns {Promise<object[]>}
     */
    listSummaries({ limit } = {}) {
        if (limit !== undefined && limit !== null) {
            return this._summaryPage(limit);
        }
        let repaired = [];
        return this._transaction(
            BOTH_STORES,
            "readonly",
            "The orders could not be read",
            (tx, set) => {
                const orders = tx.objectStore(ORDERS_STORE);
                const summariesRequest = tx.objectStore(SUMMARIES_STORE).getAll();
                const keysRequest = orders.getAllKeys();
                // Both requests answer in order; the second callback sees both results.
                keysRequest.onsuccess = () => {
                    const keys = keysRequest.result;
                    const rows = summariesRequest.result;
                    const present = new Set(keys);
                    const listed = rows.filter((row) => present.has(row.uuid));
                    const seen = new Set(listed.map((row) => row.uuid));
                    set(listed);
                    // An order without its summary (written outside this API, or by an older client)
                    // is still listed: summarised from the full record, and repaired afterwards.
                    for (const key of keys) {
                        if (!seen.has(key)) {
                            const request = orders.get(key);
                            request.onsuccess = () => {
                                if (request.result) {
                                    const row = makeSummary(request.result);
                                    listed.push(row);
                                    repaired.push(row);
                                }
                            };
                        }
                    }
                };
            }
        ).then((rows) => {
            if (repaired.length) {
                this._repairSummaries(repaired);
                repaired = [];
            }
            // Sorting here is cheaper than reading through the index.
            rows.sort(byCreatedAt);
            return rows.map(expandSummary);
        });
    }

    _summaryPage(limit) {
        if (!Number.isInteger(limit) || limit < 1) {
            return Promise.reject(
                new OfflineStoreError("listSummaries(): limit must be a positive integer.")
            );
        }
        return this._transaction(
            BOTH_STORES,
            "readonly",
            "The orders could not be read",
            (tx, set) => {
                const orders = tx.objectStore(ORDERS_STORE);
                const index = tx.objectStore(SUMMARIES_STORE).index(CREATED_AT_INDEX);
                // The index keeps created_at order, ties by uuid: the same order as byCreatedAt.
                const request = index.getAll(null, limit);
                // Plain callbacks (not promises): the next requests must run while the
                // transaction is still active.
                request.onsuccess = () => {
                    const rows = request.result;
                    const present = new Array(rows.length).fill(false);
                    set({ rows, present });
                    // A summary is written with its order; this only guards against a stray one.
                    rows.forEach((row, i) => {
                        const keyRequest = orders.getKey(row.uuid);
                        keyRequest.onsuccess = () => {
                            present[i] = keyRequest.result !== undefined;
                        };
                    });
                };
            }
        ).then(({ rows, present }) => rows.filter((_, i) => present[i]).map(expandSummary));
    }

    _repairSummaries(rows) {
        this._transaction(
            SUMMARIES_STORE,
            "readwrite",
            "The order list could not be repaired",
            (tx) => {
                const store = tx.objectStore(SUMMARIES_STORE);
                for (const row of rows) {
                    store.put(row);
                }
            }
        ).catch((error) => {
            // Only a cache: the next listing summarises those orders again.
            console.warn("pos_offline_sync:", error.message);
        });
    }

    /**
     * Uuids of all waiting orders (keys only: cheap).
     * @returns {Promise<string[]>}
     */
    getAllUuids() {
        return this._read(ORDERS_STORE, "The orders could not be read", (store) =>
            store.getAllKeys()
        );
    }

    /**
     * Number of waiting orders.
     * @returns {Promise<number>}
     */
    count() {
        return this._read(ORDERS_STORE, "The orders could not be counted", (store) =>
            store.count()
        );
    }

    /**
     * created_at of the oldest waiting order, or null.
     * @returns {Promise<string|null>}
     */
    oldestCreatedAt() {
        return this._transaction(
            ORDERS_STORE,
            "readonly",
            "The orders could not be read",
            (tx, set) => {
                const index = tx.objectStore(ORDERS_STORE).index(CREATED_AT_INDEX);
                set(null);
                requestResult(index.openKeyCursor()).then((cursor) =>
                    set(cursor ? cursor.key : null)
                );
            }
        );
    }

    /**
     * Deletes the given orders in one transaction; resolves once committed.
     * @param {string[]} uuids
     * @returns {Promise<number>} how many uuids were asked for
     */
    remove(uuids) {
        const list = Array.isArray(uuids) ? uuids : [uuids];
        return this._transaction(
            BOTH_STORES,
            "readwrite",
            "The orders could not be removed",
            (tx, set) => {
                const store = tx.objectStore(ORDERS_STORE);
                const summaries = tx.objectStore(SUMMARIES_STORE);
                for (const uuid of list) {
                    store.delete(uuid);
                    summaries.delete(uuid);
                }
                set(list.length);
            }
        );
    }

    /**
     * Read-modify-write of one record inside ONE transaction. `fn(record)` must be synchronous;
     * it may mutate the record it gets (a private copy) or return a new one. The uuid cannot
     * change. Resolves with the written record, or null when the uuid is not stored (then `fn`
     * is not called).
     * @param {string} uuid
     * @param {(record: object) => object|void} fn
     * @returns {Promise<object|null>}
     */
    update(uuid, fn) {
        return this.updateMany([uuid], fn).then((records) => records[0]);
    }

    /**
     * update() for several records in one transaction.
     * @param {string[]} uuids
     * @param {(record: object) => object|void} fn
     * @returns {Promise<Array<object|null>>} written records, null where missing
     */
    updateMany(uuids, fn) {
        const action = "The orders could not be updated";
        return this._transaction(BOTH_STORES, "readwrite", action, (tx, set, fail) => {
            const store = tx.objectStore(ORDERS_STORE);
            const summaries = tx.objectStore(SUMMARIES_STORE);
            const written = new Array(uuids.length).fill(null);
            set(written);
            uuids.forEach((uuid, index) => {
                const request = store.get(uuid);
                request.onsuccess = () => {
                    const current = request.result;
                    if (!current) {
                        return;
                    }
                    let next;
                    let summary;
                    try {
                        next = applyUpdate(current, fn);
                        next.is_return = isReturnOrder(next.order);
                        summary = makeSummary(next);
                    } catch (error) {
                        // Aborts the whole transaction: nothing of this update is written.
                        fail(error);
                        return;
                    }
                    store.put(next);
                    summaries.put(summary);
                    written[index] = next;
                };
            });
        });
    }

    /**
     * A value of the meta store, or `fallback`.
     * @param {string} key
     * @param {*} [fallback=null]
     */
    getMeta(key, fallback = null) {
        return this._transaction(
            META_STORE,
            "readonly",
            "The offline settings could not be read",
            (tx, set) => {
                set(fallback);
                requestResult(tx.objectStore(META_STORE).get(key)).then((value) => {
                    if (value !== undefined) {
                        set(value);
                    }
                });
            }
        );
    }

    /**
     * Writes a value of the meta store; resolves once committed.
     * @param {string} key
     * @param {*} value structured-cloneable
     */
    setMeta(key, value) {
        return this._transaction(
            META_STORE,
            "readwrite",
            "The offline settings could not be saved",
            (tx) => {
                tx.objectStore(META_STORE).put(value, key);
            }
        );
    }

    /** Closes the connection; later calls reject with a clear error. */
    close() {
        if (!this.closed) {
            this._markClosed("the offline store was closed");
            this.db.close();
        }
    }
}

function byCreatedAt(a, b) {
    if (a.created_at !== b.created_at) {
        return a.created_at < b.created_at ? -1 : 1;
    }
    return a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0;
}

function applyUpdate(current, fn) {
    const returned = fn(current);
    if (returned && typeof returned.then === "function") {
        throw new OfflineStoreError(
            "update() callbacks must be synchronous: never wait inside a store transaction."
        );
    }
    const next = returned === undefined ? current : returned;
    if (!next || next.uuid !== current.uuid) {
        throw new OfflineStoreError("update() must return the record with its uuid unchanged.");
    }
    return next;
}
