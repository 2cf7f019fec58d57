/** @odoo-module */
// Validate while the register captures offline. Odoo's own offline path marks the order paid
// and navigates to the receipt in the same tick. The addon's finalization is the committed
// IndexedDB write of the order; awaited before navigating, it stood between Validate and the
// receipt (measured in real Odoo: issued 8 to 13 ms after the click, committed 50 to 80 ms
// after it, its events waiting behind the receipt's render). So the receipt is drawn at once,
// as Odoo draws it, while the write runs, and nothing on it can be acted on before the commit:
// input is held back invisibly (no DOM change; Odoo's block overlay shows only past SLOW_MS),
// so New Order, printing (auto print runs after the write) and sending wait for it; a click
// made meanwhile is made once the write is committed. A crash
// before the commit stores nothing: Odoo restores the order as the open order it was, to be
// validated again. If the finalization fails (Odoo puts the order back to draft), the register
// goes back to the order's payment screen, where Odoo stays.
import { patch } from "@web/core/utils/patch";
import { RPCError } from "@web/core/network/rpc";
import OrderPaymentValidation from "@point_of_sale/app/utils/order_payment_validation";

const SLOW_MS = 300;
const HELD_EVENTS = ["pointerdown", "mousedown", "mouseup", "click", "keydown", "keyup", "touchstart"];

/**
 * Holds back every pointer and key event (capture phase, on `target`) until the returned
 * release is called; calls `onSlow()` once if that takes longer than `slowMs`. No DOM change,
 * so nothing is rendered for it. The last click held is not lost: release() makes it then, on
 * the element it landed on if that is still on the page (`release({replay: false})` drops it).
 * Keys are dropped.
 * @returns {(options?: {replay?: boolean}) => void} release
 */
export function holdInput(target, { slowMs = SLOW_MS, onSlow, onRelease } = {}) {
    let clicked = null;
    const hold = (ev) => {
        if (ev.type === "click") {
            clicked = ev.target;
        }
        ev.preventDefault();
        ev.stopImmediatePropagation();
    };
    for (const type of HELD_EVENTS) {
        target.addEventListener(type, hold, true);
    }
    let slow = false;
    const timer = setTimeout(() => {
        slow = true;
        onSlow?.();
    }, slowMs);
    return ({ replay = true } = {}) => {
        clearTimeout(timer);
        for (const type of HELD_EVENTS) {
            target.removeEventListener(type, hold, true);
        }
        if (slow) {
            onRelease?.();
        }
        if (replay && clicked?.isConnected) {
            clicked.click();
        }
    };
}

patch(OrderPaymentValidation.prototype, {
    async shouldHideValidationBehindFeedbackScreen() {
        const nextPage = this.nextPage;
        if (nextPage.page === "FeedbackScreen" || !this.pos.shouldCaptureOffline?.()) {
            return await super.shouldHideValidationBehindFeedbackScreen(...arguments);
        }
        const pos = this.pos;
        const ui = pos.env.services.ui;
        const uuid = this.order.uuid;
        const release = holdInput(window, {
            onSlow: () => ui.block(),
            onRelease: () => ui.unblock(),
        });
        // Runs up to the write's first await: the order is paid when the receipt renders.
        const finalized = this.finalizeValidation();
        // Each Validate's finalization until it settles (tests and benches wait on it).
        pos.offlineValidations ??= new Map();
        pos.offlineValidations.set(uuid, finalized);
        let failed = true;
        try {
            pos.navigate(nextPage.page, nextPage.params);
            failed = (await finalized) instanceof RPCError;
        } catch (error) {
            this.backToPayment(uuid);
            throw error;
        } finally {
            pos.offlineValidations.delete(uuid);
            // A click held on the receipt must not act on an order that is not paid.
            release({ replay: !failed });
        }
        if (failed) {
            this.backToPayment(uuid);
            return false;
        }
    },

    /** Where Odoo stays when the finalization fails: the order's payment screen. */
    backToPayment(uuid) {
        if (this.pos.models["pos.order"].getBy("uuid", uuid)) {
            this.pos.navigate("PaymentScreen", { orderUuid: uuid });
        }
    },
});
