/** @odoo-module */
// Back office, "Charge New Card" on an offline order whose card was declined: the card is typed
// into the widget, sealed in this browser with the company's public key, charged through the
// ledger, and the order shows as Paid. The test opens the order's form and checks the rest.
import { registry } from "@web/core/registry";

const WIDGET = ".modal .o_pos_offline_card_envelope_field";

registry.category("web_tour.tours").add("pos_offline_sync_charge_new_card_tour", {
    steps: () => [
        {
            content: "the order's card was declined: the form says so and is still a draft",
            trigger: ".o_form_view .alert-danger:contains(Card payment failed)",
        },
        { trigger: ".o_statusbar_status .o_arrow_button_current:contains(New)" },
        {
            content: "open the wizard",
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_offline_charge_new_card']",
            run: "click",
        },
        {
            content: "the card form is ready (the company's public key is loaded)",
            trigger: `${WIDGET} [data-test='card-form']:not(:has([data-test='card-error']))`,
        },
        { trigger: `${WIDGET} [data-test='card-number']`, run: "edit 4242 4242 4242 4242" },
        {
            content: "the brand is detected as the number is typed",
            trigger: `${WIDGET} [data-test='card-brand']:contains(VISA)`,
        },
        { trigger: `${WIDGET} [data-test='card-expiry']`, run: "edit 12/30" },
        { trigger: `${WIDGET} [data-test='card-cvc']`, run: "edit 123" },
        { trigger: `${WIDGET} [data-test='card-name']`, run: "edit Ada Lovelace" },
        { trigger: `${WIDGET} [data-test='card-confirm']`, run: "click" },
        {
            content: "sealed in the browser: only brand and last 4 are shown, the form is gone",
            trigger: `${WIDGET} [data-test='card-ready']:contains(VISA):contains(4242)`,
        },
        { trigger: `${WIDGET}:not(:has([data-test='card-form']))` },
        {
            content: "charge it",
            trigger: ".modal-footer button[name='action_charge']",
            run: "click",
        },
        {
            content: "the wizard closes and the order is paid",
            trigger: "body:not(:has(.modal .o_pos_offline_card_envelope_field))",
        },
        { trigger: ".o_statusbar_status .o_arrow_button_current:contains(Paid)" },
        {
            content: "the declined-card banner is gone with the flag",
            trigger: ".o_form_view:not(:has(.alert-danger:contains(Card payment failed)))",
        },
    ],
});
