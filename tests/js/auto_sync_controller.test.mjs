// The controller's auto-sync glue, with the real scheduler, store double and a scripted server:
// off unless asked, a reconnect sends every waiting order after the settle wait, no answer is
// retried on the scheduler's delays, refusals are not retried, the cashier's sync is never
// doubled. And the page-leave guard (beforeunload) of the readiness issue.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { OfflineController } from "../../pos_offline_sync/static/src/core/offline_controller.js";
import { FakeClock, flush } from "./helpers/fake_clock.mjs";
import { FakeServer } from "./helpers/fake_server.mjs";
import { MemoryStore } from "./helpers/memory_store.mjs";
import { makeOrder } from "./helpers/orders.mjs";

async function create({ autoSync = true, target = new EventTarget(), persistence } = {}) {
    const clock = new FakeClock(1_000_000);
    const server = new FakeServer();
    const store = new MemoryStore();
    const controller = await OfflineController.create({
        dbName: "test",
        configId: 1,
        settings: { allowOfflineMode: true, autoDetect: false, autoSync },
        transport: server.transport(),
        ping: async () => true,
        target,
        store,
        locks: null,
        device: null,
        storage: persistence && {
            persisted: async () => persistence === "persisted",
            persist: async () => persistence === "persisted",
        },
        monitorOptions: {
            setTimeout: clock.setTimeout,
            clearTimeout: clock.clearTimeout,
            now: clock.now,
            random: () => 0.5,
            initialOnline: true,
        },
        autoSyncTiming: {
            settleMs: 5000,
            baseMs: 4000,
            random: () => 0.5,
            now: clock.now,
            setTimeout: clock.setTimeout,
            clearTimeout: clock.clearTimeout,
        },
    });
    return { controller, server, store, clock };
}

async function offlineSales(controller, count) {
    controller.setManualOffline(true);
    const orders = [];
    for (let i = 0; i < count; i++) {
        const order = makeOrder();
        orders.push(order);
        await controller.captureOrder(order);
    }
    return orders;
}

/** Real promise work (the store, the engine) between fake timer steps. */
async function settle() {
    for (let i = 0; i < 20; i++) {
        await flush();
    }
}

