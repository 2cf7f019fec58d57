/** @odoo-module */
// Tells the server what this device (browser profile) still holds for one register, so the
// back office knows which device holds which unsynced sales (issue 11): on a heartbeat while
// online, and shortly after each change (an order captured, synced, a card processed, here or
// in another tab). One tab per register reports: the holder of a Web Lock, taken over by the
// next tab when it closes; every tab reports without Web Locks (reports are idempotent and
// ordered by `seq`, so extra ones change nothing).

import { ageState, unprocessedCards } from "./risk_limits.js";
import { webLocks } from "./sync_lock.js";
import { ADDON_VERSION } from "./version.js";

/** RPC method of the device report (CONTRACTS §2). */
export const REPORT_METHOD = "offline_device_report";

/** At least one report this often while online (core/device_report.py HEARTBEAT_SECONDS). */
export const HEARTBEAT_MS = 60 * 1000;

/** A change is reported this long after it, so a burst of changes makes one report. */
export const CHANGE_DELAY_MS = 1000;

const STORAGE_STATES = new Set(["persisted", "best-effort", "unsupported", "unknown"]);
const units = (value) => Math.round(Number(value) * 1000);

/**
 * Count, total and oldest created_at of the waiting orders (light records or full ones).
 * @param {object[]} records
 * @returns {{count: number, total: number, oldest_at: string|null}}
 */
export function waitingSummary(records) {
    let count = 0;
    let total = 0;
    let oldest = null;
    for (const record of records || []) {
        const order = record?.order || record;
        if (!order) {
            continue;
        }
        count += 1;
        const amount = Number(order.amount_total);
        if (Number.isFinite(amount)) {
            total += units(amount);
        }
        const at = record.created_at || order.created_at;
        if (at && !Number.isNaN(Date.parse(at)) && (!oldest || Date.parse(at) < Date.parse(oldest))) {
            oldest = at;
        }
    }
    return { count, total: total / 1000, oldest_at: count ? oldest : null };
}

function isoOrNull(value) {
    if (!value) {
        return null;
    }
    const time = Date.parse(value);
    return Number.isNaN(time) ? null : new Date(time).toISOString();
}

function cashierOf(cashier) {
    if (!cashier || typeof cashier !== "object") {
        return null;
    }
    const id = Number.isInteger(cashier.id) && cashier.id > 0 ? cashier.id : null;
    const name = typeof cashier.name === "string" ? cashier.name.trim().slice(0, 128) : "";
    return id === null && !name ? null : { id, name: name || null };
}

/**
 * The `offline_device_report` payload (CONTRACTS §2) of one register.
 * @param {object} options
 * @param {{id: string, name: string}} options.device
 * @param {number} options.seq
 * @param {number} options.configId
 * @param {object[]} options.records the waiting orders (listPending())
 * @param {{maxAgeHours: number|null}} [options.limits] the POS's card risk limits
 * @param {string} [options.persistence] state.persistence
 * @param {{id?: number, name?: string}|null} [options.cashier]
 * @param {string} [options.version=ADDON_VERSION]
 * @param {number} [options.now=Date.now()]
 * @returns {object}
 */
export function buildReport({
    device,
    seq,
    configId,
    records,
    limits = { maxAgeHours: null },
    persistence = "unknown",
    cashier = null,
    version = ADDON_VERSION,
    now = Date.now(),
}) {
    const waiting = waitingSummary(records);
    const cards = unprocessedCards(records);
    const oldestCardAt = cards.count ? isoOrNull(cards.oldestAt) : null;
    let secondsLeft = null;
    if (oldestCardAt && limits && limits.maxAgeHours) {
        const { hoursLeft } = ageState(limits, oldestCardAt, now);
        secondsLeft = hoursLeft === null ? null : Math.round(hoursLeft * 3600);
    }
    return {
        v: 1,
        config_id: Number(configId),
        device_id: device.id,
        device_name: device.name,
        seq,
        addon_version: version,
        storage: STORAGE_STATES.has(persistence) ? persistence : "unknown",
        cashier: cashierOf(cashier),
        waiting: {
            count: waiting.count,
            total: waiting.count ? waiting.total : 0,
            oldest_at: isoOrNull(waiting.oldest_at),
        },
        cards: {
            count: cards.count,
            amount: cards.count ? cards.total : 0,
            oldest_at: oldestCardAt,
            seconds_left: secondsLeft,
        },
        at: new Date(now).toISOString(),
    };
}

