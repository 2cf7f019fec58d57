/** @odoo-module */
// Reads the shared offline state (offline_state.js) the same way in every component, so that the
// icons and the dialog can never disagree about whether the POS is offline.

/**
 * True when the register must work offline. `online` is the effective state (offline_state.js);
 * the manual switch is checked too so the icon turns red at once on a click.
 */
export function isOffline(state) {
    if (!state) {
        return false;
    }
    return state.online === false || state.manualOffline === true;
}

/** Number of offline orders waiting, never negative or NaN. */
export function pendingCount(state) {
    const n = Number(state && state.pendingCount);
    return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}
