/** @odoo-module */
import { Component, useState } from "@odoo/owl";
import { DEVICE_NAME_MAX } from "../device_identity.js";
import { TEXTS, fillText } from "../device_texts.js";

/**
 * "This device: <name> [Rename]": the name the back office's Devices list shows for this
 * browser profile. Props: controller (OfflineController: state.device, renameDevice()).
 */
export class DeviceName extends Component {
    static template = "pos_offline_sync.DeviceName";
    static props = { controller: Object };

    setup() {
        this.offlineState = useState(this.props.controller.state);
        this.ui = useState({ editing: false, draft: "", error: "", saving: false });
        this.texts = TEXTS;
        this.maxLength = DEVICE_NAME_MAX;
        this.help = fillText(TEXTS.deviceNameHelp, { max: DEVICE_NAME_MAX });
    }

    get name() {
        return this.offlineState.device?.name || "";
    }

    edit() {
        this.ui.draft = this.name;
        this.ui.error = "";
        this.ui.editing = true;
    }

    cancel() {
        this.ui.editing = false;
        this.ui.error = "";
    }

    onInput(ev) {
        this.ui.draft = ev.target.value;
    }

    onKeydown(ev) {
        if (ev.key === "Enter") {
            ev.preventDefault();
            this.save();
        } else if (ev.key === "Escape") {
            // The dialog closes on Escape: only leave the field.
            ev.stopPropagation();
            this.cancel();
        }
    }

    async save() {
        if (this.ui.saving) {
            return;
        }
        this.ui.saving = true;
        try {
            await this.props.controller.renameDevice(this.ui.draft);
            this.ui.editing = false;
            this.ui.error = "";
        } catch (error) {
            this.ui.error = (error && error.message) || String(error);
        } finally {
            this.ui.saving = false;
        }
    }
}
