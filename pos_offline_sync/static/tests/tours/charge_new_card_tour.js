/** @odoo-module */
// Back office, "Charge New Card" on an offline order whose card was declined: a card is typed
// into the widget, sealed in this browser with the company's public key and charged through the
// ledger. A declined one says why and leaves the wizard open; a good one makes the order Paid.
// The test opens the order's form, then checks Stripe, the ledger and the stored rows.
import { registry } from "@web/core/registry";

const WIDGET = ".modal .o_pos_offline_card_envelope_field";

/** Types a card into the widget and confirms it: sealed in the page, brand and last 4 shown. */
function enterCard(number, last4) {
    return [
        { trigger: `${WIDGET} [data-test='card-number']`, run: `edit ${number}` },
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
            trigger: `${WIDGET} [data-test='card-ready']:contains(VISA):contains(${last4})`,
        },
        { trigger: `${WIDGET}:not(:has([data-test='card-form']))` },
    ];
}

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
        // A declined new card first: the wizard says why and stays open for another card.
        ...enterCard("4000 0000 0000 0341", "0341"),
        {
            content: "charge the card that will be declined",
            trigger: ".modal-footer button[name='action_charge']",
            run: "click",
        },
        {
            content: "the reason is shown in the wizard, with an empty card form for the next card",
            trigger: ".modal .alert-danger:contains(The card was declined)",
        },
        { trigger: `${WIDGET}:not(:has([data-test='card-ready'])) [data-test='card-form']` },
        ...enterCard("4242 4242 4242 4242", "4242"),
        {
            content: "charge the good card",
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
