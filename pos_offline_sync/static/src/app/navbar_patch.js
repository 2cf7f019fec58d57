/** @odoo-module */
// Adds the "Online/Offline", readiness and "Sync to Server" icons next to Odoo's own status in
// the navbar.
import { patch } from "@web/core/utils/patch";
import { Navbar } from "@point_of_sale/app/components/navbar/navbar";
import { OfflineStatusButton } from "@pos_offline_sync/core/components/offline_status_button";
import { SyncButton } from "@pos_offline_sync/core/components/sync_button";
import { ReadinessButton } from "@pos_offline_sync/core/components/readiness_button";
import { OfflineSyncDialog } from "./offline_sync_dialog";

patch(Navbar, {
    components: { ...Navbar.components, OfflineStatusButton, ReadinessButton, SyncButton },
});

patch(Navbar.prototype, {
    get offlineSync() {
        return this.pos.offlineSync;
    },
    onOfflineToggle() {
        this.pos.offlineSync.toggleManualOffline();
    },
    openOfflineSyncDialog() {
        this.dialog.add(OfflineSyncDialog, { controller: this.pos.offlineSync });
    },
});
