// The engine's batch sizing and the server's "deferred" answers (issue 10): sizes follow the
// measured time per order within 1..500, deferred orders are kept and sent again at once, and
// the engine yields to the event loop between batches and while preparing many orders.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
    DEFAULT_BATCH_SIZE,
    MAX_BATCH_SIZE,
    MAX_IDLE_BATCHES,
    SYNC_REASONS,
    SyncEngine,
    TARGET_REQUEST_MS,
    nextBatchSize,
} from "../../pos_offline_sync/static/src/core/sync_engine.js";
import { FakeServer } from "./helpers/fake_server.mjs";
import { MemoryStore } from "./helpers/memory_store.mjs";
import { makeOrder } from "./helpers/orders.mjs";

async function setup(count, options = {}) {
    const store = new MemoryStore();
    const orders = [];
    for (let i = 0; i < count; i++) {
        orders.push(makeOrder());
    }
    await store.putMany(orders);
    const server = new FakeServer();
    const clock = { time: 0 };
    server.clock = clock;
    const engine = new SyncEngine({
        store,
        transport: server.transport(),
        configId: 1,
        now: () => clock.time,
        yieldToLoop: async () => {},
        ...options,
    });
    return { store, server, engine, clock, uuids: orders.map((order) => order.uuid) };
}

const sizesSent = (server) => server.calls.map((call) => call.payload.orders.length);

describe("nextBatchSize", () => {
    it("aims at the target time per request, growing at most twice as large", () => {
        // 10 ms an order: 300 fit in 3 s, reached by doubling.
        const at = (size) => nextBatchSize({ size, sent: size, processed: size, elapsedMs: size * 10 });
        assert.equal(TARGET_REQUEST_MS, 3000);
        assert.equal(at(20), 40);
        assert.equal(at(160), 300);
        assert.equal(at(300), 300);
        assert.equal(at(500), 300, "shrinks at once, without a floor of half");
    });

    it("stays within 1..500 at every extreme", () => {
        const fast = { size: 400, sent: 400, processed: 400, elapsedMs: 0 };
        assert.equal(nextBatchSize(fast), MAX_BATCH_SIZE);
        const slow = { size: 20, sent: 20, processed: 20, elapsedMs: 20 * 60_000 };
        assert.equal(nextBatchSize(slow), 1);
        assert.equal(nextBatchSize({ size: 1, sent: 1, processed: 0, elapsedMs: 5 }), 1);
        assert.equal(nextBatchSize({ size: 1, sent: 1, processed: 1, elapsedMs: 9e9 }), 1);
    });

    it("never asks more than the server stored when it deferred some", () => {
        // 500 sent, 28 stored in 10 s (355 ms each): 8 fit in 3 s.
        assert.equal(nextBatchSize({ size: 500, sent: 500, processed: 28, elapsedMs: 10_000 }), 8);
        // Fast orders but the server stopped at 30 (its budget): not more than 30 next.
        assert.equal(nextBatchSize({ size: 100, sent: 100, processed: 30, elapsedMs: 30 }), 30);
        // Nothing stored at all: half the size.
        assert.equal(nextBatchSize({ size: 100, sent: 100, processed: 0, elapsedMs: 50 }), 50);
    });
});

describe("SyncEngine batch sizes", () => {
    it("starts small and grows to the target with a fast server, then reports the sizes", async () => {
        const { server, engine, store, uuids } = await setup(2000);
        server.msPerOrder = 10;
        const results = await engine.sync(uuids);
        assert.ok(results.every((r) => r.ok));
        assert.equal(DEFAULT_BATCH_SIZE, 50);
        const expected = [50, 100, 200, 300, 300, 300, 300, 300, 150];
        assert.deepEqual(engine.lastBatchSizes, expected);
        assert.deepEqual(sizesSent(server), expected);
        assert.equal(await store.count(), 0);
    });

    it("sizes from the server's own time when it says, not from its wait for its turn", async () => {
        // Each request first waits 20 s for other registers' syncs of the config (the
        // server's turn), then stores at 10 ms an order and says so in store_ms.
        const { server, engine, clock, uuids } = await setup(700);
        server.msPerOrder = 10;
        const send = server.call.bind(server);
        server.call = async (method, payload) => {
            clock.time += 20_000;
            const before = clock.time;
            const answer = await send(method, payload);
            return { ...answer, store_ms: clock.time - before };
        };
        const results = await engine.sync(uuids);
        assert.ok(results.every((r) => r.ok));
        assert.deepEqual(engine.lastBatchSizes, [50, 100, 200, 300, 50]);
        // The same server without store_ms: the waits make every order look slow.
        const other = await setup(100);
        other.server.msPerOrder = 10;
        const plain = other.server.call.bind(other.server);
        other.server.call = async (method, payload) => {
            other.clock.time += 20_000;
            return plain(method, payload);
        };
        await other.engine.sync(other.uuids);
        assert.deepEqual(other.engine.lastBatchSizes.slice(0, 3), [50, 7, 1]);
    });

    it("shrinks as soon as the server slows down, and never goes under 1", async () => {
        const { server, engine, uuids } = await setup(100, { batchSize: 20 });
        const send = server.call.bind(server);
        const perCall = [10, 1000]; // ms an order in the first calls, then slower than the target
        server.call = async (method, payload) => {
            server.msPerOrder = perCall[server.calls.length] ?? 60_000;
            return send(method, payload);
        };
        const results = await engine.sync(uuids);
        assert.ok(results.every((r) => r.ok));
        // 20 at 10 ms: 40 (twice); 40 at 1 s: 3 fit in 3 s; 3 at 60 s: 1, the floor.
        assert.deepEqual(engine.lastBatchSizes.slice(0, 5), [20, 40, 3, 1, 1]);
        assert.equal(engine.lastBatchSizes.length, 3 + 37);
        assert.equal(engine.batchSize, 1);
    });

    it("keeps a fixed size when adaptive is off", async () => {
        const { server, engine, uuids } = await setup(250, { batchSize: 100, adaptive: false });
        server.msPerOrder = 1;
        await engine.sync(uuids);
        assert.deepEqual(sizesSent(server), [100, 100, 50]);
    });

    it("starts the next sync from the size it learned", async () => {
        const { server, engine, uuids } = await setup(400);
        server.msPerOrder = 10;
        await engine.sync(uuids.slice(0, 300)); // 20, 40, 80, 160 -> 300 next
        assert.equal(engine.batchSize, 300);
        await engine.sync(uuids.slice(300));
        assert.deepEqual(engine.lastBatchSizes, [100]);
    });
});

