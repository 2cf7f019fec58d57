/** @odoo-module */
// Charge New Card told that a card is being charged for its order elsewhere (the register,
// another manager's window): this field follows that charge and shows the result by itself,
// without the manager clicking again. Once the order is paid the wizard closes with a notice;
// once the other charge ended unpaid, the wizard is ready again with its card still sealed.
import { Component, onWillStart, onWillUnmount } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { standardFieldProps } from "@web/views/fields/standard_field_props";

const POLL_MS = 2000;
const MAX_POLLS = 90; // three minutes, longer than a charge's lease

export class OfflineChargeFollowField extends Component {
    static template = "pos_offline_sync.OfflineChargeFollowField";
    static props = { ...standardFieldProps };

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.notification = useService("notification");
        this.polls = 0;
        this.timer = null;
        onWillStart(() => this.schedule());
        onWillUnmount(() => clearTimeout(this.timer));
    }

    schedule() {
        if (this.props.record.data.state === "pending" && this.polls < MAX_POLLS) {
            this.timer = setTimeout(() => this.poll(), POLL_MS);
        }
    }

    async poll() {
        this.polls++;
        const status = await this.orm.call("pos.offline.charge.card", "offline_charge_status", [
            [this.props.record.resId],
        ]);
        if (status.paid) {
            this.notification.add(_t("The order was paid by the other charge: no card was charged here."), {
                type: "success",
            });
            await this.action.doAction({ type: "ir.actions.act_window_close" });
            return;
        }
        if (!status.charging) {
            await this.props.record.load();
            return;
        }
        this.schedule();
    }
}

registry.category("fields").add("pos_offline_charge_follow", {
    component: OfflineChargeFollowField,
    supportedTypes: ["char"],
});
