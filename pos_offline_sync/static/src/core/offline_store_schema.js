/** @odoo-module */
// The IndexedDB schema of the offline store, in one place: name, version, object stores and the
// upgrade steps. Bump DB_VERSION and add a step to upgrade() for every change; never edit a
// past step, browsers in the field still run it.

/** Prefix of every offline-store database name. */
export const DB_PREFIX = "pos_offline_sync";

/** Current schema version. */
export const DB_VERSION = 1;

/** Object store of the offline orders: records `{uuid, order, created_at, is_return, last_result}`. */
export const ORDERS_STORE = "orders";

/** Index on `created_at` (ISO strings sort chronologically). */
export const CREATED_AT_INDEX = "created_at";

/**
 * Light copies of the records (`{uuid, created_at, is_return, last_result, order: lightOrder}`),
 * written in the same transaction as the orders: listing 10,000 orders reads these, not the
 * full orders.
 */
export const SUMMARIES_STORE = "summaries";

/** Small key/value store for settings kept beside the orders (e.g. the manual offline switch). */
export const META_STORE = "meta";

/**
 * Name of the database for one Odoo database and one POS config, so two registers (or two Odoo
 * databases on one host) never share orders.
 * @param {string} dbName Odoo database name (or the sandbox's name)
 * @param {number|string} configId POS config id
 * @returns {string}
 */
export function databaseName(dbName, configId) {
    if (dbName === undefined || dbName === null || dbName === "") {
        throw new Error("The offline store needs the database name.");
    }
    if (configId === undefined || configId === null || configId === "") {
        throw new Error("The offline store needs the POS config id.");
    }
    return `${DB_PREFIX}-${dbName}-${configId}`;
}

/**
 * The device identity of this browser profile (issue 11) lives in a database of its own, one
 * per Odoo database and shared by every register the profile runs, beside the registers'
 * order databases (same origin, same persistence): `pos_offline_sync-<dbName>-device`.
 * A register database is per POS config, so the identity cannot live in one of them.
 */
export const DEVICE_DB_VERSION = 1;

/** Object store of the device database: one record under DEVICE_KEY. */
export const DEVICE_STORE = "device";

/** Key of the identity record `{id, name, created_at, seq}`. */
export const DEVICE_KEY = "self";

/**
 * Name of the device database of one Odoo database.
 * @param {string} dbName
 * @returns {string}
 */
export function deviceDatabaseName(dbName) {
    if (dbName === undefined || dbName === null || dbName === "") {
        throw new Error("The device identity needs the database name.");
    }
    return `${DB_PREFIX}-${dbName}-device`;
}

/**
 * Creates or migrates the device database; called from its `onupgradeneeded`. Same rule as
 * upgrade(): bump DEVICE_DB_VERSION and add a step, never edit a past one.
 * @param {IDBDatabase} db
 * @param {number} oldVersion
 */
export function upgradeDevice(db, oldVersion) {
    if (oldVersion < 1) {
        db.createObjectStore(DEVICE_STORE);
    }
}

/**
 * Creates or migrates the object stores; called from `onupgradeneeded`.
 * @param {IDBDatabase} db
 * @param {number} oldVersion 0 for a new database
 */
export function upgrade(db, oldVersion) {
    if (oldVersion < 1) {
        const orders = db.createObjectStore(ORDERS_STORE, { keyPath: "uuid" });
        orders.createIndex(CREATED_AT_INDEX, "created_at", { unique: false });
        const summaries = db.createObjectStore(SUMMARIES_STORE, { keyPath: "uuid" });
        summaries.createIndex(CREATED_AT_INDEX, "created_at", { unique: false });
        db.createObjectStore(META_STORE);
    }
}
