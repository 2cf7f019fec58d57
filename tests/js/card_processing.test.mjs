// card_processing.js: what the register does with the server's card outcomes. The server is a
// scripted transport here; the real server, ledger and localstripe run in tests/e2e/cards.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { CardProcessor, NO_ANSWER_MESSAGE, coalesced, processPayload } from "../../pos_offline_sync/static/src/core/card_processing.js";
import { SyncEngine } from "../../pos_offline_sync/static/src/core/sync_engine.js";
import { MemoryStore } from "./helpers/memory_store.mjs";
import { FAKE_ENVELOPE, makeCardOrder, makeOrder } from "./helpers/orders.mjs";


function server(answers) {
    const calls = [];
    return {
        calls,
        call: async (method, payload) => {
            calls.push({ method, payload });
            if (method === "offline_sync_orders") {
                return { v: 1, results: payload.orders.map((o) => ({ uuid: o.uuid, ok: true, status: "created" })) };
            }
            const answer = answers.shift();
            if (answer instanceof Error) {
                throw answer;
            }
            return answer;
        },
    };
}

const SUCCEEDED = { v: 1, status: "succeeded", payment_intent_id: "pi_1", message: "Approved", brand: "visa", last4: "4242" };

describe("CardProcessor", () => {
    it("sends the contract payload and stores the success without the envelope", async () => {
        const store = new MemoryStore();
        const order = makeCardOrder();
        await store.put(order);
        const transport = server([SUCCEEDED]);
        const processor = new CardProcessor({ transport, store });
        const outcome = await processor.processPayment(order.uuid, order.payments[0].uuid);
        assert.equal(outcome.status, "succeeded");
        assert.deepEqual(transport.calls[0].payload, processPayload(order, order.payments[0]));
        assert.deepEqual(Object.keys(transport.calls[0].payload), ["v", "config_id", "order_uuid", "payment_uuid", "amount", "currency", "reference", "envelope", "created_at"]);
        const card = (await store.get(order.uuid)).order.payments[0].card;
        assert.equal(card.status, "succeeded");
        assert.equal(card.payment_intent_id, "pi_1");
        assert.equal(card.envelope, null);
        // Already processed: no second request.
        await processor.processPayment(order.uuid, order.payments[0].uuid);
        assert.equal(transport.calls.length, 1);
    });

    it("an order synced from another tab is not shown as a declined card", async () => {
        // The dialog still lists the order; another tab charged its card and synced it. Red
        // "Declined" here would make the cashier ask for another card: a second charge.
        const store = new MemoryStore();
        const order = makeCardOrder();
        await store.put(order);
        await store.remove([order.uuid]);
        const transport = server([]);
        const processor = new CardProcessor({ transport, store });
        const pay = order.payments[0].uuid;
        const outcome = await processor.processPayment(order.uuid, pay);
        assert.notEqual(outcome.status, "failed");
        assert.notEqual(processor.outcomes[pay].status, "failed");
        assert.match(outcome.message, /no longer waiting/);
        assert.equal(transport.calls.length, 0);
    });

    it("a double click sends one request", async () => {
        const store = new MemoryStore();
        const order = makeCardOrder();
        await store.put(order);
        const transport = server([SUCCEEDED, SUCCEEDED]);
        const processor = new CardProcessor({ transport, store });
        const pay = order.payments[0].uuid;
        const [a, b] = await Promise.all([processor.processPayment(order.uuid, pay), processor.processPayment(order.uuid, pay)]);
        assert.equal(a, b);
        assert.equal(transport.calls.length, 1);
    });

    it("a decline is stored with its text; no answer and retry keep the card ready", async () => {
        const store = new MemoryStore();
        const order = makeCardOrder();
        await store.put(order);
        const pay = order.payments[0].uuid;
        const transport = server([
            new Error("network"),
            { v: 1, status: "retry", message: "Stripe could not be reached. Try again." },
            { v: 1, status: "failed", decline_code: "card_declined", message: "The card was declined. Ask the customer for another card." },
        ]);
        const processor = new CardProcessor({ transport, store });
        assert.equal((await processor.processPayment(order.uuid, pay)).status, "no_answer");
        let card = (await store.get(order.uuid)).order.payments[0].card;
        assert.equal(card.status, "unprocessed");
        assert.equal(card.message, NO_ANSWER_MESSAGE);
        assert.deepEqual(card.envelope, FAKE_ENVELOPE);
        assert.equal((await processor.processPayment(order.uuid, pay)).status, "retry");
        assert.deepEqual((await store.get(order.uuid)).order.payments[0].card.envelope, FAKE_ENVELOPE);
        assert.equal((await processor.processPayment(order.uuid, pay)).status, "failed");
        card = (await store.get(order.uuid)).order.payments[0].card;
        assert.equal(card.status, "failed");
        assert.equal(card.decline_code, "card_declined");
        assert.equal(card.envelope, null);
    });

    it("as beforeSend: processes first, then syncs; an open outcome keeps the order", async () => {
        const store = new MemoryStore();
        const a = makeCardOrder();
        const b = makeCardOrder();
        await store.put(a);
        await store.put(b);
        const transport = server([SUCCEEDED, { v: 1, status: "in_progress", message: "This card is being processed in another window." }]);
        const processor = new CardProcessor({ transport, store, setTimeout: () => {} });
        const engine = new SyncEngine({ store, transport, configId: 1, beforeSend: processor.beforeSend });
        const results = await engine.sync([a.uuid, b.uuid]);
        assert.deepEqual(results.map((r) => [r.ok, r.status]), [[true, "created"], [false, "skipped"]]);
        assert.equal(results[1].reason, "card not processed: This card is being processed in another window.");
        const sent = transport.calls.find((c) => c.method === "offline_sync_orders").payload.orders;
        assert.deepEqual(sent.map((o) => o.uuid), [a.uuid]);
        assert.equal(sent[0].payments[0].card.status, "succeeded");
        assert.equal(sent[0].payments[0].card.envelope, null);
        assert.deepEqual((await store.getAll()).map((r) => r.uuid), [b.uuid]);
    });
});

