import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
    OFFLINE_NOT_ALLOWED_MESSAGE,
    OfflineController,
    SYNC_OFFLINE_MESSAGE,
} from "../../pos_offline_sync/static/src/core/offline_controller.js";
import { OfflineOrderError } from "../../pos_offline_sync/static/src/core/order_model.js";
import { FakeClock } from "./helpers/fake_clock.mjs";
import { FakeServer } from "./helpers/fake_server.mjs";
import { MemoryStore } from "./helpers/memory_store.mjs";
import { cardPayment, makeOrder, makeReturn } from "./helpers/orders.mjs";

async function create({ settings, store = new MemoryStore(), ping, clock = new FakeClock() } = {}) {
    const server = new FakeServer();
    const controller = await OfflineController.create({
        dbName: "test",
        configId: 1,
        settings: settings ?? { allowOfflineMode: true, autoDetect: false },
        transport: server.transport(),
        ping: ping ?? (async () => true),
        target: new EventTarget(),
        store,
        monitorOptions: {
            setTimeout: clock.setTimeout,
            clearTimeout: clock.clearTimeout,
            now: clock.now,
            random: () => 0.5,
            initialOnline: true,
        },
    });
    return { controller, server, store, clock };
}

/** Counts the controller's refreshes (each still runs). */
function countRefreshes(controller) {
    const counter = { count: 0 };
    const refresh = controller.refresh.bind(controller);
    controller.refresh = async () => {
        counter.count += 1;
        await refresh();
    };
    return counter;
}

/** Waits past the capture's refresh delay (300 ms, real timers). */
function pastRefreshDelay() {
    return new Promise((resolve) => setTimeout(resolve, 450));
}

