/** @odoo-module */
// Online/offline state of the register. The cashier's manual switch overrides everything. With
// auto-detect on, the browser's offline event switches to offline at once, its online event is
// confirmed by a ping, and a heartbeat (ping with a timeout) watches the server: every
// `intervalMs` while online, with exponential backoff and jitter while offline. Two consecutive
// failed pings are needed to go offline (one slow answer must not make the register flap); one
// success brings it back. Timers, clock and randomness are injected so tests drive it exactly.

/** Why the state last changed, as passed to subscribers. */
export const REASONS = {
    START: "start",
    MANUAL: "manual",
    BROWSER_OFFLINE: "browser-offline",
    BROWSER_ONLINE: "browser-online",
    PING_FAILED: "ping-failed",
    PING_OK: "ping-ok",
};

/**
 * Watches connectivity. `online` is the effective state: false while the manual switch is on or
 * while the server is detected unreachable.
 */
export class ConnectivityMonitor {
    /**
     * @param {object} options
     * @param {({signal}) => Promise<*>} [options.ping] resolves when the server answered; a
     *   rejection or a resolved `false` counts as a failure. Gets an AbortSignal that fires on
     *   timeout (pass it to fetch). Required when autoDetect is on.
     * @param {boolean} [options.autoDetect=false] detect by itself (events + heartbeat)
     * @param {number} [options.intervalMs=10000] heartbeat period while online
     * @param {number} [options.timeoutMs=3000] a ping slower than this failed
     * @param {number} [options.maxBackoffMs=60000] longest wait between pings while offline
     * @param {number} [options.failuresToOffline=2] consecutive failed pings to go offline
     * @param {number} [options.jitter=0.2] +/- fraction applied to backoff delays
     * @param {EventTarget} [options.target=window] source of `online`/`offline` events
     * @param {boolean} [options.manualOffline=false] initial manual switch (restored by the host)
     * @param {boolean} [options.initialOnline=navigator.onLine] initial detected state
     * @param {() => number} [options.now=Date.now]
     * @param {Function} [options.setTimeout] @param {Function} [options.clearTimeout]
     * @param {() => number} [options.random=Math.random]
     */
    constructor({
        ping,
        autoDetect = false,
        intervalMs = 10000,
        timeoutMs = 3000,
        maxBackoffMs = 60000,
        failuresToOffline = 2,
        jitter = 0.2,
        target = globalThis.window,
        manualOffline = false,
        initialOnline = globalThis.navigator?.onLine !== false,
        now = () => Date.now(),
        setTimeout = globalThis.setTimeout,
        clearTimeout = globalThis.clearTimeout,
        random = Math.random,
    } = {}) {
        if (autoDetect && typeof ping !== "function") {
            throw new Error("Auto-detect needs a ping function.");
        }
        this.ping = ping;
        this.autoDetect = Boolean(autoDetect);
        this.intervalMs = intervalMs;
        this.timeoutMs = timeoutMs;
        this.maxBackoffMs = maxBackoffMs;
        this.failuresToOffline = Math.max(1, failuresToOffline);
        this.jitter = jitter;
        this.target = target;
        this.now = now;
        // Call the timer functions unbound: browsers refuse window.setTimeout with another `this`.
        this._setTimeout = (fn, ms) => setTimeout(fn, ms);
        this._clearTimeout = (id) => clearTimeout(id);
        this.random = random;

        this.manualOffline = Boolean(manualOffline);
        // Without auto-detect nothing but the manual switch may take the register offline.
        this.networkOnline = this.autoDetect ? Boolean(initialOnline) : true;
        this.reason = REASONS.START;
        this.failures = 0;
        this.backoffAttempt = 0;
        this.lastChangeAt = now();
        this.lastCheckAt = null;
        this.started = false;

        this._subscribers = new Set();
        this._timer = null;
        this._generation = 0;
        this._inflight = null;
        this._onBrowserOffline = () => this._browserOffline();
        this._onBrowserOnline = () => this._browserOnline();
    }

    /** Effective state: the server is reachable and the manual switch is off. */
    get online() {
        return !this.manualOffline && this.networkOnline;
    }

    /**
     * The state as subscribers get it.
     * @returns {{online: boolean, manualOffline: boolean, networkOnline: boolean, reason: string}}
     */
    snapshot() {
        return {
            online: this.online,
            manualOffline: this.manualOffline,
            networkOnline: this.networkOnline,
            reason: this.reason,
        };
    }

    /**
     * Calls `fn(snapshot)` on every change of the state.
     * @param {(state: object) => void} fn
     * @returns {() => void} unsubscribe
     */
    subscribe(fn) {
        this._subscribers.add(fn);
        return () => this._subscribers.delete(fn);
    }

    /** Starts listening and the heartbeat (with auto-detect); idempotent. */
    start() {
        if (this.started) {
            return;
        }
        this.started = true;
        if (!this.autoDetect) {
            return;
        }
        this.target?.addEventListener?.("offline", this._onBrowserOffline);
        this.target?.addEventListener?.("online", this._onBrowserOnline);
        if (this.networkOnline) {
            // Check right away: the page may have loaded from cache with the server down.
            this.checkNow();
        } else {
            this._schedule(this._nextBackoff());
        }
    }

