/** @odoo-module */
// Optional auto-sync on reconnect (issue 11): once the connection has been back for a few
// seconds, every waiting order is sent; a sync that got no answer is retried after a growing,
// jittered delay. Pure scheduling: clock, timers and randomness are injected, the sync itself is
// the `run` callback (the controller's, so cards go through the same ledger path as the dialog).

/** The connection must stay back this long before the first send (a flapping link settles). */
export const AUTO_SYNC_SETTLE_MS = 5000;

/** First retry window: the delay is drawn in its upper half, so 2 to 4 s. */
export const AUTO_SYNC_BASE_MS = 4000;

/** Largest retry window (delays 2.5 to 5 min). */
export const AUTO_SYNC_MAX_MS = 5 * 60 * 1000;

/** Window growth per failed attempt. */
export const AUTO_SYNC_FACTOR = 2;

/** Phases shown by the Sync icon. */
export const AUTO_PHASES = ["off", "idle", "waiting", "syncing", "retrying"];

/**
 * Delay before retry number `attempt` (0 for the first retry): the window grows by `factor`
 * per attempt up to `maxMs`, and the delay is drawn uniformly in its upper half. Jitter spreads
 * the registers of a shop that lost the same link; the lower half is left out so a retry never
 * comes at once (and, with factor >= 2, never earlier than the one before).
 * @param {number} attempt 0, 1, 2, ...
 * @param {{baseMs?: number, maxMs?: number, factor?: number, random?: () => number}} [options]
 * @returns {number} milliseconds, an integer in [window/2, window]
 */
export function backoffDelay(
    attempt,
    {
        baseMs = AUTO_SYNC_BASE_MS,
        maxMs = AUTO_SYNC_MAX_MS,
        factor = AUTO_SYNC_FACTOR,
        random = Math.random,
    } = {}
) {
    const n = Math.max(0, Math.min(Math.floor(Number(attempt) || 0), 60));
    const window = Math.min(maxMs, baseMs * factor ** n);
    const r = Math.min(1, Math.max(0, Number(random()) || 0));
    return Math.round(window / 2 + (r * window) / 2);
}

/**
 * When to send, given the connection and the last outcome. Drive it with `setOnline()`, and
 * `poke()` when orders may be waiting (start, capture, another tab's change).
 *
 * `run()` sends every waiting order and resolves `{ok}`: `ok: false` (or a rejection) means the
 * server gave no answer, so a retry is due; orders the server refused are not retried (the
 * cashier sees why in the dialog). `canRun()` false (the cashier's dialog or another tab is
 * syncing) puts the send off by `settleMs`. `hasWork()` says whether orders wait.
 */
export class AutoSyncScheduler {
    /**
     * @param {object} options
     * @param {() => Promise<{ok: boolean}>} options.run
     * @param {() => boolean} [options.canRun]
     * @param {() => (boolean|Promise<boolean>)} [options.hasWork]
     * @param {(snapshot: object) => void} [options.onChange] after every phase change
     */
    constructor({
        run,
        canRun = () => true,
        hasWork = () => true,
        onChange = () => undefined,
        settleMs = AUTO_SYNC_SETTLE_MS,
        baseMs = AUTO_SYNC_BASE_MS,
        maxMs = AUTO_SYNC_MAX_MS,
        factor = AUTO_SYNC_FACTOR,
        random = Math.random,
        now = () => Date.now(),
        setTimeout = globalThis.setTimeout.bind(globalThis),
        clearTimeout = globalThis.clearTimeout.bind(globalThis),
    }) {
        this.run = run;
        this.canRun = canRun;
        this.hasWork = hasWork;
        this.onChange = onChange;
        this.timing = { settleMs, baseMs, maxMs, factor, random };
        this.now = now;
        this._setTimeout = setTimeout;
        this._clearTimeout = clearTimeout;
        this.online = false;
        this.phase = "idle";
        this.attempt = 0; // failed sends in a row
        this.nextAt = null;
        this.delays = []; // the retry delays drawn since the connection came back
        this._timer = null;
        this._generation = 0; // bumped by offline/stop: an older send's outcome is ignored
        this._running = false;
        this._stopped = false;
    }

    snapshot() {
        return {
            phase: this._stopped ? "off" : this.phase,
            attempt: this.attempt,
            nextAt: this.nextAt,
            delays: [...this.delays],
        };
    }

    _set(phase, nextAt = null) {
        this.phase = phase;
        this.nextAt = nextAt;
        try {
            this.onChange(this.snapshot());
        } catch (error) {
            console.error("pos_offline_sync: auto-sync listener failed", error);
        }
    }

    _schedule(ms, phase) {
        this._clearTimeout(this._timer);
        const generation = this._generation;
        this._timer = this._setTimeout(() => {
            this._timer = null;
            if (generation === this._generation) {
                this._fire();
            }
        }, ms);
        this._set(phase, this.now() + ms);
    }

    /** The connection state: back online starts the settle wait, offline cancels everything. */
    setOnline(online) {
        if (this._stopped) {
            return;
        }
        const was = this.online;
        this.online = Boolean(online);
        if (this.online && !was) {
            this.attempt = 0;
            this.delays = [];
            this._schedule(this.timing.settleMs, "waiting");
        } else if (!this.online && was) {
            this._generation += 1;
            this._clearTimeout(this._timer);
            this._timer = null;
            this.attempt = 0;
            this._set("idle");
        }
    }

    /** Orders may be waiting: while online and idle, send after the settle wait. */
    poke() {
        if (this._stopped || !this.online || this._running || this._timer !== null) {
            return;
        }
        this._schedule(this.timing.settleMs, "waiting");
    }

    async _fire() {
        if (this._stopped || !this.online || this._running) {
            return;
        }
        if (!this.canRun()) {
            this._schedule(this.timing.settleMs, this.attempt ? "retrying" : "waiting");
            return;
        }
        const generation = this._generation;
        this._running = true;
        let ok = false;
        try {
            if (!(await this.hasWork())) {
                this._running = false;
                if (generation === this._generation && !this._stopped) {
                    this.attempt = 0;
                    this._set("idle");
                }
                return;
            }
            this._set("syncing");
            const outcome = await this.run();
            ok = Boolean(outcome && outcome.ok);
        } catch (error) {
            console.warn("pos_offline_sync: auto-sync failed", error?.message || error);
            ok = false;
        }
        this._running = false;
        if (generation !== this._generation || this._stopped) {
            return; // went offline or stopped meanwhile: the next reconnect starts afresh
        }
        if (ok) {
            this.attempt = 0;
            this._set("idle");
            return;
        }
        const delay = backoffDelay(this.attempt, this.timing);
        this.attempt += 1;
        this.delays.push(delay);
        this._schedule(delay, "retrying");
    }

    /** Stops for good (the register closes or the setting is off). */
    stop() {
        this._stopped = true;
        this._generation += 1;
        this._clearTimeout(this._timer);
        this._timer = null;
        this._set("off");
    }
}
