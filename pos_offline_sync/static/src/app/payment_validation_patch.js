/** @odoo-module */
// Validate while the register captures offline: Odoo blocks the screen (its BlockUI overlay
// and spinner) for the whole finalization, which it expects to be a server call. Offline the
// finalization is the committed IndexedDB write of the order (tens of ms), and drawing the
// overlay, then removing it, costs the cashier more frames than the write itself (measured in
// bench/odoo_browser_bench.py). So input is held back invisibly instead, and Odoo's overlay
// shows only if the write takes longer than SLOW_MS. The receipt still comes only after the
// write is committed: finalizeValidation() waits for syncAllOrders(), which waits for it.
import { patch } from "@web/core/utils/patch";
import { RPCError } from "@web/core/network/rpc";
import OrderPaymentValidation from "@point_of_sale/app/utils/order_payment_validation";

const SLOW_MS = 300;
const HELD_EVENTS = ["pointerdown", "mousedown", "mouseup", "click", "keydown", "keyup", "touchstart"];

/**
 * Swallows every pointer and key event (capture phase, on `target`) until the returned release
 * is called; calls `onSlow()` once if that takes longer than `slowMs`. No DOM change, so nothing
 * is rendered for it.
 * @returns {() => void} release
 */
export function holdInput(target, { slowMs = SLOW_MS, onSlow, onRelease } = {}) {
    const swallow = (ev) => {
        ev.preventDefault();
        ev.stopImmediatePropagation();
    };
    for (const type of HELD_EVENTS) {
        target.addEventListener(type, swallow, true);
    }
    let slow = false;
    const timer = setTimeout(() => {
        slow = true;
        onSlow?.();
    }, slowMs);
    return () => {
        clearTimeout(timer);
        for (const type of HELD_EVENTS) {
            target.removeEventListener(type, swallow, true);
        }
        if (slow) {
            onRelease?.();
        }
    };
}

patch(OrderPaymentValidation.prototype, {
    async shouldHideValidationBehindFeedbackScreen() {
        const nextPage = this.nextPage;
        if (nextPage.page === "FeedbackScreen" || !this.pos.shouldCaptureOffline?.()) {
            return await super.shouldHideValidationBehindFeedbackScreen(...arguments);
        }
        // Odoo's own flow (see the super method), with the invisible hold for its block.
        const ui = this.pos.env.services.ui;
        const release = holdInput(window, {
            onSlow: () => ui.block(),
            onRelease: () => ui.unblock(),
        });
        try {
            const response = await this.finalizeValidation();
            if (response instanceof RPCError) {
                return false;
            }
        } finally {
            release();
        }
        this.pos.navigate(nextPage.page, nextPage.params);
    },
});
