/** @odoo-module */
import { Component, useState } from "@odoo/owl";
import { pendingCount } from "./status.js";

/** Navbar icon "Sync to Server": red with a count badge while offline orders wait. */
export class SyncButton extends Component {
    static template = "pos_offline_sync.SyncButton";
    static props = {
        state: Object,
        onClick: Function,
    };

    setup() {
        this.state = useState(this.props.state);
    }

    get count() {
        return pendingCount(this.state);
    }

    get ariaLabel() {
        const n = this.count;
        const age = this.state.cardAge && this.state.cardAge.text;
        const base = `Sync to Server: ${n} offline order${n === 1 ? "" : "s"} waiting`;
        return age ? `${base}. ${age}` : base;
    }

    onClick() {
        this.props.onClick();
    }
}
