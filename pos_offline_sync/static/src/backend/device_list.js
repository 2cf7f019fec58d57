/** @odoo-module */
// The Offline Devices list reloads itself while it is open and visible: the registers report
// every minute and after each change, so a sync at a register shows here without a reload.
import { onMounted, onWillUnmount } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { ListController } from "@web/views/list/list_controller";
import { listView } from "@web/views/list/list_view";

export const DEVICE_LIST_REFRESH_MS = 10000;

export class OfflineDeviceListController extends ListController {
    setup() {
        super.setup();
        let timer = null;
        onMounted(() => {
            timer = setInterval(() => {
                if (document.visibilityState === "visible") {
                    this.model.load().catch(() => undefined); // the next tick tries again
                }
            }, DEVICE_LIST_REFRESH_MS);
        });
        onWillUnmount(() => clearInterval(timer));
    }
}

registry.category("views").add("pos_offline_device_list", {
    ...listView,
    Controller: OfflineDeviceListController,
});
