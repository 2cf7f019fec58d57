/** @odoo-module */
import { _t } from "./i18n.js";

// Every user-facing text of "one sync at a time across tabs" and of the device reports, in one
// place. Getters: each text is translated when it is read, after the host has given its
// translate function (module evaluation comes first). Placeholders are `{name}`, filled by
// fillText().
export const TEXTS = {
    // sync_lock.js / offline_controller.js
    get waitTimedOut() {
        return _t(
            "Another window of this register is still syncing. Its orders leave this list " +
                "once it is done; press Sync again to send what is left."
        );
    },
    get waitCancelled() {
        return _t("Stopped waiting for the other window: nothing was sent from this one.");
    },
    // sync_dialog.xml / sync_dialog.js
    get remoteSyncing() {
        return _t("Syncing in another window…");
    },
    get remoteCards() {
        return _t("Processing cards in another window…");
    },
    get waitingForOther() {
        return _t("Waiting for the other window to finish, then this one sends what is left.");
    },
    get stopWaiting() {
        return _t("Stop waiting");
    },
    get syncedElsewhere() {
        return _t("No longer waiting here (synced from another window)");
    },
    get syncedCount() {
        return _t("{count} orders synced");
    },
    get syncedOne() {
        return _t("1 order synced");
    },
    get refusedCount() {
        return _t(", {count} refused (see the reason on each row).");
    },
    get elsewhereCount() {
        return _t(" {count} already synced from another window.");
    },
    // device_reporter.js / components/device_name.js
    get deviceLabel() {
        return _t("This device");
    },
    get deviceRename() {
        return _t("Rename");
    },
    get deviceSave() {
        return _t("Save");
    },
    get deviceCancel() {
        return _t("Cancel");
    },
    get deviceNameHelp() {
        return _t("A name the back office shows for this browser (at most {max} characters).");
    },
    get deviceNameEmpty() {
        return _t("The device name cannot be empty.");
    },
    get deviceNameTooLong() {
        return _t("The device name is at most {max} characters.");
    },
    get deviceDefaultName() {
        return _t("Register {short}");
    },
    get deviceUnavailable() {
        return _t("This browser cannot keep a device identity: {reason}");
    },
    get deviceNone() {
        return _t("This browser keeps no device identity.");
    },
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
