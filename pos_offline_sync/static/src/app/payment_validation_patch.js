/** @odoo-module */
// Validate while the register captures offline. Odoo's own offline path marks the order paid
// and navigates to the receipt in the same tick. The addon's finalization is the committed
// IndexedDB write of the order; awaited before navigating, it stood between Validate and the
// receipt (a one-off probe in real Odoo, see README "The receipt at once": issued 5 to 13 ms
// after the click, committed 17 to 74 ms after it, its events waiting behind the render). So
// the receipt is drawn at once, as Odoo draws it, while the write runs, and nothing on it can
// be acted on before the commit: input is held back invisibly (no DOM change; Odoo's block
// overlay shows only past SLOW_MS), so New Order, printing (auto print runs after the write)
// and sending wait for it; a click made meanwhile is made once the write is committed. A
// crash before the commit stores nothing: Odoo restores the order as the open order it was,
// to be validated again (or, once its own save of the paid order ran, as that order, which
// the register's next sync, at the latest the next Validate, captures). If the finalization of an order not stored fails (Odoo puts it
// back to draft), the register goes back to its payment screen, where Odoo stays.
import { patch } from "@web/core/utils/patch";
import { RPCError } from "@web/core/network/rpc";
import OrderPaymentValidation from "@point_of_sale/app/utils/order_payment_validation";

const SLOW_MS = 300;
const HELD_EVENTS = ["pointerdown", "mousedown", "mouseup", "click", "keydown", "keyup", "touchstart"];

/** The element a click was meant for: the one under Odoo's block overlay, if it hit that. */
function meantFor(ev) {
    if (!ev.target?.closest?.(".o_blockUI")) {
        return ev.target;
    }
    const under = document.elementsFromPoint(ev.clientX, ev.clientY);
    return under.find((el) => !el.closest(".o_blockUI")) || null;
}

/**
 * Holds back the user's pointer and key events (capture phase, on `target`) until the returned
 * release is called; calls `onSlow()` once if that takes longer than `slowMs`. No DOM change,
 * so nothing is rendered for it. The last click held is not lost: release() makes it then, on
 * the element it landed on if that is still on the page (`release({replay: false})` drops it).
 * Keys are dropped. Events the page makes itself pass. Releasing again does nothing.
 * @returns {(options?: {replay?: boolean}) => void} release
 */
export function holdInput(target, { slowMs = SLOW_MS, onSlow, onRelease } = {}) {
    let clicked = null;
    const hold = (ev) => {
        if (!ev.isTrusted) {
            return; // the page's own (a download link, a test's): only the cashier's are held
        }
        if (ev.type === "click") {
            clicked = meantFor(ev);
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
    let released = false;
    return ({ replay = true } = {}) => {
        if (released) {
            return; // once: Odoo's block is counted, a second unblock would lift another's
        }
        released = true;
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
        // Each Validate until its finalization settles (tests and benches wait on `finalized`);
        // syncAllOrders() calls `onCommitted` once the order is in the offline store, and the
        // receipt takes input from then on, not only once the whole finalization (auto print,
        // other addons' after-validation work) has settled.
        // (A microtask later: a click it replays must not run inside syncAllOrders().)
        const validation = { onCommitted: () => queueMicrotask(() => release()) };
        pos.offlineValidations ??= new Map();
        pos.offlineValidations.set(uuid, validation);
        // Runs up to the write's first await: the order is paid when the receipt renders.
        validation.finalized = this.finalizeValidation();
        // Stored offline, the sale is done whatever comes after (Odoo's own errors then show
        // as Odoo shows them): never back to its payment screen.
        const stored = () => Boolean(pos.offlineCapturedUuids?.has(uuid));
        let failed = true;
        try {
            pos.navigate(nextPage.page, nextPage.params);
            failed = (await validation.finalized) instanceof RPCError && !stored();
        } catch (error) {
            if (!stored()) {
                this.backToPayment(uuid);
            }
            throw error;
        } finally {
            pos.offlineValidations.delete(uuid);
            // Not stored (else released at the commit already): a click held on the receipt
            // must not act on an order that failed.
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
