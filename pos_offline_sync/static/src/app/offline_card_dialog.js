/** @odoo-module */
// Odoo's Dialog around the core's CardForm (payment screen, offline card methods).
import { Component, onMounted } from "@odoo/owl";
import { Dialog } from "@web/core/dialog/dialog";
import { CardForm } from "@pos_offline_sync/core/components/card_form";
import { nameHostDialog } from "./offline_sync_dialog";

export class OfflineCardDialog extends Component {
    static template = "pos_offline_sync.OfflineCardDialog";
    static components = { Dialog, CardForm };
    static props = {
        amount: Number,
        currency: { type: String, optional: true },
        vault: Object,
        limits: Object,
        controller: Object,
        getPayload: Function,
        close: Function,
    };

    setup() {
        onMounted(() => nameHostDialog("pos-offline-card-dialog"));
    }

    onConfirm(card) {
        this.props.getPayload(card);
        this.props.close();
    }
}
