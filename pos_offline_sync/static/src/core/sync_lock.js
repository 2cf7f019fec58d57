/** @odoo-module */
// One sync at a time across the tabs and windows of one browser profile, with the Web Locks API
// (navigator.locks), on the offline store's name: the tabs of one register share the lock, two
// registers (two stores) never wait for each other. The browser releases a lock when the tab
// holding it closes or crashes, so a killed tab never blocks the others; a waiting tab gives up
// after `waitMs` (or when its signal aborts): nothing waits forever.
//
// Without Web Locks (an old browser, or a page not in a secure context: plain http on another
// host than localhost) each tab syncs on its own, as before; the server dedupes on uuid.

import { TEXTS } from "./device_texts.js";

/** Longest wait for another window's sync before giving up (it goes on; nothing is lost). */
export const DEFAULT_LOCK_WAIT_MS = 10 * 60 * 1000;

/** sync() gave up waiting for the other window (timed out or stopped by the cashier). */
export class LockWaitError extends Error {
    constructor(message) {
        super(message);
        this.name = "LockWaitError";
        this.code = "busy";
    }
}

const NOT_GRANTED = Symbol("not granted");

/**
 * The browser's LockManager, or null when there is none.
 * @param {Navigator} [nav=globalThis.navigator]
 * @returns {LockManager|null}
 */
export function webLocks(nav = globalThis.navigator) {
    const locks = nav && nav.locks;
    return locks && typeof locks.request === "function" ? locks : null;
}

/** An exclusive Web Lock around a sync. */
export class SyncLock {
    /**
     * @param {object} options
     * @param {string} options.name the lock's name (the offline store's name)
     * @param {LockManager|null} [options.locks=navigator.locks] null: no cross-tab lock
     * @param {number} [options.waitMs=DEFAULT_LOCK_WAIT_MS]
     */
    constructor({
        name,
        locks = webLocks(),
        waitMs = DEFAULT_LOCK_WAIT_MS,
        setTimeout = globalThis.setTimeout.bind(globalThis),
        clearTimeout = globalThis.clearTimeout.bind(globalThis),
    }) {
        if (!name) {
            throw new Error("SyncLock needs a name.");
        }
        this.name = name;
        this.locks = locks;
        this.waitMs = waitMs;
        this._setTimeout = setTimeout;
        this._clearTimeout = clearTimeout;
    }

    /** True when tabs really exclude each other (Web Locks available). */
    get supported() {
        return Boolean(this.locks);
    }

    /**
     * Runs `fn` holding the lock. Taken at once when free; otherwise `onWait()` is called and
     * this waits (at most waitMs, or until `signal` aborts: then LockWaitError).
     * @param {() => Promise<*>} fn
     * @param {{onWait?: () => void, signal?: AbortSignal}} [options]
     * @returns {Promise<*>} what fn resolved with
     */
    async run(fn, { onWait, signal } = {}) {
        if (!this.locks) {
            return fn();
        }
        if (signal?.aborted) {
            throw new LockWaitError(TEXTS.waitCancelled);
        }
        const first = await this.locks.request(this.name, { ifAvailable: true }, (lock) =>
            lock ? fn() : NOT_GRANTED
        );
        if (first !== NOT_GRANTED) {
            return first;
        }
        try {
            onWait?.();
        } catch (error) {
            console.error("pos_offline_sync: onWait failed", error);
        }
        const abort = new AbortController();
        let granted = false;
        let why = TEXTS.waitTimedOut;
        const timer = this._setTimeout(() => abort.abort(), this.waitMs);
        const onAbort = () => {
            why = TEXTS.waitCancelled;
            abort.abort();
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        try {
            return await this.locks.request(this.name, { signal: abort.signal }, () => {
                granted = true;
                this._clearTimeout(timer);
                signal?.removeEventListener("abort", onAbort);
                return fn();
            });
        } catch (error) {
            if (!granted && abort.signal.aborted) {
                throw new LockWaitError(why);
            }
            throw error;
        } finally {
            this._clearTimeout(timer);
            signal?.removeEventListener("abort", onAbort);
        }
    }

    /**
     * Resolves once no tab holds the lock (a shared request granted after the holder let go,
     * by finishing, closing or crashing); at once without Web Locks. Rejects on `signal`.
     * @param {{signal?: AbortSignal}} [options]
     * @returns {Promise<void>}
     */
    async whenFree({ signal } = {}) {
        if (!this.locks) {
            return;
        }
        await this.locks.request(this.name, { mode: "shared", signal }, () => undefined);
    }

    /**
     * True when some tab holds the lock now.
     * @returns {Promise<boolean>}
     */
    async isHeld() {
        if (!this.locks || typeof this.locks.query !== "function") {
            return false;
        }
        const snapshot = await this.locks.query();
        return (snapshot.held || []).some((lock) => lock.name === this.name);
    }
}
