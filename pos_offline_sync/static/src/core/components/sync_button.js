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

    /** The auto-sync's phase ("waiting", "syncing", "retrying"), or "" when it is off/idle. */
    get autoPhase() {
        const phase = this.state.autoSync?.enabled && this.state.autoSync.phase;
        return phase === "waiting" || phase === "syncing" || phase === "retrying" ? phase : "";
    }

    get autoText() {
        if (this.autoPhase === "syncing") {
            return _t("Syncing automatically.");
        }
        if (this.autoPhase === "retrying") {
            return _t("No answer from the server: the automatic sync tries again soon.");
        }
        if (this.autoPhase === "waiting" && this.count) {
            return _t("The automatic sync starts in a few seconds.");
        }
        return "";
    }

    get ariaLabel() {
        const waiting = plural(
            this.count,
            _t("Sync to Server: %(count)s offline order waiting"),
            _t("Sync to Server: %(count)s offline orders waiting")
        );
        return this.autoText ? `${waiting}. ${this.autoText}` : waiting;
    }

    get title() {
        return this.ageText ? `${this.ariaLabel}. ${this.ageText}` : this.ariaLabel;
    }

    onClick() {
        this.props.onClick();
    }
}
