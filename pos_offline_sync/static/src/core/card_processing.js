/** @odoo-module */
// Processing the offline cards of stored orders: the dialog's "Process" button and the sync
// engine's beforeSend hook both come here. The server's ledger makes every call safe to repeat
// (a double click, two tabs, a lost answer); this side only records what the server answered:
// an outcome (succeeded/failed) is saved on the order at once and the envelope dropped.

import { reactive } from "@odoo/owl";
import { isOffline } from "./components/status.js";
import { _t } from "./i18n.js";

/** RPC of card processing (CONTRACTS §2). */
export const PROCESS_METHOD = "offline_process_card";

// English sources (the msgids): shown through _t() where they reach the cashier.
export const NO_ANSWER_MESSAGE = _t(
    "No answer from the server: the card's state is unknown. Try again."
);

export const GONE_MESSAGE = _t(
    "This card payment is no longer waiting here (synced from another window?): reopen the list."
);

/** Refusal of Process while the register is offline (manual or detected), as Sync refuses. */
export const PROCESS_OFFLINE_MESSAGE = _t(
    "You are offline: cards can be processed only when the POS is online."
);

const FINAL = new Set(["succeeded", "failed"]);

/**
 * When the server says the order's card is being charged elsewhere (another tab, another
 * register, the back office), this page asks again by itself after these waits, until it has
 * the outcome: the cashier never has to click again to see it.
 */
export const FOLLOW_UP_DELAYS_MS = [1500, 3000, 5000, 10000, 20000, 30000, 60000];

/** The `offline_process_card` payload of one card payment. */
export function processPayload(order, payment) {
    return {
        v: 1,
        config_id: order.config_id ?? null,
        order_uuid: order.uuid,
        payment_uuid: payment.uuid,
        amount: payment.amount,
        currency: order.currency,
        reference: order.reference || "",
        envelope: payment.card.envelope,
        // The server judges the age limit of cards taken offline on its own clock from it.
        created_at: order.created_at ?? null,
    };
}

/**
 * The payment's card after a server answer: an outcome is final (envelope dropped); anything
 * else leaves the card unprocessed with the server's message.
 */
export function applyOutcome(card, outcome) {
    if (FINAL.has(outcome?.status)) {
        return {
            ...card,
            status: outcome.status,
            payment_intent_id: outcome.payment_intent_id ?? null,
            message: outcome.message ?? null,
            decline_code: outcome.status === "failed" ? (outcome.decline_code ?? null) : null,
            brand: outcome.brand || card.brand,
            last4: outcome.last4 || card.last4,
            envelope: null,
        };
    }
    return { ...card, status: "unprocessed", message: outcome?.message || _t(NO_ANSWER_MESSAGE) };
}

/** Card payments of an order still waiting for an outcome. */
export function pendingCardPayments(order) {
    return (order?.payments || []).filter(
        (payment) => payment?.card && !FINAL.has(payment.card.status) && payment.card.envelope
    );
}

/**
 * Processes the cards of offline orders and keeps the store in step.
 */
export class CardProcessor {
    /**
     * @param {object} options
     * @param {{call: Function}} options.transport
     * @param {object} options.store OfflineStore (get, update)
     * @param {() => void} [options.onChange] after a card's state changed (refresh the UI)
     * @param {() => boolean} [options.isOffline] true while the register is offline: then
     *   nothing is charged (a cashier who chose Offline must not see a card charged)
     */
    constructor({
        transport,
        store,
        onChange = null,
        isOffline = null,
        followUpDelaysMs = FOLLOW_UP_DELAYS_MS,
        setTimeout = globalThis.setTimeout.bind(globalThis),
    }) {
        this.transport = transport;
        this.store = store;
        this.onChange = onChange;
        this.isOffline = isOffline;
        this.followUpDelaysMs = followUpDelaysMs;
        this._setTimeout = setTimeout;
        this._followUps = new Map(); // payment uuid -> tries so far
        // One request per payment at a time in this page: a double click waits for the first.
        this._inFlight = new Map();
        // payment uuid -> {status, message, busy, ...}: what the Process cells show (reactive,
        // so a card processed by the sync's beforeSend turns green/red in the dialog too).
        this.outcomes = reactive({});
        this.beforeSend = (record) => this._beforeSend(record);
    }

    /** True while this page is processing that payment. */
    isBusy(paymentUuid) {
        return this._inFlight.has(paymentUuid);
    }

    /**
     * Processes one card payment of a stored order.
     * @returns {Promise<object>} the card outcome (CONTRACTS §2), or {status: "no_answer",
     *   "gone" (the order or payment is no longer stored here) or "offline" (refused: the
     *   register is offline; nothing was asked), message}
     */
    processPayment(orderUuid, paymentUuid) {
        const running = this._inFlight.get(paymentUuid);
        if (running) {
            return running;
        }
        if (this.isOffline?.()) {
            return Promise.resolve({ status: "offline", message: _t(PROCESS_OFFLINE_MESSAGE) });
        }
        this.outcomes[paymentUuid] = { ...(this.outcomes[paymentUuid] || {}), busy: true };
        const promise = this._process(orderUuid, paymentUuid)
            .catch((error) => ({
                status: "no_answer",
                message: error.message || _t(NO_ANSWER_MESSAGE),
            }))
            .then((outcome) => {
                this.outcomes[paymentUuid] = { ...outcome, busy: false };
                this._followUp(orderUuid, paymentUuid, outcome);
                return outcome;
            })
            .finally(() => {
                this._inFlight.delete(paymentUuid);
                this.onChange?.();
            });
        this._inFlight.set(paymentUuid, promise);
        this.onChange?.();
        return promise;
    }