describe("CardProcessor follow-up", () => {
    it("a card being charged elsewhere shows its outcome by itself, without another click", async () => {
        const store = new MemoryStore();
        const order = makeCardOrder();
        await store.put(order);
        const busy = { v: 1, status: "in_progress", message: "being charged elsewhere" };
        const transport = server([busy, busy, SUCCEEDED]);
        const timers = [];
        const processor = new CardProcessor({
            transport,
            store,
            followUpDelaysMs: [10, 20, 40],
            setTimeout: (fn, ms) => timers.push({ fn, ms }),
        });
        const pay = order.payments[0].uuid;
        assert.equal((await processor.processPayment(order.uuid, pay)).status, "in_progress");
        assert.deepEqual(timers.map((t) => t.ms), [10]);
        timers.shift().fn();
        await processor._inFlight.get(pay);
        assert.deepEqual(timers.map((t) => t.ms), [20], "backs off");
        timers.shift().fn();
        await processor._inFlight.get(pay);
        assert.equal(processor.outcomes[pay].status, "succeeded");
        assert.equal((await store.get(order.uuid)).order.payments[0].card.status, "succeeded");
        assert.equal(timers.length, 0, "stops once the outcome is known");
        assert.equal(transport.calls.length, 3);
    });

    it("gives up after its last wait, leaving the card to a click", async () => {
        const store = new MemoryStore();
        const order = makeCardOrder();
        await store.put(order);
        const busy = { v: 1, status: "in_progress", message: "being charged elsewhere" };
        const transport = server([busy, busy]);
        const timers = [];
        const processor = new CardProcessor({
            transport,
            store,
            followUpDelaysMs: [10],
            setTimeout: (fn, ms) => timers.push({ fn, ms }),
        });
        const pay = order.payments[0].uuid;
        await processor.processPayment(order.uuid, pay);
        timers.shift().fn();
        await processor._inFlight.get(pay);
        assert.equal(timers.length, 0);
        assert.equal(processor.outcomes[pay].status, "in_progress");
    });
});

describe("coalesced refresh", () => {
    it("collapses calls made during a run into one more run, and every caller sees a later run", async () => {
        let runs = 0;
        let release;
        const refresh = coalesced(async () => {
            runs++;
            await new Promise((resolve) => {
                release = resolve;
            });
        });
        const first = refresh();
        const during = Array.from({ length: 10 }, () => refresh());
        assert.equal(runs, 1);
        release();
        await first;
        await new Promise((resolve) => setImmediate(resolve));
        assert.equal(runs, 2); // the ten callers share one run, started after the first
        release();
        await Promise.all(during);
        assert.equal(runs, 2);
        const later = refresh();
        assert.equal(runs, 3);
        release();
        await later;
    });

    it("a failing refresh neither rejects nor blocks the next one", async () => {
        let runs = 0;
        const original = console.error;
        console.error = () => {};
        try {
            const refresh = coalesced(async () => {
                runs++;
                throw new Error("store closed");
            });
            await refresh();
            await refresh();
        } finally {
            console.error = original;
        }
        assert.equal(runs, 2);
    });
});
