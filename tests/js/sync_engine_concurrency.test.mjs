// SyncEngine's bounded concurrency of beforeSend (card processing before the sync): at most N
// cards in flight, results in the requested order whatever order the answers come in, one
// failure never stops the others, never two calls for one order at once. The card processor is
// the real one; the server is a scripted transport (tests/e2e/cards run the real server).
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { CardProcessor } from "../../pos_offline_sync/static/src/core/card_processing.js";
import {
    DEFAULT_CONCURRENCY,
    SyncEngine,
    SyncError,
    mapBounded,
} from "../../pos_offline_sync/static/src/core/sync_engine.js";
import { FakeServer } from "./helpers/fake_server.mjs";
import { MemoryStore } from "./helpers/memory_store.mjs";
import { FAKE_ENVELOPE, makeCardOrder, makeOrder } from "./helpers/orders.mjs";


const tick = () => new Promise((resolve) => setImmediate(resolve));

/**
 * The sync server (FakeServer) plus a card endpoint that holds every card call until the test
 * answers it, counting the calls in flight.
 */
class CardServer extends FakeServer {
    constructor() {
        super();
        this.pending = []; // {payload, resolve, reject}
        this.inFlight = 0;
        this.maxInFlight = 0;
        this.cardCalls = [];
        this.autoAnswer = null; // (payload) => outcome | Error, answered on the next turn
    }

    async call(method, payload) {
        if (method !== "offline_process_card") {
            return super.call(method, payload);
        }
        this.cardCalls.push(payload);
        this.inFlight++;
        this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
        try {
            return await new Promise((resolve, reject) => {
                const entry = { payload, resolve, reject };
                if (this.autoAnswer) {
                    setImmediate(() => this.answer(entry, this.autoAnswer(payload)));
                } else {
                    this.pending.push(entry);
                }
            });
        } finally {
            this.inFlight--;
        }
    }

    answer(entry, outcome) {
        if (outcome instanceof Error) {
            entry.reject(outcome);
        } else {
            entry.resolve(outcome);
        }
    }

    /** Waits until `n` card calls are held (the engine started them all). */
    async held(n) {
        for (let i = 0; i < 1000 && this.pending.length < n; i++) {
            await tick();
        }
        assert.equal(this.pending.length, n, `expected ${n} card calls in flight`);
    }
}

function succeeded(payload) {
    return {
        v: 1,
        status: "succeeded",
        payment_intent_id: `pi_${payload.order_uuid}`,
        message: "Approved",
        brand: "visa",
        last4: "4242",
    };
}

async function setup(count, engineOptions = {}, makeOne = makeCardOrder) {
    const store = new MemoryStore();
    const orders = [];
    for (let i = 0; i < count; i++) {
        orders.push(makeOne(i));
        await store.put(orders.at(-1));
    }
    const server = new CardServer();
    const transport = server.transport();
    const processor = new CardProcessor({ transport, store });
    const engine = new SyncEngine({
        store,
        transport,
        configId: 1,
        beforeSend: processor.beforeSend,
        ...engineOptions,
    });
    return { store, server, engine, orders, uuids: orders.map((o) => o.uuid) };
}

