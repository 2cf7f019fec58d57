import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
    CHANGE_DELAY_MS,
    DeviceReporter,
    HEARTBEAT_MS,
    REPORT_METHOD,
    buildReport,
    waitingSummary,
} from "../../pos_offline_sync/static/src/core/device_reporter.js";
import { OfflineController } from "../../pos_offline_sync/static/src/core/offline_controller.js";
import { ADDON_VERSION } from "../../pos_offline_sync/static/src/core/version.js";
import { FakeClock, flush } from "./helpers/fake_clock.mjs";
import { FakeServer } from "./helpers/fake_server.mjs";
import { MemoryStore } from "./helpers/memory_store.mjs";
import { makeCardOrder, makeOrder, makeReturn } from "./helpers/orders.mjs";

const DEVICE = { id: "0123456789abcdef0123456789abcdef", name: "Front counter" };

/** The DeviceIdentity API over memory (the IndexedDB one is run in Chromium by the e2e tests). */
class MemoryIdentity {
    constructor() {
        this.id = DEVICE.id;
        this.name = DEVICE.name;
        this.seq = 0;
    }
    async nextSeq() {
        this.seq += 1;
        return this.seq;
    }
    async rename(name) {
        this.name = name;
        return name;
    }
    close() {}
}

/** Records the reports sent; can fail calls. */
function reportServer() {
    const server = { reports: [], failNext: 0 };
    server.transport = {
        call: async (method, payload) => {
            assert.equal(method, REPORT_METHOD);
            if (server.failNext > 0) {
                server.failNext--;
                throw new Error("Failed to fetch");
            }
            server.reports.push(structuredClone(payload));
            return { v: 1, applied: true };
        },
    };
    return server;
}

describe("buildReport", () => {
    it("counts the waiting orders, their total and the oldest", () => {
        const a = makeOrder({ amount_total: 0.1, created_at: "2026-11-27T12:00:05.000Z" });
        const b = makeOrder({ amount_total: 0.2, created_at: "2026-11-27T11:00:00.000Z" });
        const refund = makeReturn({ created_at: "2026-11-27T13:00:00.000Z" });
        const summary = waitingSummary([{ order: a }, { order: b }, { order: refund }]);
        assert.deepEqual(summary, { count: 3, total: -3.2, oldest_at: b.created_at });
        assert.deepEqual(waitingSummary([]), { count: 0, total: 0, oldest_at: null });
    });

    it("reports the unprocessed cards and the oldest one's time left", () => {
        const card = makeCardOrder();
        card.created_at = "2026-11-27T10:00:00.000Z";
        const now = Date.parse("2026-11-27T12:30:00.000Z");
        const report = buildReport({
            device: DEVICE,
            seq: 4,
            configId: 1,
            records: [{ order: makeOrder() }, { order: card, created_at: card.created_at }],
            limits: { maxAgeHours: 24 },
            persistence: "persisted",
            cashier: { id: 2, name: " Marc Demo ", pin: "1234" },
            now,
        });
        assert.deepEqual(report.cards, {
            count: 1,
            amount: 7,
            oldest_at: "2026-11-27T10:00:00.000Z",
            seconds_left: (24 - 2.5) * 3600,
        });
        assert.equal(report.waiting.count, 2);
        assert.deepEqual(report.cashier, { id: 2, name: "Marc Demo" });
        assert.equal(report.addon_version, ADDON_VERSION);
        assert.equal(report.at, "2026-11-27T12:30:00.000Z");
        assert.deepEqual(Object.keys(report).sort(), [
            "addon_version",
            "at",
            "cards",
            "cashier",
            "config_id",
            "device_id",
            "device_name",
            "seq",
            "storage",
            "v",
            "waiting",
        ]);
    });

    it("without an age limit, an empty register and an odd persistence", () => {
        const report = buildReport({
            device: DEVICE,
            seq: 1,
            configId: "3",
            records: [],
            persistence: "weird",
            cashier: { id: 0, name: "" },
        });
        assert.equal(report.config_id, 3);
        assert.equal(report.storage, "unknown");
        assert.equal(report.cashier, null);
        assert.deepEqual(report.waiting, { count: 0, total: 0, oldest_at: null });
        assert.deepEqual(report.cards, { count: 0, amount: 0, oldest_at: null, seconds_left: null });
    });
});

function reporter({ clock, server, state, records = [] }) {
    return new DeviceReporter({
        identity: new MemoryIdentity(),
        transport: server.transport,
        configId: 1,
        state,
        listPending: async () => records,
        locks: null,
        lockName: "x:report",
        setTimeout: clock.setTimeout,
        clearTimeout: clock.clearTimeout,
        now: clock.now,
    });
}

