/** @odoo-module */
import { Component, useState } from "@odoo/owl";
import { cardProcessorOf } from "../card_processing.js";

const LABELS = {
    succeeded: "Approved",
    failed: "Declined",
};

/**
 * The "Process Card" cell of one row of the sync dialog (the help page's Process button): one
 * button per offline card payment; green once charged, red with the reason when declined
 * ("contact the customer"), ready again after retryable trouble. Empty for other orders.
 */
export class ProcessCardCell extends Component {
    static template = "pos_offline_sync.ProcessCardCell";
    static props = {
        order: Object,
        controller: { type: Object, optional: true },
        disabled: { type: Boolean, optional: true },
    };

    setup() {
        this.processor = cardProcessorOf(this.props.controller);
        this.outcomes = useState(this.processor ? this.processor.outcomes : {});
    }

    get cards() {
        const payments = Array.isArray(this.props.order.payments) ? this.props.order.payments : [];
        return payments
            .filter((p) => p && p.card)
            .map((p) => {
                const live = this.outcomes[p.uuid] || {};
                const final = ["succeeded", "failed"].includes(live.status);
                const status = final ? live.status : p.card.status;
                const done = status === "succeeded" || status === "failed";
                return {
                    uuid: p.uuid,
                    brand: p.card.brand,
                    last4: p.card.last4,
                    status,
                    busy: Boolean(live.busy),
                    done,
                    label: live.busy ? "Processing…" : LABELS[status] || "Process",
                    message: live.message ?? p.card.message ?? "",
                    style: done
                        ? status === "succeeded"
                            ? "background:#198754;color:#fff;border-color:#146c43"
                            : "background:#d9342b;color:#fff;border-color:#b8261e"
                        : "",
                };
            });
    }

    process(card) {
        if (!this.processor || card.done || card.busy || this.props.disabled) {
            return;
        }
        this.processor.processPayment(this.props.order.uuid, card.uuid);
    }
}