describe("SyncEngine card concurrency", () => {
    it("runs at most 4 card calls at once by default, and all 10 get charged", async () => {
        assert.equal(DEFAULT_CONCURRENCY, 4);
        const { server, engine, uuids, store } = await setup(10);
        server.autoAnswer = succeeded;
        const results = await engine.sync(uuids);
        assert.equal(server.maxInFlight, 4);
        assert.equal(server.cardCalls.length, 10);
        assert.ok(results.every((r) => r.ok));
        assert.equal(await store.count(), 0);
        const sent = server.calls.filter((c) => c.method === "offline_sync_orders");
        assert.equal(sent.length, 1);
        assert.ok(sent[0].payload.orders.every((o) => o.payments[0].card.status === "succeeded"));
    });

    it("concurrency 1 processes one order at a time", async () => {
        const { server, engine, uuids } = await setup(5, { concurrency: 1 });
        server.autoAnswer = succeeded;
        const results = await engine.sync(uuids);
        assert.equal(server.maxInFlight, 1);
        assert.deepEqual(
            server.cardCalls.map((p) => p.order_uuid),
            uuids
        );
        assert.ok(results.every((r) => r.ok));
    });

    it("a per-sync concurrency overrides the engine's", async () => {
        const { server, engine, uuids } = await setup(8, { concurrency: 1 });
        server.autoAnswer = succeeded;
        await engine.sync(uuids, { concurrency: 3 });
        assert.equal(server.maxInFlight, 3);
    });

    it("keeps results and the sent batch in the requested order when answers come reversed", async () => {
        const { server, engine, uuids } = await setup(4);
        const done = engine.sync(uuids);
        await server.held(4);
        // Answer the last first: finishing order must not leak into results or the batch.
        for (const entry of [...server.pending].reverse()) {
            server.answer(entry, succeeded(entry.payload));
            await tick();
        }
        const results = await done;
        assert.deepEqual(
            results.map((r) => r.uuid),
            uuids
        );
        const batch = server.calls.find((c) => c.method === "offline_sync_orders").payload;
        assert.deepEqual(
            batch.orders.map((o) => o.uuid),
            uuids
        );
    });

    it("a failing card does not stop the others and keeps its own order waiting", async () => {
        const { server, engine, uuids, store } = await setup(6, { concurrency: 3 });
        const bad = new Set([uuids[1], uuids[4]]);
        server.autoAnswer = (payload) => {
            if (payload.order_uuid === uuids[1]) {
                return new Error("Failed to fetch"); // no answer at all
            }
            if (payload.order_uuid === uuids[4]) {
                return { v: 1, status: "retry", message: "Stripe could not be reached. Try again." };
            }
            return succeeded(payload);
        };
        const results = await engine.sync(uuids);
        assert.deepEqual(
            results.map((r) => [r.uuid, r.ok, r.status]),
            uuids.map((uuid) => [uuid, !bad.has(uuid), bad.has(uuid) ? "skipped" : "created"])
        );
        assert.match(results[1].reason, /^card not processed: No answer from the server/);
        assert.equal(results[4].reason, "card not processed: Stripe could not be reached. Try again.");
        const left = await store.getAll();
        assert.deepEqual(
            left.map((r) => r.uuid),
            [uuids[1], uuids[4]]
        );
        // The envelope stays so the card can be processed later; the reason is kept beside it.
        assert.deepEqual(left[0].order.payments[0].card.envelope, FAKE_ENVELOPE);
        assert.equal(left[0].last_result.status, "skipped");
    });

    it("a beforeSend that throws at once only skips its own order", async () => {
        const store = new MemoryStore();
        const orders = [makeOrder(), makeOrder(), makeOrder()];
        await store.putMany(orders);
        const server = new FakeServer();
        const engine = new SyncEngine({
            store,
            transport: server.transport(),
            configId: 1,
            beforeSend: (record) => {
                if (record.uuid === orders[0].uuid) {
                    throw new Error("refused before any await");
                }
                return record.order;
            },
        });
        const results = await engine.sync(orders.map((o) => o.uuid));
        assert.deepEqual(
            results.map((r) => [r.ok, r.status]),
            [
                [false, "skipped"],
                [true, "created"],
                [true, "created"],
            ]
        );
        assert.equal(results[0].reason, "refused before any await");
    });

    it("never runs two beforeSend for the same order at once, even when asked twice", async () => {
        const store = new MemoryStore();
        const orders = Array.from({ length: 6 }, () => makeOrder());
        await store.putMany(orders);
        const running = new Set();
        const calls = [];
        let overlap = false;
        let maxRunning = 0;
        const engine = new SyncEngine({
            store,
            transport: new FakeServer().transport(),
            configId: 1,
            beforeSend: async (record) => {
                overlap ||= running.has(record.uuid);
                running.add(record.uuid);
                maxRunning = Math.max(maxRunning, running.size);
                calls.push(record.uuid);
                await tick();
                await tick();
                running.delete(record.uuid);
                return record.order;
            },
        });
        const uuids = orders.map((o) => o.uuid);
        const results = await engine.sync([...uuids, ...uuids, uuids[0]]);
        assert.equal(overlap, false);
        assert.equal(maxRunning, 4);
        assert.deepEqual(calls.sort(), [...uuids].sort());
        assert.deepEqual(
            results.map((r) => r.uuid),
            uuids
        );
        // A second sync while the first runs is refused, so it cannot start a second card call.
        const first = engine.sync(uuids);
        await assert.rejects(engine.sync(uuids), (e) => e instanceof SyncError && e.code === "busy");
        await first;
    });

    it("reports card progress with its phase, then the send phase", async () => {
        const { server, engine, uuids } = await setup(5, { concurrency: 2 });
        server.autoAnswer = succeeded;
        const progress = [];
        await engine.sync(uuids, { onProgress: (p) => progress.push({ ...p }) });
        const cards = progress.filter((p) => p.phase === "cards");
        assert.deepEqual(
            cards.map((p) => p.done),
            [0, 1, 2, 3, 4, 5]
        );
        assert.ok(cards.every((p) => p.total === 5));
        const lastCard = progress.lastIndexOf(cards.at(-1));
        assert.ok(progress.slice(lastCard + 1).every((p) => p.phase === "send"));
        assert.deepEqual(progress.at(-1), { phase: "send", done: 5, total: 5 });
    });

    it("refuses a concurrency that is not an integer from 1 to 16", async () => {
        const { engine, uuids } = await setup(1);
        for (const bad of [0, -1, 1.5, 17, "4", null]) {
            assert.throws(
                () => new SyncEngine({ store: new MemoryStore(), transport: { call() {} }, concurrency: bad }),
                (e) => e instanceof SyncError && e.code === "input",
                String(bad)
            );
            await assert.rejects(engine.sync(uuids, { concurrency: bad }), SyncError, String(bad));
        }
    });
});

describe("mapBounded", () => {
    it("keeps the items' order and never exceeds the limit", async () => {
        let inFlight = 0;
        let max = 0;
        const out = await mapBounded([5, 1, 4, 2, 3], 2, async (value, index) => {
            inFlight++;
            max = Math.max(max, inFlight);
            for (let i = 0; i < value; i++) {
                await tick();
            }
            inFlight--;
            return `${index}:${value}`;
        });
        assert.deepEqual(out, ["0:5", "1:1", "2:4", "3:2", "4:3"]);
        assert.equal(max, 2);
        assert.deepEqual(await mapBounded([], 4, async () => 1), []);
    });
});
