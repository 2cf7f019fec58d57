/** @odoo-module */
import { Component } from "@odoo/owl";

/**
 * The "Process Card" cell of one row of the sync dialog. Empty for orders paid without an
 * offline card. The card-processing behaviour (the Process button, green/red outcome) belongs to
 * the cards issue, which fills this component; the dialog only gives it the row's data.
 */
export class ProcessCardCell extends Component {
    static template = "pos_offline_sync.ProcessCardCell";
    static props = {
        order: Object,
        controller: { type: Object, optional: true },
        disabled: { type: Boolean, optional: true },
    };

    get cardPayments() {
        const payments = Array.isArray(this.props.order.payments) ? this.props.order.payments : [];
        return payments.filter((p) => p && p.card);
    }
}
