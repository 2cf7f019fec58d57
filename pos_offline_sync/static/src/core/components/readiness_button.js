/** @odoo-module */
import { Component, onWillUnmount, useExternalListener, useRef, useState } from "@odoo/owl";
import { _t } from "../i18n.js";
import { cardCountdown, oldestOrderText, spaceText, storageSentence } from "../readiness.js";

let nextId = 0;

/**
 * "Offline readiness": an info button beside the status icon (whose own click stays the
 * offline switch) opening a small panel: does the browser keep the orders, the space used,
 * the oldest waiting order, and the time left on the oldest unprocessed card, counted down by
 * the second while the panel is open. A real button with aria-expanded; Escape or a click
 * elsewhere closes it, the focus going back to the button.
 */
export class ReadinessButton extends Component {
    static template = "pos_offline_sync.ReadinessButton";
    static props = {
        state: Object,
        // () => Promise<{usage, quota}> (navigator.storage.estimate by default)
        estimate: { type: Function, optional: true },
        now: { type: Function, optional: true },
    };

    setup() {
        this.state = useState(this.props.state);
        this.ui = useState({ open: false, now: this.clock(), estimate: null });
        this.panelId = `o_pos_offline_readiness_${++nextId}`;
        this.root = useRef("root");
        this.button = useRef("button");
        this.timer = null;
        useExternalListener(document, "pointerdown", (event) => {
            if (this.ui.open && !this.root.el?.contains(event.target)) {
                this.close(false);
            }
        });
        onWillUnmount(() => clearInterval(this.timer));
    }

    clock() {
        return (this.props.now || Date.now)();
    }

    get title() {
        return _t("Offline readiness");
    }

    get storage() {
        return storageSentence(this.state.persistence);
    }

    get space() {
        return this.ui.estimate === null ? _t("Measuring…") : spaceText(this.ui.estimate);
    }

    get oldest() {
        return oldestOrderText(this.state.pendingCount ? this.state.oldestPendingAt : null, this.ui.now);
    }

    get card() {
        return cardCountdown(this.state.cardAge, this.ui.now);
    }

    /** A dot on the button when something needs the cashier: storage not kept, card late. */
    get attention() {
        return (
            (this.state.pendingCount > 0 && this.storage.level === "warning") ||
            this.card.level === "warn" ||
            this.card.level === "overdue"
        );
    }

    toggle() {
        if (this.ui.open) {
            this.close(false);
        } else {
            this.openPanel();
        }
    }

    async openPanel() {
        this.ui.open = true;
        this.ui.now = this.clock();
        clearInterval(this.timer);
        this.timer = setInterval(() => {
            this.ui.now = this.clock();
        }, 1000);
        const estimate = this.props.estimate || (() => globalThis.navigator?.storage?.estimate?.());
        try {
            this.ui.estimate = (await estimate()) || {};
        } catch {
            this.ui.estimate = {};
        }
    }

    close(focusButton = true) {
        this.ui.open = false;
        clearInterval(this.timer);
        this.timer = null;
        if (focusButton) {
            this.button.el?.focus();
        }
    }

    onKeydown(event) {
        if (event.key === "Escape" && this.ui.open) {
            event.stopPropagation();
            event.preventDefault();
            this.close(true);
        }
    }
}