    /** Asks again later while the card is being charged elsewhere; stops at an outcome. */
    _followUp(orderUuid, paymentUuid, outcome) {
        if (outcome?.status !== "in_progress") {
            this._followUps.delete(paymentUuid);
            return;
        }
        const tries = this._followUps.get(paymentUuid) || 0;
        if (tries >= this.followUpDelaysMs.length) {
            this._followUps.delete(paymentUuid);
            return;
        }
        this._followUps.set(paymentUuid, tries + 1);
        this._setTimeout(() => {
            if (this.isOffline?.()) {
                // Gone offline meanwhile: ask again later (still bounded by the delays).
                this._followUp(orderUuid, paymentUuid, outcome);
                return;
            }
            if (!this._inFlight.has(paymentUuid)) {
                this.processPayment(orderUuid, paymentUuid);
            }
        }, this.followUpDelaysMs[tries]);
    }

    async _process(orderUuid, paymentUuid) {
        const record = await this.store.get(orderUuid);
        const payment = record?.order?.payments?.find((p) => p.uuid === paymentUuid);
        if (!payment?.card) {
            // Not "failed": the order may have been charged and synced from another tab, and a
            // red "Declined" would make the cashier take a second card.
            return { status: "gone", message: _t(GONE_MESSAGE) };
        }
        if (FINAL.has(payment.card.status) || !payment.card.envelope) {
            return { v: 1, ...payment.card };
        }
        let outcome;
        try {
            outcome = await this.transport.call(PROCESS_METHOD, processPayload(record.order, payment));
        } catch {
            outcome = { status: "no_answer", message: _t(NO_ANSWER_MESSAGE) };
        }
        if (!outcome || typeof outcome.status !== "string") {
            outcome = { status: "no_answer", message: _t(NO_ANSWER_MESSAGE) };
        }
        try {
            await this.store.update(orderUuid, (current) => {
                for (const p of current.order.payments || []) {
                    if (p.uuid === paymentUuid && p.card && !FINAL.has(p.card.status)) {
                        p.card = applyOutcome(p.card, outcome);
                    }
                }
            });
        } catch (error) {
            // The server's answer stands (its ledger keeps it and gives it again): hiding a
            // charge behind a storage error would make the cashier take a second card.
            const saved = _t("this outcome could not be saved in this browser (%(reason)s)", {
                reason: error.message,
            });
            return { ...outcome, message: outcome.message ? `${outcome.message}; ${saved}` : saved };
        }
        return outcome;
    }

    /**
     * Processes every waiting card of an order.
     * @returns {Promise<object[]>} outcomes, one per processed payment
     */
    async processOrder(orderUuid) {
        const record = await this.store.get(orderUuid);
        const outcomes = [];
        for (const payment of pendingCardPayments(record?.order)) {
            outcomes.push(await this.processPayment(orderUuid, payment.uuid));
        }
        return outcomes;
    }

    /**
     * SyncEngine's beforeSend: cards are processed before their order is sent, so the dialog
     * shows each result. A card without an outcome (in progress, retry, not configured, no
     * answer) keeps its order here, with the reason.
     */
    async _beforeSend(record) {
        if (!pendingCardPayments(record.order).length) {
            return record.order;
        }
        const outcomes = await this.processOrder(record.uuid);
        const open = outcomes.find((outcome) => !FINAL.has(outcome.status));
        if (open) {
            throw new Error(_t("card not processed: %(reason)s", { reason: open.message }));
        }
        const fresh = await this.store.get(record.uuid);
        return fresh ? fresh.order : record.order;
    }
}

/**
 * Wraps an async `fn` so that calls made while it runs collapse into one more run after it:
 * cards processed 4 at a time would otherwise each start their own refresh of the register.
 * @param {() => Promise<*>|*} fn
 * @returns {() => Promise<void>} resolves once a run that started after the call has finished
 */
export function coalesced(fn) {
    let running = null;
    let again = null;
    const run = async () => {
        try {
            await fn();
        } catch (error) {
            console.error("pos_offline_sync: refresh failed", error);
        }
    };
    return function schedule() {
        if (!running) {
            running = run().finally(() => {
                running = null;
            });
            return running;
        }
        if (!again) {
            again = running.then(() => {
                again = null;
                return schedule();
            });
        }
        return again;
    };
}

/**
 * The controller's card processor, created on first use: the Process cells and the sync
 * engine's beforeSend share it (one in-flight request per payment, one outcome map).
 * @param {object} controller an OfflineController (transport, store, engine, refresh)
 * @returns {CardProcessor|null} null when the controller has no store
 */
export function cardProcessorOf(controller) {
    if (!controller?.store) {
        return null;
    }
    if (!controller.cardProcessor) {
        const processor = new CardProcessor({
            transport: controller.transport,
            store: controller.store,
            // Looked up at each call: hosts wrap controller.refresh after this point.
            onChange: coalesced(() => controller.refresh?.()),
            // Read at each call: the same state the Sync refusal reads.
            isOffline: () => isOffline(controller.state),
        });
        controller.cardProcessor = processor;
        if (controller.engine && !controller.engine.beforeSend) {
            controller.engine.beforeSend = processor.beforeSend;
        }
    }
    return controller.cardProcessor;
}