/** Sends the device reports of one register. */
export class DeviceReporter {
    /**
     * @param {object} options
     * @param {import("./device_identity.js").DeviceIdentity} options.identity
     * @param {{call: Function}} options.transport
     * @param {number} options.configId
     * @param {object} options.state the controller's reactive state (online, persistence)
     * @param {() => Promise<object[]>} options.listPending the waiting orders (light records)
     * @param {object} [options.limits] limitsFromConfig() of the POS (card age limit)
     * @param {() => object|null} [options.getCashier] the cashier logged in now
     * @param {string} [options.lockName] Web Lock electing the one tab that reports
     * @param {LockManager|null} [options.locks=navigator.locks]
     */
    constructor({
        identity,
        transport,
        configId,
        state,
        listPending,
        limits = { maxAgeHours: null },
        getCashier = () => null,
        version = ADDON_VERSION,
        heartbeatMs = HEARTBEAT_MS,
        changeDelayMs = CHANGE_DELAY_MS,
        lockName = null,
        locks = webLocks(),
        setTimeout = globalThis.setTimeout.bind(globalThis),
        clearTimeout = globalThis.clearTimeout.bind(globalThis),
        now = () => Date.now(),
    }) {
        this.identity = identity;
        this.transport = transport;
        this.configId = configId;
        this.state = state;
        this.listPending = listPending;
        this.limits = limits;
        this.getCashier = getCashier;
        this.version = version;
        this.heartbeatMs = heartbeatMs;
        this.changeDelayMs = changeDelayMs;
        this.lockName = lockName;
        this.locks = lockName ? locks : null;
        this._setTimeout = setTimeout;
        this._clearTimeout = clearTimeout;
        this._now = now;
        this.leader = false;
        this.stopped = false;
        this.sent = 0; // reports answered by the server (tests, diagnostics)
        this.lastError = null;
        this._timer = null;
        this._dueAt = Infinity;
        this._running = null;
        this._again = false;
        this._abort = null;
        this._release = null;
    }

    /** Becomes the reporting tab (at once, or when the current one closes) and reports. */
    start() {
        if (!this.locks) {
            this._lead();
            return;
        }
        this._abort = new AbortController();
        this.locks
            .request(this.lockName, { signal: this._abort.signal }, () => {
                if (this.stopped) {
                    return undefined;
                }
                this._lead();
                // Held for the tab's life: released by stop(), or by the browser on close.
                return new Promise((resolve) => {
                    this._release = resolve;
                });
            })
            .catch(() => undefined); // aborted by stop()
    }

    _lead() {
        this.leader = true;
        this._schedule(0);
    }

    /** Something changed: report soon (the reporting tab only; others tell it by broadcast). */
    changed() {
        if (this.leader && !this.stopped) {
            this._schedule(this.changeDelayMs);
        }
    }

    _schedule(delay) {
        const dueAt = this._now() + delay;
        if (this._timer !== null && dueAt >= this._dueAt) {
            return;
        }
        this._clearTimeout(this._timer);
        this._dueAt = dueAt;
        this._timer = this._setTimeout(() => {
            this._timer = null;
            this._dueAt = Infinity;
            this.reportNow();
        }, delay);
    }

    /**
     * Sends one report now (after the one in flight, if any). Never rejects; while offline
     * nothing is sent. Then the next heartbeat is scheduled.
     * @returns {Promise<boolean>} whether the server took a report
     */
    reportNow() {
        if (this._running) {
            this._again = true;
            return this._running;
        }
        this._running = this._send().finally(() => {
            this._running = null;
            if (this._again && !this.stopped) {
                this._again = false;
                this._schedule(0);
            } else if (!this.stopped) {
                this._schedule(this.heartbeatMs);
            }
        });
        return this._running;
    }

    /**
     * Sends a report read after this call: the one in flight (if any) may hold what was waiting
     * before, so it is awaited and a new one sent. The session's closing is judged on it.
     * @returns {Promise<boolean>} whether the server took that report
     */
    async reportFresh() {
        if (this._running) {
            await this._running;
        }
        return await this.reportNow();
    }

    async _send() {
        if (this.stopped || this.state.online === false) {
            return false;
        }
        try {
            const records = (await this.listPending()) || [];
            const seq = await this.identity.nextSeq();
            const payload = buildReport({
                device: { id: this.identity.id, name: this.identity.name },
                seq,
                configId: this.configId,
                records,
                limits: this.limits,
                persistence: this.state.persistence,
                cashier: this._cashier(),
                version: this.version,
                now: this._now(),
            });
            await this.transport.call(REPORT_METHOD, payload);
            this.sent += 1;
            this.lastError = null;
            return true;
        } catch (error) {
            // Only bookkeeping for the back office: the next heartbeat tries again.
            this.lastError = (error && error.message) || String(error);
            console.warn("pos_offline_sync: device report not sent:", this.lastError);
            return false;
        }
    }

    _cashier() {
        try {
            return this.getCashier?.() ?? null;
        } catch {
            return null;
        }
    }

    /** Stops reporting and lets another tab take over. */
    stop() {
        this.stopped = true;
        this.leader = false;
        this._clearTimeout(this._timer);
        this._timer = null;
        this._abort?.abort();
        this._release?.();
    }
}
