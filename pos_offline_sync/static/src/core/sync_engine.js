/** @odoo-module */
// Sends chosen offline orders to the server in bounded batches and removes from the store only
// the orders the server confirmed (`ok: true`). Removal runs in its own transaction after the
// network answer, never inside one. A batch without an answer removes nothing: the server may or
// may not have stored it, and re-sending is always safe because the server dedupes on uuid.

/** RPC method of the batch sync (CONTRACTS §2). */
export const SYNC_METHOD = "offline_sync_orders";

/** Largest batch the server accepts. */
export const MAX_BATCH_SIZE = 500;

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

function errorText(error) {
    return (error && (error.message || String(error))) || "unknown error";
}

/**
 * Batches offline orders to the server.
 *
 * Result of each requested uuid: `{uuid, ok, status, reason}` where status is the server's
 * ("created", "exists", "error") or ours: "not_sent" (no answer, or an earlier batch had none),
 * "skipped" (beforeSend refused it), "missing" (not in the store).
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
     * @param {number} [options.batchSize=100] orders per request (1..500)
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
        batchSize = 100,
        configId = null,
        beforeSend = null,
        concurrency = DEFAULT_CONCURRENCY,
        lock = null,
        describeSync = null,
        requestTimeoutMs = REQUEST_TIMEOUT_MS,
    } = {}) {
        if (!store || !transport || typeof transport.call !== "function") {
            throw new Error("SyncEngine needs a store and a transport with call(method, payload).");
        }
        if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
            throw new Error(`batchSize must be an integer from 1 to ${MAX_BATCH_SIZE}.`);
        }
        this.store = store;
        this.transport = transport;
        this.batchSize = batchSize;
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

    async _run(uuids, onProgress, lanes) {
        const total = uuids.length;
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

        const records = await this.store.getMany(uuids);
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

        let stopped = false;
        for (let start = 0; start < ready.length; start += this.batchSize) {
            const batch = ready.slice(start, start + this.batchSize);
            if (stopped) {
                for (const record of batch) {
                    results.set(record.uuid, {
                        uuid: record.uuid,
                        ok: false,
                        status: "not_sent",
                        reason: SYNC_REASONS.NOT_SENT,
                    });
                }
            } else {
                const batchResults = await this._sendBatch(batch);
                for (const result of batchResults) {
                    results.set(result.uuid, result);
                }
                // No answer: the network is gone; later batches would only time out too.
                stopped = batchResults.some((result) => result.status === "not_sent");
            }
            done += batch.length;
            progress();
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
        try {
            answer = await this._call(payload);
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
        await this._remember(results.filter((result) => !result.ok));
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
