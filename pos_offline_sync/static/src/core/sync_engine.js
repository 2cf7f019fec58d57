/** @odoo-module */
// Sends chosen offline orders to the server in bounded batches and removes from the store only
// the orders the server confirmed (`ok: true`). Removal runs in its own transaction after the
// network answer, never inside one. A batch without an answer removes nothing: the server may or
// may not have stored it, and re-sending is always safe because the server dedupes on uuid.
//
// Batches are sized from the server's measured time per order (about TARGET_REQUEST_MS a
// request), so a slow server (Odoo with workers, which kills a request past its time limit) is
// never sent more than it can store in one request. The server may still answer "deferred" for
// the orders it had no time for (its own time budget, CONTRACTS §2): they are not refused, they
// are sent again at once, first in the next batch. Between batches, and every SLICE_MS while
// preparing, the engine yields to the event loop so the page stays responsive over 10,000 orders.

/** RPC method of the batch sync (CONTRACTS §2). */
export const SYNC_METHOD = "offline_sync_orders";

/** Largest batch the server accepts. */
export const MAX_BATCH_SIZE = 500;

/**
 * Size of the first batch, while the server's speed is not known yet. The server's time budget
 * bounds every request whatever its size (what does not fit is answered deferred, never
 * killed), so this only weighs the first request's length against the number of requests: a
 * landing of 50 in one request instead of 20 + 30 saved a fifth of its time in real Odoo
 * (README "Performance").
 */
export const DEFAULT_BATCH_SIZE = 50;

/** Round trip aimed at per request: well under any server's time limit, and frequent progress. */
export const TARGET_REQUEST_MS = 3000;

/** Status of a per-order result the server had no time for: send it again (not a refusal). */
export const DEFERRED = "deferred";

/** Batches answered with every order deferred, in a row, before the sync gives up on them. */
export const MAX_IDLE_BATCHES = 3;

/** Orders read from the store at a time before a sync. */
export const READ_CHUNK = 500;

/** Main-thread work between two yields to the event loop (a long task is one over 50 ms). */
export const SLICE_MS = 25;

/** beforeSend calls (card processing) run at once by default: the server answers each card in
 * a few hundred ms, mostly waiting on Stripe, so a few in flight divide the wait. */
export const DEFAULT_CONCURRENCY = 4;

/** Upper bound of `concurrency`: more would only queue at the server. */
export const MAX_CONCURRENCY = 16;

/**
 * A batch not answered within this is taken as no answer (nothing removed, safe to resend):
 * a production Odoo kills a request after 120 s, so a later answer never comes, and a hung
 * request must not keep the cross-tab sync lock from the other tabs for good.
 */
export const REQUEST_TIMEOUT_MS = 180 * 1000;

/** Reasons given to the cashier; stable so hosts and tests can rely on them. */
export const SYNC_REASONS = {
    NO_ANSWER: "no answer from the server; nothing was removed",
    NOT_SENT: "not sent: an earlier batch got no answer from the server",
    MISSING: "this order is no longer waiting in this browser (already synced?)",
    BAD_ANSWER: "the server's answer did not match this order; nothing was removed",
    DEFERRED: "the server had no time for this order; it is kept here, sync it again",
};

/** Error of sync() itself (as opposed to per-order results); `code` is "busy" or "input". */
export class SyncError extends Error {
    constructor(message, code) {
        super(message);
        this.name = "SyncError";
        this.code = code;
    }
}

function checkConcurrency(value) {
    if (!Number.isInteger(value) || value < 1 || value > MAX_CONCURRENCY) {
        throw new SyncError(`concurrency must be an integer from 1 to ${MAX_CONCURRENCY}.`, "input");
    }
    return value;
}

/**
 * Runs `worker(item, index)` over `items` with at most `limit` calls in flight; resolves with
 * the results in the items' order. `worker` must not reject (each result carries its error).
 */
export async function mapBounded(items, limit, worker) {
    const results = new Array(items.length);
    let next = 0;
    const lane = async () => {
        while (next < items.length) {
            const index = next++;
            results[index] = await worker(items[index], index);
        }
    };
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
    return results;
}

