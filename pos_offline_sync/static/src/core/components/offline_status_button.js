/** @odoo-module */
import { Component, useState } from "@odoo/owl";
import { _t } from "../i18n.js";
import { isOffline } from "./status.js";

/**
 * Navbar icon: gray "Online" / red "Offline". Clicking (or Enter/Space: it is a real button)
 * switches manual offline mode through the `onToggle` callback.
 */
export class OfflineStatusButton extends Component {
    static template = "pos_offline_sync.OfflineStatusButton";
    static props = {
        state: Object,
        onToggle: Function,
    };

    setup() {
        // useState subscribes this component to the shared reactive state.
        this.state = useState(this.props.state);
    }

    get offline() {
        return isOffline(this.state);
    }

    get label() {
        return this.offline ? _t("Offline") : _t("Online");
    }

    get ariaLabel() {
        return this.offline
            ? _t("Offline: click to go back online")
            : _t("Online: click to work offline");
    }

    get title() {
        if (!this.offline) {
            return _t("Online: click to work offline");
        }
        // Auto-detected loss of connection is not undone by a click: say so.
        return this.state.manualOffline
            ? _t("Offline (manual): click to go back online")
            : _t("Offline: no connection to the server");
    }

    onClick() {
        this.props.onToggle();
    }
}
