/** @odoo-module */
// While the register captures offline, a payment method flagged "Capture card offline" asks for
// the card first (the core's CardForm, encrypted at once); the sealed card rides on the payment
// line's uiState until the order is captured. Online, the method behaves as Odoo's own.
import { patch } from "@web/core/utils/patch";
import { _t } from "@web/core/l10n/translation";
import OrderPaymentValidation from "@point_of_sale/app/utils/order_payment_validation";
import { PaymentScreen } from "@point_of_sale/app/screens/payment_screen/payment_screen";
import { makeAwaitable } from "@point_of_sale/app/utils/make_awaitable_dialog";
import { OfflineCardDialog } from "./offline_card_dialog";

patch(PaymentScreen.prototype, {
    async addNewPaymentLine(paymentMethod) {
        const pos = this.pos;
        if (!(paymentMethod.offline_card_capture && pos.shouldCaptureOffline() && pos.offlineCards)) {
            return await super.addNewPaymentLine(...arguments);
        }
        const amount = this.currentOrder.getDefaultAmountDueToPayIn(paymentMethod);
        if (!(amount > 0)) {
            return false;
        }
        const card = await makeAwaitable(this.dialog, OfflineCardDialog, {
            amount,
            currency: pos.currency.name,
            vault: pos.offlineCards.vault,
            limits: pos.offlineCards.limits,
            controller: pos.offlineSync,
        });
        if (!card) {
            return false;
        }
        const added = await super.addNewPaymentLine(...arguments);
        if (added) {
            const line = this.paymentLines.at(-1);
            line.setAmount(amount);
            // uiState is kept in Odoo's IndexedDB with the order (the card is sealed already).
            line.uiState = { ...(line.uiState || {}), offlineCard: card };
        }
        return added;
    },
});

// An order captured offline has no invoice yet: Odoo's validation would call that an error
// ("An error occurred while generating an invoice"). The sync makes it (sync_from_ui).
patch(OrderPaymentValidation.prototype, {
    shouldDownloadInvoice() {
        if (this.pos.offlineCapturedUuids?.has(this.order.uuid)) {
            if (this.order.isToInvoice()) {
                this.pos.notification.add(
                    _t("The invoice will be made when this order is synced to the back office."),
                    { type: "info" }
                );
            }
            return false;
        }
        return super.shouldDownloadInvoice(...arguments);
    },
});
