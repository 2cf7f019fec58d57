/** @odoo-module */
import { Component, useState } from "@odoo/owl";
import { PROCESS_OFFLINE_MESSAGE, cardProcessorOf } from "../card_processing.js";
import { _t } from "../i18n.js";
import { isOffline } from "./status.js";

/**
 * The "Process Card" cell of one row of the sync dialog (the help page's Process button): one
 * button per offline card payment. Its outcome replaces the button by a result, solid green
 * "Approved" or solid red "Declined" with the reason ("contact the customer"); the button is
 * back after retryable trouble. Refused while the register is offline, as Sync is, saying why.
 * Empty for other orders.
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
        // The offline switch re-renders the cell: Process is refused while offline.
        this.offlineState = useState(this.props.controller?.state || {});
    }

    get offline() {
        return isOffline(this.offlineState);
    }

    get cards() {
        const payments = Array.isArray(this.props.order.payments) ? this.props.order.payments : [];
        const offline = this.offline;
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
                    kind: status === "succeeded" ? "ok" : "error",
                    result: status === "succeeded" ? _t("Approved") : _t("Declined"),
                    label: live.busy ? _t("Processing…") : _t("Process"),
                    message: live.message ?? p.card.message ?? "",
                    // Offline: the button says why it cannot charge now.
                    blocked: !done && !live.busy && offline,
                };
            });
    }

    get offlineMessage() {
        return _t(PROCESS_OFFLINE_MESSAGE);
    }

    title(card) {
        return card.blocked ? this.offlineMessage : _t("Charge this card now");
    }

    cardLabel(card) {
        return _t("%(brand)s card ending in %(last4)s", {
            brand: String(card.brand || "").toUpperCase(),
            last4: card.last4 || "",
        });
    }

    process(card) {
        if (!this.processor || card.done || card.busy || card.blocked || this.props.disabled) {
            return;
        }
        this.processor.processPayment(this.props.order.uuid, card.uuid);
    }
}