describe("SyncEngine and deferred orders", () => {
    it("keeps the deferred orders, sends them first in the next batch, refuses none", async () => {
        const { server, engine, store, uuids } = await setup(8, { batchSize: 5, adaptive: false });
        server.ordersPerCall = 3;
        const progress = [];
        const rememberedMidway = [];
        const send = server.call.bind(server);
        server.call = async (method, payload) => {
            // What the browser holds for the deferred orders when it sends them again.
            for (const order of payload.orders) {
                const record = await store.get(order.uuid);
                rememberedMidway.push(record.last_result ?? null);
            }
            return send(method, payload);
        };
        const results = await engine.sync(uuids, { onProgress: (p) => progress.push({ ...p }) });
        assert.deepEqual(
            server.calls.map((c) => c.payload.orders.map((o) => uuids.indexOf(o.uuid))),
            [
                [0, 1, 2, 3, 4],
                [3, 4, 5, 6, 7],
                [6, 7],
            ]
        );
        assert.ok(results.every((r) => r.ok && r.status === "created"), "all stored once");
        assert.equal(server.stored.size, 8);
        assert.equal(await store.count(), 0);
        assert.ok(rememberedMidway.every((r) => r === null), "a deferral is not noted as a refusal");
        assert.deepEqual(
            progress.filter((p) => p.phase === "send").map((p) => p.done),
            [0, 0, 3, 6, 8],
            "deferred orders are not counted as done"
        );
    });

    it("sizes the next batch to what the server stored in its budget", async () => {
        const { server, engine, uuids } = await setup(100, { batchSize: 50 });
        server.ordersPerCall = 10;
        server.msPerOrder = 1;
        await engine.sync(uuids);
        assert.equal(sizesSent(server)[0], 50);
        assert.ok(sizesSent(server).slice(1).every((n) => n <= 20), sizesSent(server));
        assert.equal(server.stored.size, 100);
    });

    it("gives up, keeping the orders, when the server stores nothing batch after batch", async () => {
        const { server, engine, store, uuids } = await setup(40, { batchSize: 20 });
        server.ordersPerCall = 0;
        const results = await engine.sync(uuids);
        assert.equal(server.calls.length, MAX_IDLE_BATCHES);
        assert.deepEqual(sizesSent(server), [20, 10, 5]);
        assert.ok(results.every((r) => !r.ok && r.status === "not_sent"));
        assert.ok(results.every((r) => r.reason === SYNC_REASONS.DEFERRED), results[0].reason);
        assert.equal(await store.count(), 40, "nothing removed");
        assert.equal(server.stored.size, 0);
    });

    it("a deferred order the server then refuses keeps the refusal", async () => {
        const { server, engine, store, uuids } = await setup(4, { batchSize: 4, adaptive: false });
        server.ordersPerCall = 2;
        server.refuse.set(uuids[3], "line 1: unknown product 99");
        const results = await engine.sync(uuids);
        assert.deepEqual(
            results.map((r) => r.status),
            ["created", "created", "created", "error"]
        );
        assert.equal((await store.get(uuids[3])).last_result.reason, "line 1: unknown product 99");
    });
});

describe("SyncEngine yields to the event loop", () => {
    it("between batches and every slice while preparing 5,000 cash orders", async () => {
        let time = 0;
        let yields = 0;
        const yieldsAt = [];
        const { server, engine, uuids } = await setup(5000, {
            batchSize: 500,
            adaptive: false,
            now: () => (time += 1), // each look at the clock: 1 ms of work
            yieldToLoop: async () => {
                yields++;
                yieldsAt.push(server.calls.length);
            },
            beforeSend: async (record) => record.order,
        });
        await engine.sync(uuids);
        const whilePreparing = yieldsAt.filter((calls) => calls === 0).length;
        assert.ok(whilePreparing >= 5000 / 25 / 2, `only ${whilePreparing} yields while preparing`);
        assert.equal(server.calls.length, 10);
        assert.ok(yields - whilePreparing >= 9, "one yield between each two batches");
    });
});
