/** @odoo-module */
// Odoo's Dialog around the core's SyncDialog, opened through Odoo's dialog service.
import { Component, onMounted } from "@odoo/owl";
import { Dialog } from "@web/core/dialog/dialog";
import { SyncDialog } from "@pos_offline_sync/core/components/sync_dialog";

let nextId = 0;

/**
 * Names Odoo's modal (role="dialog" without a name) by its title, for screen readers: the
 * dialog whose content has `contentClass` gets aria-labelledby its .modal-title.
 * @param {string} contentClass
 */
export function nameHostDialog(contentClass) {
    const content = document.querySelector(`.${contentClass}`);
    const modal = content?.closest("[role=dialog]");
    const title = content?.querySelector(".modal-title");
    if (modal && title && !modal.hasAttribute("aria-labelledby")) {
        title.id ||= `o_pos_offline_modal_title_${++nextId}`;
        modal.setAttribute("aria-labelledby", title.id);
        modal.setAttribute("aria-modal", "true");
    }
}

export class OfflineSyncDialog extends Component {
    static template = "pos_offline_sync.OfflineSyncDialog";
    static components = { Dialog, SyncDialog };
    static props = {
        controller: Object,
        close: Function,
    };

    setup() {
        onMounted(() => nameHostDialog("pos-offline-sync-dialog"));
    }
}
