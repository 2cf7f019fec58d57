/** @odoo-module */
import { Component, useState } from "@odoo/owl";
import { _t, plural } from "../i18n.js";
import { pendingCount } from "./status.js";

let nextId = 0;

/** Navbar icon "Sync to Server": red with a count badge while offline orders wait; beside it,
 * the count down of offline cards towards the age limit (its accessible description). */
export class SyncButton extends Component {
    static template = "pos_offline_sync.SyncButton";
    static props = {
        state: Object,
        onClick: Function,
    };

    setup() {
        this.state = useState(this.props.state);
        this.ageId = `o_pos_offline_card_age_${++nextId}`;
    }

    get ageText() {
        return (this.state.cardAge && this.state.cardAge.text) || "";
    }

    get count() {
        return pendingCount(this.state);
    }

    get ariaLabel() {
        return plural(
            this.count,
            _t("Sync to Server: %(count)s offline order waiting"),
            _t("Sync to Server: %(count)s offline orders waiting")
        );
    }

    get title() {
        return this.ageText ? `${this.ariaLabel}. ${this.ageText}` : this.ariaLabel;
    }

    onClick() {
        this.props.onClick();
    }
}