/** A random id (32 hex digits) naming one sync in the server's sync log. */
export function newSyncId(cryptoObject = globalThis.crypto) {
    const bytes = new Uint8Array(16);
    cryptoObject.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The next batch size from the last answered batch: as many orders as fit in `targetMs` at the
 * measured time per order, at most twice the last size (a batch of orders the server already had
 * is fast, the next one may not be), never more than the server stored when it deferred some,
 * and within 1..max.
 * @param {{size: number, sent: number, processed: number, elapsedMs: number,
 *   targetMs?: number, max?: number}} batch size: the planned size; sent: orders in the
 *   request; processed: orders with a final result (not deferred)
 * @returns {number}
 */
export function nextBatchSize({
    size,
    sent,
    processed,
    elapsedMs,
    targetMs = TARGET_REQUEST_MS,
    max = MAX_BATCH_SIZE,
}) {
    let next;
    if (processed <= 0) {
        next = Math.floor(size / 2);
    } else {
        const perOrderMs = Math.max(elapsedMs, 1) / processed;
        next = Math.min(Math.floor(targetMs / perOrderMs), size * 2);
        if (processed < sent) {
            next = Math.min(next, processed);
        }
    }
    return Math.min(max, Math.max(1, next));
}

/** Lets the browser run other tasks (input, paint) before going on. */
export function yieldToEventLoop() {
    const scheduler = globalThis.scheduler;
    if (scheduler && typeof scheduler.yield === "function") {
        return scheduler.yield();
    }
    return new Promise((resolve) => setTimeout(resolve, 0));
}

function errorText(error) {
    return (error && (error.message || String(error))) || "unknown error";
}

/**
 * Batches offline orders to the server.
 *
 * Result of each requested uuid: `{uuid, ok, status, reason}` where status is the server's
 * ("created", "exists", "error") or ours: "not_sent" (no answer, or an earlier batch had none,
 * or the server deferred it MAX_IDLE_BATCHES times in a row without storing anything),
 * "skipped" (beforeSend refused it), "missing" (not in the store). A "deferred" answer is never
 * a final result: the order is sent again in the next batch.
 *
 * One sync at a time: a second sync() while one runs in this tab is refused at once with
 * SyncError(code "busy") rather than queued, so a double click never sends a batch twice. With
 * a `lock` (SyncLock: Web Locks on the store's name) one sync at a time across the profile's
 * tabs too: a sync started while another tab holds the lock waits for it, then reads the
 * orders again, so those the other tab synced come back "missing" instead of being re-sent.
 */
export class SyncEngine {
    /**
     * @param {object} options
     * @param {object} options.store an OfflineStore (or an object with the same API)
     * @param {{call: (method: string, payload: object) => Promise<object>}} options.transport
     * @param {number} [options.batchSize=50] orders in the first request (1..500); later ones
     *   are sized from the server's time per order (see nextBatchSize) unless `adaptive` is false
     * @param {boolean} [options.adaptive=true] size the batches from the measured time
     * @param {number} [options.targetRequestMs=3000] round trip aimed at per request
     * @param {() => number} [options.now] clock in ms (tests); performance.now() by default
     * @param {() => Promise<void>} [options.yieldToLoop] lets the page breathe (tests count it)
     * @param {number|null} [options.configId] sent as `config_id`; defaults to the orders' own
     * @param {(record: object) => Promise<object|void>} [options.beforeSend] runs per order
     *   before it is sent (card processing); may return an updated order (saved to the store
     *   before sending) or throw to skip that order with the error's message as the reason
     * @param {number} [options.concurrency=4] beforeSend calls in flight at most (1 = one order
     *   at a time); never two for the same order
     * @param {{run: Function}|null} [options.lock] a SyncLock shared by the profile's tabs
     * @param {() => object} [options.describeSync] `{device_id, cashier}` sent with each batch
     *   as `sync` (with the sync's id), for the server's sync log
     * @param {number} [options.requestTimeoutMs=REQUEST_TIMEOUT_MS] no answer after this: the
     *   batch counts as not answered
     */
    constructor({
        store,
        transport,
        batchSize = DEFAULT_BATCH_SIZE,
        configId = null,
        beforeSend = null,
        concurrency = DEFAULT_CONCURRENCY,
        lock = null,
        describeSync = null,
        requestTimeoutMs = REQUEST_TIMEOUT_MS,
        adaptive = true,
        targetRequestMs = TARGET_REQUEST_MS,
        now = () => globalThis.performance.now(),
        yieldToLoop = yieldToEventLoop,
    } = {}) {
        if (!store || !transport || typeof transport.call !== "function") {
            throw new Error("SyncEngine needs a store and a transport with call(method, payload).");
        }
        if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
            throw new Error(`batchSize must be an integer from 1 to ${MAX_BATCH_SIZE}.`);
        }
        this.store = store;
        this.transport = transport;
        // The size of the next request; kept across syncs (what was learned of the server).
        this.batchSize = batchSize;
        this.adaptive = adaptive;
        this.targetRequestMs = targetRequestMs;
        this.now = now;
        this.yieldToLoop = yieldToLoop;
        // Orders per request of the last sync, in order (for the bench and the tests).
        this.lastBatchSizes = [];
        this.configId = configId;
        this.beforeSend = beforeSend;
        this.concurrency = checkConcurrency(concurrency);
        this.lock = lock;
        this.describeSync = describeSync;
        this.requestTimeoutMs = requestTimeoutMs;
        this.syncMeta = null; // the `sync` object of the running sync's batches
        this.running = false;
    }

    /**
     * Syncs the given orders.
     *
     * Progress: `{phase: "cards", done, total}` while beforeSend runs (total = orders found),
     * then `{phase: "send", done, total}` (total = orders asked for; done counts those with a
     * result).
     * @param {string[]} uuids the checked orders
     * @param {{onProgress?: (p: {phase: string, done: number, total: number}) => void,
     *   concurrency?: number, onWait?: () => void, signal?: AbortSignal}} [options]
     *   concurrency overrides the engine's for this sync; onWait is called when another tab
     *   holds the lock (this sync then waits for it, until `signal` aborts or the lock's
     *   timeout: then it rejects with a LockWaitError and sends nothing)
     * @returns {Promise<Array<{uuid: string, ok: boolean, status: string, reason: string}>>}
     *   one result per requested uuid, in the requested order
     */
    async sync(uuids, { onProgress, concurrency, onWait, signal } = {}) {
        if (!Array.isArray(uuids)) {
            throw new SyncError("sync() needs the list of order uuids to send.", "input");
        }
        const lanes = concurrency === undefined ? this.concurrency : checkConcurrency(concurrency);
        if (this.running) {
            throw new SyncError("A sync is already running; wait for it to finish.", "busy");
        }
        this.running = true;
        try {
            // Unique uuids: the same order is never prepared (charged) twice at once.
            const run = () => {
                this.syncMeta = this._describe();
                return this._run([...new Set(uuids)], onProgress, lanes);
            };
            return await (this.lock ? this.lock.run(run, { onWait, signal }) : run());
        } finally {
            this.running = false;
            this.syncMeta = null;
        }
    }

    _describe() {
        if (!this.describeSync) {
            return null;
        }
        let extra = {};
        try {
            extra = this.describeSync() || {};
        } catch (error) {
            console.error("pos_offline_sync: describeSync failed", error);
        }
        return { id: newSyncId(), ...extra };
    }

    /** An async pause that yields to the event loop once SLICE_MS of work ran since the last. */
    _slicer() {
        let since = this.now();
        return async () => {
            if (this.now() - since >= SLICE_MS) {
                await this.yieldToLoop();
                since = this.now();
            }
        };
    }

    async _run(uuids, onProgress, lanes) {
        const total = uuids.length;
        this.lastBatchSizes = [];
        const pause = this._slicer();
        const results = new Map();
        let done = 0;
        const report = (progress) => {
            try {
                onProgress?.(progress);
            } catch (error) {
                console.error("pos_offline_sync: onProgress failed", error);
            }
        };
        const progress = () => report({ phase: "send", done, total });
        progress();

        const records = [];
        for (let start = 0; start < uuids.length; start += READ_CHUNK) {
            // Bounded reads: 10,000 gets issued at once were one 250 ms task.
            records.push(...(await this.store.getMany(uuids.slice(start, start + READ_CHUNK))));
            await pause();
        }
        const found = [];
        for (let i = 0; i < uuids.length; i++) {
            const record = records[i];
            if (record) {
                found.push(record);
                continue;
            }
            results.set(uuids[i], {
                uuid: uuids[i],
                ok: false,
                status: "missing",
                reason: SYNC_REASONS.MISSING,
            });
            done++;
        }
        let ready = found;
        if (this.beforeSend && found.length) {
            ready = [];
            const skipped = [];
            let prepared = 0;
            report({ phase: "cards", done: 0, total: found.length });
            const outcomes = await mapBounded(found, lanes, async (record) => {
                const outcome = await this._prepare(record);
                prepared++;
                report({ phase: "cards", done: prepared, total: found.length });
                // Cash orders resolve at once: without this, 10,000 are one long task.
                await pause();
                return outcome;
            });
            // Kept in the requested order, whatever order the calls finished in.
            outcomes.forEach((outcome, index) => {
                const uuid = found[index].uuid;
                if (outcome.error) {
                    const result = { uuid, ok: false, status: "skipped", reason: outcome.error };
                    results.set(uuid, result);
                    skipped.push(result);
                    done++;
                } else {
                    ready.push(outcome.record);
                }
            });
            if (skipped.length) {
                await this._remember(skipped);
            }
        }
        progress();

        const queue = ready.slice();
        let stopped = false;
        let idle = 0; // batches in a row of which the server stored nothing
        const notSent = (records, reason) => {
            const out = records.map((record) => ({
                uuid: record.uuid,
                ok: false,
                status: "not_sent",
                reason,
            }));
            for (const result of out) {
                results.set(result.uuid, result);
            }
            done += records.length;
            return out;
        };
        while (queue.length) {
            if (stopped) {
                notSent(queue.splice(0), SYNC_REASONS.NOT_SENT);
                break;
            }
            const size = this.batchSize;
            const batch = queue.splice(0, size);
            this.lastBatchSizes.push(batch.length);
            const start = this.now();
            const batchResults = await this._sendBatch(batch);
            // The server's own time when it says (its wait for another register's sync is
            // not what this batch's size should follow), else the request's.
            const wallMs = this.now() - start;
            const storeMs = this._lastStoreMs;
            const elapsedMs =
                Number.isFinite(storeMs) && storeMs >= 0 ? Math.min(storeMs, wallMs) : wallMs;
            const deferred = [];
            batchResults.forEach((result, index) => {
                if (result.status === DEFERRED) {
                    deferred.push(batch[index]);
                } else {
                    results.set(result.uuid, result);
                    done++;
                }
            });
            // No answer: the network is gone; later batches would only time out too.
            stopped = batchResults.some((result) => result.status === "not_sent");
            if (!stopped && this.adaptive) {
                const processed = batch.length - deferred.length;
                this.batchSize = nextBatchSize({
                    size,
                    sent: batch.length,
                    processed,
                    elapsedMs,
                    targetMs: this.targetRequestMs,
                });
            }
            idle = deferred.length && deferred.length === batch.length ? idle + 1 : 0;
            if (idle >= MAX_IDLE_BATCHES) {
                // A server that stores nothing would be asked forever: keep them all for later.
                await this._remember(notSent(deferred, SYNC_REASONS.DEFERRED));
                await this._remember(notSent(queue.splice(0), SYNC_REASONS.DEFERRED));
            } else {
                // First in the next request, in their order: the server stores in order.
                queue.unshift(...deferred);
            }
            progress();
            if (queue.length) {
                await this.yieldToLoop();
            }
        }
        return uuids.map((uuid) => results.get(uuid));
    }

    /** beforeSend of one order, never rejecting: `{record}` to send or `{error}` to skip. */
    async _prepare(record) {
        let returned;
        try {
            returned = await this.beforeSend(record);
        } catch (error) {
            return { error: errorText(error) };
        }
        if (!returned || returned === record.order) {
            return { record };
        }
        if (typeof returned !== "object" || returned.uuid !== record.uuid) {
            return { error: "the order prepared for sending lost its uuid" };
        }
        // Save it first: if the answer is lost, the next attempt starts from this version.
        try {
            const saved = await this.store.update(record.uuid, (current) => {
                current.order = returned;
            });
            return { record: saved || { ...record, order: returned } };
        } catch (error) {
            return { error: errorText(error) };
        }
    }

    async _sendBatch(batch) {
        const orders = batch.map((record) => record.order);
        const payload = {
            v: 1,
            config_id: this.configId ?? orders[0]?.config_id ?? null,
            orders,
        };
        if (this.syncMeta) {
            payload.sync = this.syncMeta;
        }
        let answer;
        this._lastStoreMs = null;
        try {
            answer = await this._call(payload);
            this._lastStoreMs = typeof answer?.store_ms === "number" ? answer.store_ms : null;
        } catch {
            const results = batch.map((record) => ({
                uuid: record.uuid,
                ok: false,
                status: "not_sent",
                reason: SYNC_REASONS.NO_ANSWER,
            }));
            await this._remember(results);
            return results;
        }
        const serverResults = Array.isArray(answer?.results) ? answer.results : [];
        const results = batch.map((record, index) => {
            const server = serverResults[index];
            // Match by position; a uuid that disagrees means the answer cannot be trusted.
            if (!server || typeof server !== "object" || (server.uuid ?? null) !== record.uuid) {
                return {
                    uuid: record.uuid,
                    ok: false,
                    status: "error",
                    reason: SYNC_REASONS.BAD_ANSWER,
                };
            }
            if (server.ok === true) {
                return {
                    uuid: record.uuid,
                    ok: true,
                    status: server.status || "created",
                    reason: "",
                    reference: server.reference,
                    paid: server.paid,
                    // Its session was closed: the server put it in the register's rescue session.
                    rescueSession: server.rescue_session || null,
                };
            }
            return {
                uuid: record.uuid,
                ok: false,
                status: server.status || "error",
                reason: server.reason || "the server refused this order without a reason",
            };
        });
        const confirmed = results.filter((result) => result.ok).map((result) => result.uuid);
        if (confirmed.length) {
            try {
                await this.store.remove(confirmed);
            } catch (error) {
                // The server has them; they stay here and a re-send is harmless.
                for (const result of results) {
                    if (result.ok) {
                        result.reason = `synced, but still listed here: ${errorText(error)}`;
                    }
                }
            }
        }
        // A deferred order was not refused: nothing to note beside it, it is sent again now.
        await this._remember(results.filter((result) => !result.ok && result.status !== DEFERRED));
        return results;
    }

    /** The transport call, rejected when not answered within requestTimeoutMs. */
    _call(payload) {
        let timer = null;
        const timeout = new Promise((resolve, reject) => {
            timer = setTimeout(
                () => reject(new Error("no answer in time")),
                this.requestTimeoutMs
            );
        });
        return Promise.race([this.transport.call(SYNC_METHOD, payload), timeout]).finally(() =>
            clearTimeout(timer)
        );
    }

    /** Stores the failure reason beside each failed order (one transaction). */
    async _remember(failed) {
        if (!failed.length) {
            return;
        }
        const byUuid = new Map(failed.map((result) => [result.uuid, result]));
        const at = new Date().toISOString();
        try {
            await this.store.updateMany([...byUuid.keys()], (record) => {
                const result = byUuid.get(record.uuid);
                record.last_result = {
                    ok: false,
                    status: result.status,
                    reason: result.reason,
                    at,
                };
            });
        } catch (error) {
            // Only bookkeeping: the order itself is untouched, the caller still gets the reason.
            console.error("pos_offline_sync: could not record the sync result", error);
        }
    }
}