describe("OfflineController auto-sync", () => {
    it("is off unless the register's setting is on: nothing leaves by itself", async () => {
        const { controller, server, clock } = await create({ autoSync: false });
        try {
            assert.equal(controller.state.autoSync, null);
            await offlineSales(controller, 2);
            controller.setManualOffline(false);
            await clock.advance(3600_000);
            await settle();
            assert.equal(server.calls.length, 0);
            assert.equal(controller.state.pendingCount, 2);
        } finally {
            controller.destroy();
        }
    });

    it("back online: after the settle wait every waiting order is sent, once", async () => {
        const { controller, server, clock } = await create();
        try {
            const orders = await offlineSales(controller, 3);
            assert.equal(controller.state.autoSync.phase, "idle");
            controller.setManualOffline(false);
            assert.equal(controller.state.autoSync.phase, "waiting");
            await clock.advance(4999);
            await settle();
            assert.equal(server.calls.length, 0);
            await clock.advance(1);
            await settle();
            assert.equal(server.calls.length, 1);
            assert.deepEqual(
                server.calls[0].payload.orders.map((o) => o.uuid).sort(),
                orders.map((o) => o.uuid).sort()
            );
            assert.equal(controller.state.pendingCount, 0);
            assert.equal(controller.state.autoSync.phase, "idle");
            assert.equal(server.stored.size, 3);
        } finally {
            controller.destroy();
        }
    });

    it("no answer twice: retried on the drawn delays, the third call lands", async () => {
        const { controller, server, clock } = await create();
        try {
            await offlineSales(controller, 1);
            server.failNextCalls = 2;
            controller.setManualOffline(false);
            await clock.advance(5000);
            await settle();
            assert.equal(server.calls.length, 1);
            assert.equal(controller.state.autoSync.phase, "retrying");
            await clock.advance(3000); // 4 s window, random 0.5: 3 s
            await settle();
            assert.equal(server.calls.length, 2);
            await clock.advance(5999); // 8 s window: 6 s
            await settle();
            assert.equal(server.calls.length, 2);
            await clock.advance(1);
            await settle();
            assert.equal(server.calls.length, 3);
            assert.equal(controller.state.pendingCount, 0);
            assert.deepEqual(controller.state.autoSync.delays, [3000, 6000]);
            assert.equal(controller.state.autoSync.phase, "idle");
        } finally {
            controller.destroy();
        }
    });

    it("an order the server refuses is not retried by itself (the cashier sees why)", async () => {
        const { controller, server, clock } = await create();
        try {
            const [order] = await offlineSales(controller, 1);
            server.refuse.set(order.uuid, "closed session");
            controller.setManualOffline(false);
            await clock.advance(5000);
            await settle();
            await clock.advance(3600_000);
            await settle();
            assert.equal(server.calls.length, 1);
            assert.equal(controller.state.pendingCount, 1);
            assert.equal(controller.state.autoSync.phase, "idle");
        } finally {
            controller.destroy();
        }
    });

    it("never while the cashier's own sync runs: the turn is put off, nothing doubled", async () => {
        const { controller, server, clock } = await create();
        try {
            const orders = await offlineSales(controller, 2);
            let release;
            const gate = new Promise((resolve) => {
                release = resolve;
            });
            const call = server.call.bind(server);
            server.call = async (method, payload) => {
                await gate;
                return call(method, payload);
            };
            controller.setManualOffline(false);
            const cashier = controller.sync(orders.map((o) => o.uuid));
            await clock.advance(5000 * 4);
            await settle();
            assert.equal(server.calls.length, 0, "the cashier's call still waits on the gate");
            assert.equal(controller.state.autoSync.phase, "waiting");
            release();
            const results = await cashier;
            assert.ok(results.every((r) => r.ok));
            await clock.advance(5000);
            await settle();
            assert.equal(server.calls.length, 1);
            assert.equal(controller.state.autoSync.phase, "idle");
        } finally {
            controller.destroy();
        }
    });

    it("destroyed: the scheduler stops with the register", async () => {
        const { controller, server, clock } = await create();
        await offlineSales(controller, 1);
        controller.setManualOffline(false);
        controller.destroy();
        await clock.advance(3600_000);
        await settle();
        assert.equal(server.calls.length, 0);
    });
});

describe("OfflineController leaving the page", () => {
    function leave(target) {
        const event = new Event("beforeunload", { cancelable: true });
        target.dispatchEvent(event);
        return event.defaultPrevented;
    }

    it("asks only while orders wait and the browser promised nothing", async () => {
        const target = new EventTarget();
        const { controller, server } = await create({
            autoSync: false,
            target,
            persistence: "best-effort",
        });
        try {
            assert.equal(controller.state.persistence, "best-effort");
            assert.equal(leave(target), false, "nothing waiting");
            const orders = await offlineSales(controller, 1);
            assert.equal(leave(target), true);
            controller.setManualOffline(false);
            await controller.sync(orders.map((o) => o.uuid));
            assert.equal(server.stored.size, 1);
            assert.equal(leave(target), false, "synced: nothing to lose");
        } finally {
            controller.destroy();
        }
    });

    it("never asks when the orders are kept (persisted), nor after destroy", async () => {
        const target = new EventTarget();
        const kept = await create({ autoSync: false, target, persistence: "persisted" });
        await offlineSales(kept.controller, 1);
        assert.equal(leave(target), false);
        kept.controller.destroy();
        const other = new EventTarget();
        const loose = await create({ autoSync: false, target: other, persistence: "best-effort" });
        await offlineSales(loose.controller, 1);
        assert.equal(leave(other), true);
        loose.controller.destroy();
        assert.equal(leave(other), false, "the listener goes with the controller");
    });
});
