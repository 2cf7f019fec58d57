/** @odoo-module */
import { Component, onWillStart, onWillUnmount, useRef, useState } from "@odoo/owl";
import { detectBrand, validateCard } from "../card_vault.js";
import { _t } from "../i18n.js";
import { riskRefusal, unprocessedCards } from "../risk_limits.js";
import { useDialogFocus } from "./dialog_focus.js";

/**
 * The offline card form: number (Luhn, brand shown), expiry, CVC, cardholder, inline errors.
 * It refuses at once when a risk limit of the POS would be broken. On confirm the card is
 * encrypted through the vault and `onConfirm(card)` gets the payment's `card` object (envelope,
 * brand, last 4, expiry); the typed values are wiped from the form's state right away.
 *
 * Props: amount, currency, vault (CardVault), limits (limitsFromConfig), controller (optional:
 * its waiting orders feed the total and age limits), onConfirm(card), onCancel(), ownDialog
 * (the host shows the form in a plain overlay: the form traps Tab, Escape cancels, focus goes
 * back to what opened it; inside a host's Dialog, as in Odoo, the host does that).
 *
 * Without a usable key the form takes no card and says why, in its template (so the text is
 * translated): the server refused a key (`vault.unavailable`, with the server's reason, itself
 * translated by the server), or the register never loaded one.
 */
export class CardForm extends Component {
    static template = "pos_offline_sync.CardForm";
    static props = {
        amount: Number,
        currency: { type: String, optional: true },
        vault: Object,
        limits: Object,
        controller: { type: Object, optional: true },
        onConfirm: Function,
        onCancel: Function,
        now: { type: Function, optional: true },
        ownDialog: { type: Boolean, optional: true },
    };

    setup() {
        this.rootRef = useRef("root");
        // Focus on the first field (or on the refusal's buttons when the form is refused).
        this.focus = useDialogFocus(this.rootRef, {
            own: () => Boolean(this.props.ownDialog),
            initial: (root) =>
                root.querySelector("[data-test=card-number]") ||
                root.querySelector("[data-test=card-cancel]"),
        });
        this.form = useState({ number: "", expiry: "", cvc: "", name: "" });
        this.ui = useState({
            errors: {},
            refusal: null,
            busy: false,
            error: "",
            // null, "refused" (the server holds no protected key) or "never_loaded"
            keyProblem: null,
            keyReason: "",
        });
        onWillStart(() => this.checkLimits());
        // Whatever happens, the typed card leaves memory we control with the form.
        onWillUnmount(() => this.wipe());
    }

    async checkLimits() {
        let waiting = { total: 0, oldestAt: null };
        try {
            waiting = unprocessedCards((await this.props.controller?.listPending()) || []);
        } catch {
            // Unreadable store: the per-payment limit still applies.
        }
        this.ui.refusal = riskRefusal(this.props.limits, {
            amount: this.props.amount,
            unprocessedTotal: waiting.total,
            oldestUnprocessedAt: waiting.oldestAt,
            currency: this.props.currency || "",
            now: this.props.now ? this.props.now() : Date.now(),
        });
        this.checkKey();
    }

    checkKey() {
        const vault = this.props.vault;
        if (vault.unavailable) {
            this.ui.keyProblem = "refused";
            this.ui.keyReason = vault.unavailable.message || "";
        } else if (!vault.ready) {
            this.ui.keyProblem = "never_loaded";
        }
    }

    get brand() {
        const brand = detectBrand(this.form.number);
        return brand === "unknown" ? "" : brand.toUpperCase();
    }

    get amountText() {
        return `${Number(this.props.amount).toFixed(2)} ${this.props.currency || ""}`.trim();
    }

    wipe() {
        this.form.number = "";
        this.form.expiry = "";
        this.form.cvc = "";
        this.form.name = "";
    }

    async confirm() {
        if (this.ui.busy || this.ui.refusal || this.ui.keyProblem) {
            return;
        }
        const checked = validateCard(this.form, this.props.now ? new Date(this.props.now()) : new Date());
        this.ui.errors = checked.errors;
        if (!checked.ok) {
            return;
        }
        this.ui.busy = true;
        this.ui.error = "";
        try {
            const card = await this.props.vault.capture(checked.card);
            this.wipe();
            await this.props.onConfirm(card);
        } catch (error) {
            // Messages of ours or WebCrypto's: never the card itself.
            this.ui.error = error.message || _t("The card could not be encrypted.");
        } finally {
            this.ui.busy = false;
        }
    }

    cancel() {
        this.wipe();
        this.props.onCancel();
    }

    onKeydown(ev) {
        if (ev.key === "Escape" && this.props.ownDialog) {
            ev.stopPropagation();
            ev.preventDefault();
            if (!this.ui.busy) {
                this.cancel();
            }
            return;
        }
        this.focus.onKeydown(ev);
    }
}