describe("DeviceReporter", () => {
    it("reports at once, on the heartbeat, and once per burst of changes", async () => {
        const clock = new FakeClock(Date.parse("2026-11-27T12:00:00Z"));
        const server = reportServer();
        const state = { online: true, persistence: "best-effort" };
        const r = reporter({ clock, server, state });
        r.start();
        await clock.advance(0);
        assert.equal(server.reports.length, 1);
        await clock.advance(HEARTBEAT_MS);
        assert.equal(server.reports.length, 2);
        for (let i = 0; i < 5; i++) {
            r.changed();
            await clock.advance(100);
        }
        await clock.advance(CHANGE_DELAY_MS);
        assert.equal(server.reports.length, 3);
        assert.deepEqual(
            server.reports.map((p) => p.seq),
            [1, 2, 3]
        );
        r.stop();
        await clock.advance(10 * HEARTBEAT_MS);
        assert.equal(server.reports.length, 3);
    });

    it("sends nothing while offline and retries a failed report on the next heartbeat", async () => {
        const clock = new FakeClock(0);
        const server = reportServer();
        const state = { online: false, persistence: "persisted" };
        const r = reporter({ clock, server, state });
        r.start();
        await clock.advance(2 * HEARTBEAT_MS);
        assert.equal(server.reports.length, 0);
        state.online = true;
        server.failNext = 1;
        r.changed();
        await clock.advance(CHANGE_DELAY_MS);
        assert.equal(server.reports.length, 0);
        assert.match(r.lastError, /Failed to fetch/);
        await clock.advance(HEARTBEAT_MS);
        assert.equal(server.reports.length, 1);
        assert.equal(r.lastError, null);
        r.stop();
    });

    it("a change during a report makes one more report after it", async () => {
        const clock = new FakeClock(0);
        const server = reportServer();
        let release;
        const gate = new Promise((resolve) => {
            release = resolve;
        });
        const state = { online: true, persistence: "persisted" };
        const r = new DeviceReporter({
            identity: new MemoryIdentity(),
            transport: server.transport,
            configId: 1,
            state,
            listPending: async () => {
                await gate;
                return [];
            },
            locks: null,
            setTimeout: clock.setTimeout,
            clearTimeout: clock.clearTimeout,
            now: clock.now,
        });
        r.start();
        await clock.advance(0);
        r.changed();
        await clock.advance(CHANGE_DELAY_MS); // the second report waits for the first
        release();
        await clock.advance(0);
        await clock.advance(0);
        assert.equal(server.reports.length, 2);
        r.stop();
    });
});

describe("DeviceReporter.reportFresh", () => {
    it("sends what is waiting now, not what a report in flight read before", async () => {
        const clock = new FakeClock(0);
        const server = reportServer();
        let release;
        const gate = new Promise((resolve) => {
            release = resolve;
        });
        let waiting = [makeOrder()];
        const r = new DeviceReporter({
            identity: new MemoryIdentity(),
            transport: server.transport,
            configId: 1,
            state: { online: true, persistence: "persisted" },
            listPending: async () => {
                const read = waiting;
                await gate;
                return read;
            },
            locks: null,
            setTimeout: clock.setTimeout,
            clearTimeout: clock.clearTimeout,
            now: clock.now,
        });
        r.start();
        await clock.advance(0); // a report in flight has read one waiting order
        waiting = []; // then the order is synced
        const fresh = r.reportFresh();
        release();
        assert.equal(await fresh, true);
        assert.deepEqual(
            server.reports.map((p) => p.waiting.count),
            [1, 0]
        );
        r.stop();
    });
});

describe("OfflineController device reports", () => {
    it("a captured order, then its sync, are each reported", async () => {
        const clock = new FakeClock(Date.parse("2026-11-27T12:00:00Z"));
        const sync = new FakeServer();
        const server = reportServer();
        const transport = {
            call: (method, payload) =>
                method === REPORT_METHOD
                    ? server.transport.call(method, payload)
                    : sync.call(method, payload),
        };
        const identity = new MemoryIdentity();
        const controller = await OfflineController.create({
            dbName: "test",
            configId: 1,
            settings: { allowOfflineMode: true, autoDetect: false },
            transport,
            ping: async () => true,
            target: new EventTarget(),
            store: new MemoryStore(),
            identity,
            locks: null,
            device: {
                getCashier: () => ({ id: 2, name: "Mitchell Admin" }),
                setTimeout: clock.setTimeout,
                clearTimeout: clock.clearTimeout,
                now: clock.now,
            },
            monitorOptions: { initialOnline: true },
        });
        try {
            assert.deepEqual(controller.state.device, DEVICE);
            await clock.advance(0);
            assert.equal(server.reports.at(-1).waiting.count, 0);
            const order = makeOrder();
            await controller.captureOrder(order);
            await clock.advance(CHANGE_DELAY_MS);
            assert.equal(server.reports.at(-1).waiting.count, 1);
            assert.equal(server.reports.at(-1).waiting.oldest_at, order.created_at);
            assert.equal(server.reports.at(-1).cashier.name, "Mitchell Admin");
            await controller.sync([order.uuid]);
            await clock.advance(CHANGE_DELAY_MS);
            assert.equal(server.reports.at(-1).waiting.count, 0);
            await controller.renameDevice("Back counter");
            await clock.advance(CHANGE_DELAY_MS);
            assert.equal(server.reports.at(-1).device_name, "Back counter");
            assert.equal(controller.state.device.name, "Back counter");
        } finally {
            controller.destroy();
            await flush();
        }
    });
});
