/** @odoo-module */
// The identity of this browser profile as a register device (issue 11): a random id made once
// and kept in IndexedDB (offline_store_schema.js: the device database), an editable name, and
// the sequence number of its reports. Every read-modify-write is one IndexedDB transaction, so
// two tabs opening at once agree on one id and never hand out the same sequence number.

import { TEXTS, fillText } from "./device_texts.js";
import {
    DEVICE_DB_VERSION,
    DEVICE_KEY,
    DEVICE_STORE,
    deviceDatabaseName,
    upgradeDevice,
} from "./offline_store_schema.js";

/** Longest device name (core/device_report.py MAX_NAME_CHARS). */
export const DEVICE_NAME_MAX = 64;

/** A random id: 32 hex digits (getRandomValues works outside secure contexts too). */
export function newDeviceId(cryptoObject = globalThis.crypto) {
    const bytes = new Uint8Array(16);
    cryptoObject.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The name as stored: trimmed, 1..DEVICE_NAME_MAX characters, no control characters.
 * Throws an Error with a message for the cashier.
 * @param {string} name
 * @returns {string}
 */
export function checkDeviceName(name) {
    // Control characters would be refused by the server: replace them with spaces.
    // eslint-disable-next-line no-control-regex
    const text = String(name ?? "").replace(/[\u0000-\u001f\u007f]/g, " ").trim();
    if (!text) {
        throw new Error(TEXTS.deviceNameEmpty);
    }
    if (text.length > DEVICE_NAME_MAX) {
        throw new Error(fillText(TEXTS.deviceNameTooLong, { max: DEVICE_NAME_MAX }));
    }
    return text;
}

/** The name a new device gets before anyone renames it. */
export function defaultDeviceName(id) {
    return fillText(TEXTS.deviceDefaultName, { short: String(id).slice(0, 6) });
}

/** The device identity of this profile. Open it with `DeviceIdentity.open()`. */
export class DeviceIdentity {
    /**
     * Opens (creating if needed) the device database and the identity record.
     * @param {{dbName: string, indexedDB?: IDBFactory, crypto?: Crypto}} options
     * @returns {Promise<DeviceIdentity>}
     */
    static async open({ dbName, indexedDB = globalThis.indexedDB, crypto = globalThis.crypto }) {
        if (!indexedDB) {
            throw new Error(fillText(TEXTS.deviceUnavailable, { reason: "no IndexedDB" }));
        }
        const db = await new Promise((resolve, reject) => {
            const request = indexedDB.open(deviceDatabaseName(dbName), DEVICE_DB_VERSION);
            request.onupgradeneeded = (event) => upgradeDevice(request.result, event.oldVersion);
            request.onsuccess = () => resolve(request.result);
            request.onerror = () => reject(request.error);
            request.onblocked = () => undefined; // waits for the older tab, as the order store
        });
        const identity = new DeviceIdentity(db);
        identity.record = await identity._change((current) => {
            if (current && typeof current.id === "string" && current.id) {
                return null; // kept as is
            }
            const id = newDeviceId(crypto);
            return { id, name: defaultDeviceName(id), created_at: new Date().toISOString(), seq: 0 };
        });
        return identity;
    }

    /** Use DeviceIdentity.open(). */
    constructor(db) {
        this.db = db;
        this.record = null;
        db.onversionchange = () => db.close();
    }

    get id() {
        return this.record?.id ?? null;
    }

    get name() {
        return this.record?.name ?? "";
    }

    /**
     * Read-modify-write of the identity record in one transaction: `fn(current)` returns the
     * record to write, or null to keep it. Resolves with the record as it now is.
     */
    _change(fn) {
        return new Promise((resolve, reject) => {
            let tx;
            try {
                tx = this.db.transaction(DEVICE_STORE, "readwrite");
            } catch (error) {
                reject(error);
                return;
            }
            const store = tx.objectStore(DEVICE_STORE);
            let result = null;
            const request = store.get(DEVICE_KEY);
            request.onsuccess = () => {
                const current = request.result ?? null;
                let next;
                try {
                    next = fn(current ? { ...current } : null);
                } catch (error) {
                    tx.abort();
                    reject(error);
                    return;
                }
                result = next || current;
                if (next) {
                    store.put(next, DEVICE_KEY);
                }
            };
            tx.oncomplete = () => resolve(result);
            tx.onabort = () => reject(tx.error || new Error("the device identity was not saved"));
        });
    }

    /**
     * Renames the device (kept in IndexedDB; reported with the next report).
     * @param {string} name
     * @returns {Promise<string>} the stored name
     */
    async rename(name) {
        const clean = checkDeviceName(name);
        this.record = await this._change((current) => ({ ...current, name: clean }));
        return this.record.name;
    }

    /**
     * The next report sequence number (1, 2, ...), unique across the profile's tabs.
     * Also re-reads the name another tab may have changed.
     * @returns {Promise<number>}
     */
    async nextSeq() {
        this.record = await this._change((current) => ({
            ...current,
            seq: (Number(current?.seq) || 0) + 1,
        }));
        return this.record.seq;
    }

    close() {
        this.db.close();
    }
}