    /** Stops listening and every timer; answers of pings in flight are ignored. */
    stop() {
        if (!this.started) {
            return;
        }
        this.started = false;
        this._generation++;
        this._clearTimer();
        this._inflight = null;
        this.target?.removeEventListener?.("offline", this._onBrowserOffline);
        this.target?.removeEventListener?.("online", this._onBrowserOnline);
    }

    /**
     * Turns the manual offline switch on or off. Turning it off re-checks the server at once.
     * @param {boolean} value
     */
    setManualOffline(value) {
        const next = Boolean(value);
        if (next === this.manualOffline) {
            return;
        }
        this.manualOffline = next;
        this._changed(REASONS.MANUAL);
        if (!next && this.started && this.autoDetect) {
            this.checkNow();
        }
    }

    /**
     * The status icon's click: flips the manual switch.
     * @returns {boolean} the new effective `online`
     */
    toggle() {
        this.setManualOffline(!this.manualOffline);
        return this.online;
    }

    /**
     * Pings now (auto-detect only) and updates the state.
     * @returns {Promise<boolean>} whether the server answered (or `networkOnline` without
     *   auto-detect)
     */
    checkNow() {
        if (!this.started || !this.autoDetect) {
            return Promise.resolve(this.networkOnline);
        }
        if (this._inflight) {
            return this._inflight;
        }
        this._clearTimer();
        const generation = this._generation;
        this._inflight = this._pingWithTimeout().then((ok) => {
            if (generation !== this._generation) {
                return ok;
            }
            this._inflight = null;
            this.lastCheckAt = this.now();
            this._pingResult(ok);
            return ok;
        });
        return this._inflight;
    }

    _pingWithTimeout() {
        return new Promise((resolve) => {
            let settled = false;
            // Lets a fetch-based ping cancel its request on timeout instead of leaving it hanging.
            const Abort = globalThis.AbortController;
            const abort = typeof Abort === "function" ? new Abort() : null;
            const finish = (ok) => {
                if (!settled) {
                    settled = true;
                    this._clearTimeout(timer);
                    if (!ok) {
                        abort?.abort();
                    }
                    resolve(ok);
                }
            };
            const timer = this._setTimeout(() => finish(false), this.timeoutMs);
            let answer;
            try {
                answer = Promise.resolve(this.ping({ signal: abort?.signal }));
            } catch {
                answer = Promise.resolve(false);
            }
            answer.then(
                (value) => finish(value !== false),
                () => finish(false)
            );
        });
    }

    _pingResult(ok) {
        if (ok) {
            this.failures = 0;
            this.backoffAttempt = 0;
            if (!this.networkOnline) {
                this.networkOnline = true;
                this._changed(REASONS.PING_OK);
            }
            this._schedule(this.intervalMs);
            return;
        }
        this.failures++;
        if (this.networkOnline && this.failures >= this.failuresToOffline) {
            this.networkOnline = false;
            this.backoffAttempt = 0;
            this._changed(REASONS.PING_FAILED);
        }
        // Still online after one failure: confirm soon rather than a whole interval later.
        this._schedule(this.networkOnline ? this._baseBackoff() : this._nextBackoff());
    }

    _browserOffline() {
        // A ping in flight was sent before this event: its answer is older news, ignore it.
        this._generation++;
        this._inflight = null;
        this.failures = Math.max(this.failures, this.failuresToOffline);
        if (this.networkOnline) {
            this.networkOnline = false;
            this.backoffAttempt = 0;
            this._changed(REASONS.BROWSER_OFFLINE);
        }
        this._schedule(this._nextBackoff());
    }

    _browserOnline() {
        // The browser only knows it has a network: the server must answer before we trust it.
        this.reason = REASONS.BROWSER_ONLINE;
        this.backoffAttempt = 0;
        this.checkNow();
    }

    _baseBackoff() {
        return Math.max(1, Math.round(this.intervalMs / 5));
    }

    /** Next delay while offline: base * 2^attempt, capped, with +/- jitter, never above the cap. */
    _nextBackoff() {
        const raw = this._baseBackoff() * 2 ** this.backoffAttempt;
        this.backoffAttempt = Math.min(this.backoffAttempt + 1, 30);
        const capped = Math.min(raw, this.maxBackoffMs);
        const factor = 1 - this.jitter + 2 * this.jitter * this.random();
        return Math.max(1, Math.min(this.maxBackoffMs, Math.round(capped * factor)));
    }

    _schedule(delay) {
        this._clearTimer();
        if (!this.started) {
            return;
        }
        this.nextCheckDelay = delay;
        this._timer = this._setTimeout(() => {
            this._timer = null;
            this.checkNow();
        }, delay);
    }

    _clearTimer() {
        if (this._timer !== null) {
            this._clearTimeout(this._timer);
            this._timer = null;
        }
    }

    _changed(reason) {
        this.reason = reason;
        this.lastChangeAt = this.now();
        const state = this.snapshot();
        for (const fn of [...this._subscribers]) {
            try {
                fn(state);
            } catch (error) {
                // A broken subscriber must not stop the others nor the monitor.
                console.error("pos_offline_sync: connectivity subscriber failed", error);
            }
        }
    }
}
