/** @odoo-module */
// The reactive state the offline components read and the controller writes. One object per
// register; plain values only, so OWL re-renders whatever reads a changed key.

import { reactive } from "@odoo/owl";

/**
 * Creates the reactive offline state.
 * - `enabled`: offline mode is allowed on this POS config (icons shown, orders captured)
 * - `autoDetect`: connectivity is detected by itself
 * - `online`: effective state (false while manual offline or server unreachable)
 * - `manualOffline`: the cashier's switch
 * - `pendingCount`, `oldestPendingAt`: waiting offline orders
 * - `persistence`: "persisted" | "best-effort" | "unsupported" | "unknown"
 * - `syncing`, `progress` ({done, total}), `lastResults` (uuid -> {ok, status, reason}),
 *   `error` (last controller error message shown to the cashier, or "")
 * - `waitingForSync`: this tab's sync waits for another tab's (one sync at a time)
 * - `remoteSync`: `{phase, done, total}` of a sync running in another tab, or null
 * - `device`: `{id, name}` of this browser profile once known, or null
 * - `autoSync`: `{enabled, phase, attempt, nextAt, delays}` (auto_sync.js) when the POS syncs
 *   by itself on reconnect, else null; `autoSyncing`: the running sync is that one
 * @param {object} [initial] values overriding the defaults
 * @returns {object} an owl reactive
 */
export function createOfflineState(initial = {}) {
    return reactive({
        enabled: false,
        autoDetect: false,
        online: true,
        manualOffline: false,
        pendingCount: 0,
        oldestPendingAt: null,
        persistence: "unknown",
        syncing: false,
        progress: { done: 0, total: 0 },
        lastResults: {},
        error: "",
        waitingForSync: false,
        remoteSync: null,
        device: null,
        autoSync: null,
        autoSyncing: false,
        ...initial,
    });
}