describe("OfflineController", () => {
    it("with offline mode off captures nothing and never goes offline", async () => {
        const { controller, store } = await create({
            settings: { allowOfflineMode: false, autoDetect: true },
        });
        try {
            assert.equal(controller.state.enabled, false);
            assert.equal(controller.state.autoDetect, false);
            controller.toggleManualOffline();
            assert.equal(controller.state.online, true);
            assert.equal(controller.shouldCaptureOffline(), false);
            await assert.rejects(controller.captureOrder(makeOrder()), {
                message: OFFLINE_NOT_ALLOWED_MESSAGE,
            });
            assert.equal(await store.count(), 0);
        } finally {
            controller.destroy();
        }
    });

    it("manual offline: captures orders, counts them and refuses to sync", async () => {
        const { controller, server } = await create();
        try {
            assert.equal(controller.shouldCaptureOffline(), false);
            assert.equal(controller.toggleManualOffline(), false);
            assert.equal(controller.state.online, false);
            assert.equal(controller.state.manualOffline, true);
            assert.equal(controller.shouldCaptureOffline(), true);
            const order = makeOrder();
            const record = await controller.captureOrder(order);
            assert.equal(record.uuid, order.uuid);
            await controller.captureOrder(makeOrder());
            assert.equal(controller.state.pendingCount, 2);
            assert.equal(controller.state.oldestPendingAt, order.created_at);
            await assert.rejects(controller.sync([order.uuid]), { message: SYNC_OFFLINE_MESSAGE });
            assert.equal(server.calls.length, 0);
        } finally {
            controller.destroy();
        }
    });

    it("a capture resolves before its refresh, and captures in a row share one", async () => {
        const { controller } = await create();
        const refreshes = countRefreshes(controller);
        try {
            controller.toggleManualOffline();
            await controller.captureOrder(makeOrder());
            await controller.captureOrder(makeOrder());
            await controller.captureOrder(makeOrder());
            // The receipt is shown on this count, the write's own; no re-read stood before it.
            assert.equal(controller.state.pendingCount, 3);
            assert.equal(refreshes.count, 0);
            await pastRefreshDelay();
            assert.equal(refreshes.count, 1);
            assert.equal(controller.state.pendingCount, 3);
        } finally {
            controller.destroy();
        }
    });

    it("a controller destroyed before its capture's refresh never refreshes", async () => {
        const { controller } = await create();
        const refreshes = countRefreshes(controller);
        controller.toggleManualOffline();
        await controller.captureOrder(makeOrder());
        controller.destroy();
        await pastRefreshDelay();
        assert.equal(refreshes.count, 0);
    });

    it("keeps the manual switch across a reload", async () => {
        const store = new MemoryStore();
        const first = await create({ store });
        first.controller.toggleManualOffline();
        await new Promise((resolve) => setImmediate(resolve));
        first.controller.destroy();
        const second = await create({ store });
        try {
            assert.equal(second.controller.state.manualOffline, true);
            assert.equal(second.controller.state.online, false);
        } finally {
            second.controller.destroy();
        }
    });

    it("refuses an invalid order and stores nothing", async () => {
        const { controller, store } = await create();
        try {
            controller.toggleManualOffline();
            const bad = makeOrder();
            bad.lines[0].qty = "two";
            await assert.rejects(controller.captureOrder(bad), OfflineOrderError);
            assert.equal(await store.count(), 0);
            assert.equal(controller.state.pendingCount, 0);
        } finally {
            controller.destroy();
        }
    });

    it("syncs the checked orders once online and records each result", async () => {
        const { controller, server, store } = await create();
        try {
            controller.toggleManualOffline();
            const orders = [makeOrder(), makeOrder(), makeOrder()];
            for (const order of orders) {
                await controller.captureOrder(order);
            }
            controller.toggleManualOffline();
            server.refuse.set(orders[1].uuid, "unknown product 12");
            const progress = [];
            const results = await controller.sync(
                orders.slice(0, 2).map((o) => o.uuid),
                { onProgress: (p) => progress.push(p) }
            );
            assert.deepEqual(
                results.map((r) => r.ok),
                [true, false]
            );
            assert.equal(controller.state.pendingCount, 2);
            assert.equal(controller.state.syncing, false);
            assert.deepEqual(controller.state.progress, { phase: "send", done: 2, total: 2 });
            assert.equal(controller.state.lastResults[orders[1].uuid].reason, "unknown product 12");
            assert.equal(controller.state.lastResults[orders[0].uuid].ok, true);
            assert.deepEqual(progress.at(-1), { phase: "send", done: 2, total: 2 });
            assert.deepEqual(
                (await store.getAll()).map((r) => r.uuid),
                [orders[1].uuid, orders[2].uuid]
            );
        } finally {
            controller.destroy();
        }
    });

    it("lists light records without lines or card envelopes", async () => {
        const { controller } = await create();
        try {
            controller.toggleManualOffline();
            const order = makeOrder();
            order.payments = [cardPayment()];
            await controller.captureOrder(order);
            const [listed] = await controller.listPending();
            assert.equal(listed.uuid, order.uuid);
            assert.equal(listed.summary, true);
            assert.equal(listed.order.reference, order.reference);
            assert.equal(listed.order.customer.name, "Deco Addict");
            assert.equal(listed.order.payments[0].card.status, "unprocessed");
            assert.equal(listed.order.lines, undefined);
            assert.ok(!JSON.stringify(listed).includes("envelope"));
            const full = await controller.getRecord(order.uuid);
            assert.equal(full.order.payments[0].card.envelope.kid, "k1");
        } finally {
            controller.destroy();
        }
    });

    it("exports the checked sales orders and leaves returns out", async () => {
        const { controller } = await create();
        try {
            controller.toggleManualOffline();
            const sale = makeOrder();
            const refund = makeReturn();
            await controller.captureOrder(sale);
            await controller.captureOrder(refund);
            const result = await controller.exportCsv([sale.uuid, refund.uuid]);
            assert.equal(result.exported, 1);
            assert.equal(result.skippedReturns, 1);
            assert.match(result.filename, /^offline-orders-1-\d{8}-\d{4}\.csv$/);
            assert.ok(result.csv.includes(sale.uuid));
            assert.ok(!result.csv.includes(refund.uuid));
        } finally {
            controller.destroy();
        }
    });

    it("keeps the count of another tab of the same register in step", async () => {
        const store = new MemoryStore();
        const first = await create({ store });
        const second = await create({ store });
        try {
            first.controller.toggleManualOffline();
            await first.controller.captureOrder(makeOrder());
            for (let i = 0; i < 50 && second.controller.state.pendingCount !== 1; i++) {
                await new Promise((resolve) => setTimeout(resolve, 5));
            }
            assert.equal(second.controller.state.pendingCount, 1);
        } finally {
            first.controller.destroy();
            second.controller.destroy();
        }
    });

    it("auto-detect: two failed pings take the state offline by themselves", async () => {
        const answers = [false, false, true];
        const clock = new FakeClock();
        const { controller } = await create({
            settings: { allowOfflineMode: true, autoDetect: true },
            clock,
            ping: async () => {
                if (answers.shift() === false) {
                    throw new Error("down");
                }
                return true;
            },
        });
        try {
            await clock.advance(2000);
            assert.equal(controller.state.online, false);
            assert.equal(controller.state.manualOffline, false);
            assert.equal(controller.shouldCaptureOffline(), true);
            await clock.advance(2000);
            assert.equal(controller.state.online, true);
        } finally {
            controller.destroy();
        }
    });
});
