/** @odoo-module */
// The register and the sync dialog in French (pos_user's language is fr_FR): the OWL
// templates' words, and the messages the JS core builds (card form errors, Process, the sync's
// result sentence), all from i18n/fr.po through the translate function the glue gives the core.
import * as Chrome from "@point_of_sale/../tests/pos/tours/utils/chrome_util";
import * as Dialog from "@point_of_sale/../tests/generic_helpers/dialog_util";
import * as PaymentScreen from "@point_of_sale/../tests/pos/tours/utils/payment_screen_util";
import * as ProductScreen from "@point_of_sale/../tests/pos/tours/utils/product_screen_util";
import * as ReceiptScreen from "@point_of_sale/../tests/pos/tours/utils/receipt_screen_util";
import { registry } from "@web/core/registry";

const STATUS = ".pos-offline-sync-icons [data-test='offline-status']";
const SYNC = ".pos-offline-sync-icons [data-test='sync-button']";
const MODAL = ".modal:not(.o_inactive_modal)";

registry.category("web_tour.tours").add("pos_offline_sync_fr_tour", {
    steps: () =>
        [
            Chrome.startPoS(),
            Dialog.confirm(),
            {
                content: "the status icon speaks French",
                trigger: `${STATUS}[data-offline='false'][aria-label='En ligne : cliquez pour travailler hors ligne']:contains('En ligne')`,
            },
            { trigger: `${SYNC}:contains('Synchroniser')` },
            { content: "go offline", trigger: STATUS, run: "click" },
            { trigger: `${STATUS}[data-offline='true']:contains('Hors ligne')` },
            ProductScreen.addOrderline("Whiteboard Pen", "1"),
            ProductScreen.clickPayButton(),
            {
                content: "pay with the card method flagged for offline capture",
                trigger: ".paymentmethods .button.paymentmethod .payment-name:contains('Bank')",
                run: "click",
            },
            {
                content: "the card form in French",
                trigger: `${MODAL} .modal-title:contains('Carte (débitée à la synchronisation)')`,
            },
            { trigger: `${MODAL} label:contains('Numéro de carte')` },
            {
                content: "confirm an empty form: the core's errors are translated",
                trigger: `${MODAL} [data-test='card-confirm']:contains('Valider la carte')`,
                run: "click",
            },
            { trigger: `${MODAL} [data-test='error-number']:contains('Saisissez le numéro de carte.')` },
            { trigger: `${MODAL} [data-test='error-cvc']:contains('Saisissez le cryptogramme à 3 chiffres (CVC).')` },
            { trigger: `${MODAL} [data-test='card-number']`, run: "edit 4242 4242 4242 4242" },
            { trigger: `${MODAL} [data-test='card-expiry']`, run: "edit 12/30" },
            { trigger: `${MODAL} [data-test='card-cvc']`, run: "edit 123" },
            { trigger: `${MODAL} [data-test='card-name']`, run: "edit Ada Lovelace" },
            { trigger: `${MODAL} [data-test='card-confirm']`, run: "click" },
            { trigger: "body:not(:has(.modal [data-test='card-form']))" },
            PaymentScreen.clickValidate(),
            ReceiptScreen.isShown(),
            {
                content: "the Sync icon counts the order, in French",
                trigger: `${SYNC}[data-count='1'][aria-label='Synchroniser : 1 commande hors ligne en attente']`,
            },
            ReceiptScreen.clickNextOrder(),
            { content: "open the dialog while offline", trigger: SYNC, run: "click" },
            { trigger: `${MODAL} .modal-title:contains('Synchroniser avec le back-office')` },
            {
                content: "offline: Process and Sync wait, saying why",
                trigger: `${MODAL} [data-test='offline-reason']:contains('Vous êtes hors ligne : les cartes ne peuvent être traitées')`,
            },
            {
                trigger: `${MODAL} [data-test='process-card-button']:disabled:contains('Traiter')[title='Vous êtes hors ligne : les cartes ne peuvent être traitées que lorsque le point de vente est en ligne.']`,
            },
            { trigger: `${MODAL} [data-test='storage-note']:contains('Ce navigateur')` },
            { trigger: `${MODAL} [data-test='sync-table'] th:contains('Moyen de paiement')` },
            { content: "close it", trigger: `${MODAL} [data-test='dialog-close-footer']:contains('Fermer')`, run: "click" },
            { trigger: "body:not(:has(.modal [data-test='sync-dialog']))" },
            { content: "back online", trigger: STATUS, run: "click" },
            { trigger: `${STATUS}[data-offline='false']` },
            { content: "open the dialog online", trigger: SYNC, run: "click" },
            { trigger: `${MODAL} [data-test='sync-row']` },
            { content: "process the card", trigger: `${MODAL} [data-test='process-card-button']`, run: "click" },
            {
                content: "its result, in French",
                trigger: `${MODAL} [data-test='process-card-button'][data-status='succeeded']:contains('Acceptée')`,
            },
            { content: "select every order", trigger: `${MODAL} [data-test='select-all']`, run: "click" },
            { trigger: `${MODAL} [data-test='selection-count']:contains('1 sur 1 sélectionnées')` },
            {
                content: "sync",
                trigger: `${MODAL} [data-test='sync-submit']:contains('Synchroniser avec le back-office')`,
                run: "click",
            },
            {
                content: "the engine's result sentence and the row's status, in French",
                trigger: `${MODAL} [data-test='sync-message']:contains('1 commande synchronisée.')`,
            },
            { trigger: `${MODAL} [data-test='row-status'] [data-status='ok']:contains('Synchronisée')` },
            { trigger: `${SYNC}[data-count='0']` },
            Chrome.endTour(),
        ].flat(),
});
