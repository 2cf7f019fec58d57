/** @odoo-module */
// Every user-facing text of "one sync at a time across tabs" and of the device reports, in one
// place: when the core takes a translate function, only this module has to wrap them.
// Placeholders are `{name}`, filled by fillText().

export const TEXTS = {
    // sync_lock.js / offline_controller.js
    waitTimedOut:
        "Another window of this register is still syncing. Its orders leave this list once it " +
        "is done; press Sync again to send what is left.",
    waitCancelled: "Stopped waiting for the other window: nothing was sent from this one.",
    // sync_dialog.xml / sync_dialog.js
    remoteSyncing: "Syncing in another window…",
    remoteCards: "Processing cards in another window…",
    waitingForOther: "Waiting for the other window to finish, then this one sends what is left.",
    stopWaiting: "Stop waiting",
    syncedElsewhere: "No longer waiting here (synced from another window)",
    syncedCount: "{count} orders synced",
    syncedOne: "1 order synced",
    refusedCount: ", {count} refused (see the reason on each row).",
    elsewhereCount: " {count} already synced from another window.",
    // device_reporter.js / components/device_name.js
    deviceLabel: "This device",
    deviceRename: "Rename",
    deviceSave: "Save",
    deviceCancel: "Cancel",
    deviceNameHelp: "A name the back office shows for this browser (at most {max} characters).",
    deviceNameEmpty: "The device name cannot be empty.",
    deviceNameTooLong: "The device name is at most {max} characters.",
    deviceDefaultName: "Register {short}",
    deviceUnavailable: "This browser cannot keep a device identity: {reason}",
    deviceNone: "This browser keeps no device identity.",
};

/**
 * The text with each `{name}` replaced by `values[name]`.
 * @param {string} template
 * @param {object} [values]
 * @returns {string}
 */
export function fillText(template, values = {}) {
    return String(template).replace(/\{(\w+)\}/g, (match, key) =>
        Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : match
    );
}
