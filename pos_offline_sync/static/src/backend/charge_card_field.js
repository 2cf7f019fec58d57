/** @odoo-module */
// "Charge new card" (back office): the card is typed into the core's CardForm and sealed in the
// browser with the company's public key; only the envelope reaches the wizard's field.
import { Component, markRaw, onWillStart, useState } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { _t } from "@web/core/l10n/translation";
import { standardFieldProps } from "@web/views/fields/standard_field_props";
import { CardForm } from "@pos_offline_sync/core/components/card_form";
import { CardVault } from "@pos_offline_sync/core/card_vault";
import { setTranslate } from "@pos_offline_sync/core/i18n";
import { limitsFromConfig } from "@pos_offline_sync/core/risk_limits";

export class OfflineCardEnvelopeField extends Component {
    static template = "pos_offline_sync.OfflineCardEnvelopeField";
    static components = { CardForm };
    static props = { ...standardFieldProps, publicKeyField: { type: String, optional: true } };

    setup() {
        // The card form's errors in the user's language (the core has no Odoo import).
        setTranslate(_t);
        this.state = useState({ card: null, formKey: 1, error: "" });
        // No storage: the back office fetches nothing and caches nothing; the key is in the record.
        this.vault = markRaw(new CardVault({ transport: null, configId: 0, storage: null }));
        // Risk limits are for cards taken offline; here the card is charged at once.
        this.noLimits = limitsFromConfig({});
        onWillStart(() => this.loadKey());
    }

    async loadKey() {
        const raw = this.props.record.data[this.props.publicKeyField || "public_key"];
        try {
            await this.vault.remember(raw ? JSON.parse(raw) : null);
        } catch (error) {
            this.state.error = error.message;
        }
    }

    get amount() {
        return Number(this.props.record.data.amount) || 0;
    }

    async onConfirm(card) {
        await this.props.record.update({ [this.props.name]: JSON.stringify(card.envelope) });
        this.state.card = { brand: card.brand, last4: card.last4 };
    }

    onCancel() {
        this.props.record.update({ [this.props.name]: false });
        this.state.card = null;
        this.state.formKey++;
    }
}

registry.category("fields").add("pos_offline_card_envelope", {
    component: OfflineCardEnvelopeField,
    supportedTypes: ["text"],
    extractProps: ({ options }) => ({ publicKeyField: options.public_key_field }),
});
