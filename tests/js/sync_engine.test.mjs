import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
    SYNC_REASONS,
    SyncEngine,
    SyncError,
} from "../../pos_offline_sync/static/src/core/sync_engine.js";
import { FakeServer } from "./helpers/fake_server.mjs";
import { MemoryStore } from "./helpers/memory_store.mjs";
import { makeOrder } from "./helpers/orders.mjs";

async function setup(count, options = {}) {
    const store = new MemoryStore();
    const orders = [];
    for (let i = 0; i < count; i++) {
        const order = makeOrder();
        orders.push(order);
        await store.put(order);
    }
    const server = new FakeServer();
    const engine = new SyncEngine({
        store,
        transport: server.transport(),
        configId: 1,
        ...options,
    });
    return { store, server, engine, orders, uuids: orders.map((order) => order.uuid) };
}

describe("SyncEngine", () => {
    it("syncs exactly the 2 checked orders of 3 and keeps the third", async () => {
        const { store, server, engine, uuids } = await setup(3);
        const results = await engine.sync([uuids[0], uuids[2]]);
        assert.deepEqual(
            results.map((r) => [r.uuid, r.ok, r.status]),
            [
                [uuids[0], true, "created"],
                [uuids[2], true, "created"],
            ]
        );
        assert.deepEqual([...server.stored.keys()], [uuids[0], uuids[2]]);
        assert.deepEqual(
            (await store.getAll()).map((r) => r.uuid),
            [uuids[1]]
        );
        assert.equal(server.calls.length, 1);
        assert.deepEqual(Object.keys(server.calls[0].payload), ["v", "config_id", "orders"]);
        assert.equal(server.calls[0].payload.v, 1);
        assert.equal(server.calls[0].payload.config_id, 1);
    });

    it("sending the same orders again creates nothing twice", async () => {
        const { server, engine, store, orders, uuids } = await setup(2);
        await engine.sync(uuids);
        // The same orders are queued again (e.g. restored from a CSV backup) and re-sent.
        await store.putMany(orders);
        const again = await engine.sync(uuids);
        assert.deepEqual(
            again.map((r) => r.status),
            ["exists", "exists"]
        );
        assert.ok(again.every((r) => r.ok));
        assert.equal(server.stored.size, 2);
        assert.equal(await store.count(), 0);
    });

    it("keeps failed orders with the server's reason and removes the confirmed ones", async () => {
        const { store, server, engine, uuids } = await setup(3);
        server.refuse.set(uuids[1], "line 1: quantity is not a number");
        const results = await engine.sync(uuids);
        assert.deepEqual(
            results.map((r) => r.ok),
            [true, false, true]
        );
        assert.equal(results[1].status, "error");
        assert.equal(results[1].reason, "line 1: quantity is not a number");
        const left = await store.getAll();
        assert.deepEqual(
            left.map((r) => r.uuid),
            [uuids[1]]
        );
        assert.equal(left[0].last_result.reason, "line 1: quantity is not a number");
        assert.equal(left[0].last_result.ok, false);
    });

    it("removes nothing when the transport rejects, and stops the remaining batches", async () => {
        const { store, server, engine, uuids } = await setup(5, { batchSize: 2 });
        server.failNextCalls = 1;
        const results = await engine.sync(uuids);
        assert.equal(server.calls.length, 1, "no batch after one without an answer");
        assert.deepEqual(
            results.map((r) => r.status),
            ["not_sent", "not_sent", "not_sent", "not_sent", "not_sent"]
        );
        assert.equal(results[0].reason, SYNC_REASONS.NO_ANSWER);
        assert.equal(results[4].reason, SYNC_REASONS.NOT_SENT);
        assert.ok(results.every((r) => r.ok === false));
        assert.equal(await store.count(), 5);
        assert.equal((await store.get(uuids[0])).last_result.reason, SYNC_REASONS.NO_ANSWER);
    });

    it("a lost answer after the server stored the batch, then a retry, creates no duplicate", async () => {
        const { store, server, engine, uuids } = await setup(3);
        server.loseNextAnswers = 1;
        const first = await engine.sync(uuids);
        assert.ok(first.every((r) => !r.ok && r.status === "not_sent"));
        assert.equal(server.stored.size, 3, "the server did store them");
        assert.equal(await store.count(), 3, "the browser could not know: it kept them");
        const retry = await engine.sync(uuids);
        assert.deepEqual(
            retry.map((r) => r.status),
            ["exists", "exists", "exists"]
        );
        assert.equal(server.stored.size, 3);
        assert.equal(await store.count(), 0);
    });

    it("splits 250 orders into batches of 100, 100 and 50 and reports progress", async () => {
        const { store, server, engine, uuids } = await setup(250, {
            batchSize: 100,
            adaptive: false,
        });
        const progress = [];
        const results = await engine.sync(uuids, { onProgress: (p) => progress.push({ ...p }) });
        assert.deepEqual(
            server.calls.map((c) => c.payload.orders.length),
            [100, 100, 50]
        );
        assert.equal(results.length, 250);
        assert.ok(results.every((r) => r.ok));
        assert.equal(await store.count(), 0);
        assert.deepEqual(progress.at(-1), { phase: "send", done: 250, total: 250 });
        assert.deepEqual(
            progress.slice(-3).map((p) => p.done),
            [100, 200, 250]
        );
    });

    it("sends exactly batchSize orders in one call at the boundary", async () => {
        const { server, engine, uuids } = await setup(100, { batchSize: 100, adaptive: false });
        await engine.sync(uuids);
        assert.deepEqual(
            server.calls.map((c) => c.payload.orders.length),
            [100]
        );
    });

    it("reports unknown uuids as missing without sending them", async () => {
        const { server, engine, uuids } = await setup(1);
        const results = await engine.sync([uuids[0], "no-such-uuid"]);
        assert.equal(results[1].status, "missing");
        assert.equal(results[1].ok, false);
        assert.equal(server.calls[0].payload.orders.length, 1);
    });

    it("distrusts an answer whose uuid does not match the order at that position", async () => {
        const { store, engine, uuids } = await setup(2);
        engine.transport = {
            call: async (method, payload) => ({
                v: 1,
                results: payload.orders
                    .map((o) => ({ uuid: o.uuid, ok: true, status: "created" }))
                    .reverse(),
            }),
        };
        const results = await engine.sync(uuids);
        assert.ok(results.every((r) => !r.ok && r.reason === SYNC_REASONS.BAD_ANSWER));
        assert.equal(await store.count(), 2);
    });

    it("passes on the rescue session the server put an order in", async () => {
        const { store, engine, uuids } = await setup(2);
        engine.transport = {
            call: async (method, payload) => ({
                v: 1,
                results: payload.orders.map((o, i) => ({
                    uuid: o.uuid,
                    ok: true,
                    status: "created",
                    ...(i === 0 ? { rescue_session: "Shop/00013 (RESCUE FOR Shop/00012)" } : {}),
                })),
            }),
        };
        const results = await engine.sync(uuids);
        assert.equal(results[0].rescueSession, "Shop/00013 (RESCUE FOR Shop/00012)");
        assert.equal(results[1].rescueSession, null);
        assert.equal(await store.count(), 0);
    });

    it("keeps the orders when the answer has no results list", async () => {
        const { store, engine, uuids } = await setup(2);
        engine.transport = { call: async () => ({ v: 1 }) };
        const results = await engine.sync(uuids);
        assert.ok(results.every((r) => !r.ok));
        assert.equal(await store.count(), 2);
    });

    it("runs beforeSend per order: an updated order is saved and sent, a throw skips it", async () => {
        const { store, server, engine, uuids } = await setup(3);
        engine.beforeSend = async (record) => {
            if (record.uuid === uuids[1]) {
                throw new Error("The card was declined. Ask the customer for another card.");
            }
            if (record.uuid === uuids[2]) {
                return { ...record.order, reference: "processed" };
            }
            return undefined;
        };
        server.refuse.set(uuids[2], "kept to check the saved version");
        const results = await engine.sync(uuids);
        assert.deepEqual(
            results.map((r) => r.status),
            ["created", "skipped", "error"]
        );
        assert.match(results[1].reason, /declined/);
        assert.equal(server.calls[0].payload.orders.length, 2);
        assert.equal(server.calls[0].payload.orders[1].reference, "processed");
        assert.equal((await store.get(uuids[2])).order.reference, "processed");
        assert.match((await store.get(uuids[1])).last_result.reason, /declined/);
    });

    it("refuses a second sync while one runs, and allows one after", async () => {
        const { engine, uuids } = await setup(2);
        let release;
        const slow = engine.transport;
        engine.transport = {
            call: async (method, payload) => {
                await new Promise((resolve) => {
                    release = resolve;
                });
                return slow.call(method, payload);
            },
        };
        const first = engine.sync([uuids[0]]);
        await new Promise((resolve) => setImmediate(resolve));
        await assert.rejects(engine.sync([uuids[1]]), (error) => {
            assert.ok(error instanceof SyncError);
            assert.equal(error.code, "busy");
            return true;
        });
        release();
        assert.equal((await first)[0].ok, true);
        engine.transport = slow;
        assert.equal((await engine.sync([uuids[1]]))[0].ok, true);
    });

    it("rejects a batch size the server would refuse", () => {
        const store = new MemoryStore();
        const transport = new FakeServer().transport();
        assert.throws(() => new SyncEngine({ store, transport, batchSize: 501 }), /batchSize/);
        assert.throws(() => new SyncEngine({ store, transport, batchSize: 0 }), /batchSize/);
    });
});
