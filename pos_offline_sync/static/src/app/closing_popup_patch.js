/** @odoo-module */
// Closing the session while devices report waiting offline orders (pos.session
// _cannot_close_session): Odoo's error dialog offers "Cancel Orders", which would delete this
// register's open orders and try again. Show the devices and counts with a plain OK instead;
// closing anyway is a POS manager's action in the back office, with a reason.
import { patch } from "@web/core/utils/patch";
import { AlertDialog } from "@web/core/confirmation_dialog/confirmation_dialog";
import { ClosePosPopup } from "@point_of_sale/app/components/popups/closing_popup/closing_popup";

patch(ClosePosPopup.prototype, {
    async closeSession() {
        // The server refuses to close while a device reports waiting orders: this register's
        // last report may predate its sync (reports follow changes a moment later).
        await this.pos.offlineSync?.reporter?.reportFresh();
        return await super.closeSession(...arguments);
    },

    async handleClosingError(response) {
        if (!response?.pos_offline_devices) {
            return await super.handleClosingError(...arguments);
        }
        this.dialog.add(AlertDialog, { title: response.title, body: response.message });
    },
});
