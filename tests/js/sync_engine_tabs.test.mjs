// SyncEngine's side of one sync at a time across tabs and of the sync log: it reads the orders
// only once it holds the lock (so what another tab synced meanwhile comes back "missing" and is
// never re-sent), a hung request ends as "no answer" (the lock is not kept for good), and every
// batch of one sync carries the same `sync` id. The browser's real Web Locks are exercised in
// Chromium (tests/e2e/test_tabs_sync_lock_e2e.py); here a lock is any object with run().

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { SYNC_REASONS, SyncEngine } from "../../pos_offline_sync/static/src/core/sync_engine.js";
import { FakeServer } from "./helpers/fake_server.mjs";
import { MemoryStore } from "./helpers/memory_store.mjs";
import { makeOrder } from "./helpers/orders.mjs";

/** One holder at a time, in request order (what navigator.locks gives per name). */
class Mutex {
    constructor() {
        this.tail = Promise.resolve();
        this.waits = 0;
    }
    run(fn, { onWait } = {}) {
        const before = this.tail;
        let release;
        this.tail = new Promise((resolve) => {
            release = resolve;
        });
        if (this.busy) {
            this.waits++;
            onWait?.();
        }
        this.busy = true;
        return before.then(async () => {
            try {
                return await fn();
            } finally {
                this.busy = false;
                release();
            }
        });
    }
}

async function filled(count) {
    const store = new MemoryStore();
    const orders = [];
    for (let i = 0; i < count; i++) {
        orders.push(makeOrder());
        await store.put(orders.at(-1));
    }
    return { store, uuids: orders.map((o) => o.uuid) };
}

describe("SyncEngine across tabs", () => {
    it("two engines on one store and one lock send each order once", async () => {
        const { store, uuids } = await filled(5);
        const server = new FakeServer();
        const lock = new Mutex();
        const first = new SyncEngine({ store, transport: server.transport(), configId: 1, lock });
        const second = new SyncEngine({ store, transport: server.transport(), configId: 1, lock });
        let waited = false;
        const [a, b] = await Promise.all([
            first.sync(uuids),
            second.sync(uuids, { onWait: () => (waited = true) }),
        ]);
        assert.equal(waited, true);
        assert.ok(a.every((r) => r.ok));
        assert.deepEqual(
            b.map((r) => r.status),
            uuids.map(() => "missing")
        );
        assert.equal(server.calls.length, 1);
        assert.equal(server.stored.size, 5);
        assert.equal(await store.count(), 0);
    });

    it("a request never answered ends as no answer and frees the lock", async () => {
        const { store, uuids } = await filled(2);
        const hung = { call: () => new Promise(() => {}) };
        const lock = new Mutex();
        const engine = new SyncEngine({
            store,
            transport: hung,
            configId: 1,
            lock,
            requestTimeoutMs: 30,
        });
        const results = await engine.sync(uuids);
        assert.deepEqual(
            results.map((r) => [r.status, r.reason]),
            uuids.map(() => ["not_sent", SYNC_REASONS.NO_ANSWER])
        );
        assert.equal(await store.count(), 2);
        assert.equal(engine.running, false);
        // The next sync gets the lock at once.
        const server = new FakeServer();
        engine.transport = server.transport();
        assert.ok((await engine.sync(uuids)).every((r) => r.ok));
    });

    it("every batch of one sync carries the same sync id, a new sync a new one", async () => {
        const { store, uuids } = await filled(5);
        const server = new FakeServer();
        const engine = new SyncEngine({
            store,
            transport: server.transport(),
            configId: 1,
            batchSize: 2,
            describeSync: () => ({ device_id: "d".repeat(32), cashier: "Marc Demo" }),
        });
        await engine.sync(uuids.slice(0, 4));
        await engine.sync(uuids.slice(4));
        const metas = server.calls.map((c) => c.payload.sync);
        assert.equal(metas.length, 3);
        assert.equal(metas[0].id, metas[1].id);
        assert.notEqual(metas[1].id, metas[2].id);
        assert.match(metas[0].id, /^[0-9a-f]{32}$/);
        assert.deepEqual(
            { ...metas[0], id: undefined },
            { id: undefined, device_id: "d".repeat(32), cashier: "Marc Demo" }
        );
        const plain = new SyncEngine({ store, transport: server.transport(), configId: 1 });
        await store.put(makeOrder());
        await plain.sync(await store.getAllUuids());
        assert.equal("sync" in server.calls.at(-1).payload, false);
    });
});
