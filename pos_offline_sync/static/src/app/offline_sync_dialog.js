/** @odoo-module */
// Odoo's Dialog around the core's SyncDialog, opened through Odoo's dialog service.
import { Component } from "@odoo/owl";
import { Dialog } from "@web/core/dialog/dialog";
import { SyncDialog } from "@pos_offline_sync/core/components/sync_dialog";

export class OfflineSyncDialog extends Component {
    static template = "pos_offline_sync.OfflineSyncDialog";
    static components = { Dialog, SyncDialog };
    static props = {
        controller: Object,
        close: Function,
    };
}
