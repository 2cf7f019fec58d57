/** @odoo-module */
import { Component, useState } from "@odoo/owl";
import { _t, plural } from "../i18n.js";
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
        const base = plural(
            n,
            _t("Sync to Server: %(count)s offline order waiting"),
            _t("Sync to Server: %(count)s offline orders waiting")
        );
        return age ? `${base}. ${age}` : base;
    }

    onClick() {
        this.props.onClick();
    }
}
