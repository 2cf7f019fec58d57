import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
    AUTO_SYNC_MAX_MS,
    AutoSyncScheduler,
    backoffDelay,
} from "../../pos_offline_sync/static/src/core/auto_sync.js";
import { FakeClock, flush } from "./helpers/fake_clock.mjs";

// A run() whose outcomes the test scripts: true = synced, false = no answer, "throw", "hang".
function scriptedRun(outcomes) {
    const calls = [];
    const hanging = [];
    const run = (clock) => () => {
        calls.push(clock.time);
        const outcome = outcomes.length ? outcomes.shift() : true;
        if (outcome === "throw") {
            return Promise.reject(new Error("lock wait timed out"));
        }
        if (outcome === "hang") {
            return new Promise((resolve) => hanging.push(resolve));
        }
        return Promise.resolve({ ok: outcome });
    };
    return { run, calls, hanging };
}

function make(outcomes = [], options = {}) {
    const clock = new FakeClock(1_000_000);
    const script = scriptedRun(outcomes);
    const phases = [];
    const randoms = options.randoms ? [...options.randoms] : null;
    const scheduler = new AutoSyncScheduler({
        run: script.run(clock),
        settleMs: 5000,
        baseMs: 4000,
        maxMs: AUTO_SYNC_MAX_MS,
        random: randoms ? () => randoms.shift() ?? 0.5 : () => 0.5,
        now: clock.now,
        setTimeout: clock.setTimeout,
        clearTimeout: clock.clearTimeout,
        onChange: (s) => phases.push(s.phase),
        ...options.scheduler,
    });
    return { clock, scheduler, script, phases };
}

describe("backoffDelay", () => {
    it("draws in the upper half of a window that doubles from 4 s", () => {
        assert.equal(backoffDelay(0, { random: () => 0 }), 2000);
        assert.equal(backoffDelay(0, { random: () => 1 }), 4000);
        assert.equal(backoffDelay(1, { random: () => 0 }), 4000);
        assert.equal(backoffDelay(1, { random: () => 0.5 }), 6000);
        assert.equal(backoffDelay(3, { random: () => 0.25 }), 20000);
    });

    it("is bounded: never under 2 s, never over 5 min, whatever the attempt or random", () => {
        for (const attempt of [0, 1, 7, 8, 9, 30, 1000, -5, NaN, Infinity]) {
            for (const r of [0, 0.3, 0.999, 1, -1, 2, NaN]) {
                const delay = backoffDelay(attempt, { random: () => r });
                assert.ok(Number.isInteger(delay), `${attempt}/${r}: ${delay}`);
                assert.ok(delay >= 2000 && delay <= AUTO_SYNC_MAX_MS, `${attempt}/${r}: ${delay}`);
            }
        }
        assert.equal(backoffDelay(50, { random: () => 0 }), AUTO_SYNC_MAX_MS / 2);
        assert.equal(backoffDelay(50, { random: () => 1 }), AUTO_SYNC_MAX_MS);
    });

    it("below the cap, never retries earlier than the retry before, whatever is drawn", () => {
        // 4 s * 2^6 = 256 s is the last window under the 5 min cap; past it windows are equal.
        for (let attempt = 0; attempt < 6; attempt++) {
            const latest = backoffDelay(attempt, { random: () => 1 });
            const earliestNext = backoffDelay(attempt + 1, { random: () => 0 });
            assert.ok(earliestNext >= latest, `attempt ${attempt}: ${earliestNext} < ${latest}`);
        }
    });

    it("is jittered: different draws give different delays in the same window", () => {
        const delays = new Set([0.1, 0.4, 0.7, 0.9].map((r) => backoffDelay(2, { random: () => r })));
        assert.equal(delays.size, 4);
    });
});

describe("AutoSyncScheduler", () => {
    it("sends once the connection has been back for the settle time, not before", async () => {
        const { clock, scheduler, script, phases } = make([true]);
        scheduler.setOnline(true);
        await clock.advance(4999);
        assert.deepEqual(script.calls, []);
        await clock.advance(1);
        assert.deepEqual(script.calls, [1_005_000]);
        assert.deepEqual(phases, ["waiting", "syncing", "idle"]);
        await clock.advance(600_000);
        assert.equal(script.calls.length, 1, "a success does not send again");
    });

    it("a link that drops during the settle wait sends nothing; back again, it waits afresh", async () => {
        const { clock, scheduler, script } = make([true]);
        scheduler.setOnline(true);
        await clock.advance(3000);
        scheduler.setOnline(false);
        await clock.advance(60_000);
        assert.deepEqual(script.calls, []);
        scheduler.setOnline(true);
        await clock.advance(4999);
        assert.deepEqual(script.calls, []);
        await clock.advance(1);
        assert.equal(script.calls.length, 1);
    });

    it("retries after no answer with growing, jittered delays, and stops at the first success", async () => {
        const { clock, scheduler, script, phases } = make([false, false, true], {
            randoms: [0.1, 0.8],
        });
        scheduler.setOnline(true);
        await clock.advance(600_000);
        const [t1, t2, t3] = script.calls;
        assert.equal(script.calls.length, 3);
        assert.equal(t2 - t1, 2000 + 0.1 * 2000);
        assert.equal(t3 - t2, 4000 + 0.8 * 4000);
        assert.deepEqual(scheduler.snapshot().delays, [2200, 7200]);
        assert.equal(scheduler.snapshot().attempt, 0);
        assert.deepEqual(phases, [
            "waiting",
            "syncing",
            "retrying",
            "syncing",
            "retrying",
            "syncing",
            "idle",
        ]);
    });

    it("a run that rejects (lock wait gave up) is retried like no answer", async () => {
        const { clock, scheduler, script } = make(["throw", true]);
        scheduler.setOnline(true);
        await clock.advance(5000 + 4000);
        assert.equal(script.calls.length, 2);
        assert.equal(scheduler.snapshot().phase, "idle");
    });

    it("keeps retrying while the server stays down, every delay within 2 s .. 5 min", async () => {
        const outcomes = Array(40).fill(false);
        const { clock, scheduler, script } = make(outcomes, { randoms: Array(40).fill(1) });
        scheduler.setOnline(true);
        await clock.advance(3 * 3600_000);
        const gaps = script.calls.slice(1).map((t, i) => t - script.calls[i]);
        assert.ok(gaps.length >= 30, `${gaps.length} retries in 3 h`);
        assert.ok(gaps.every((g) => g >= 2000 && g <= AUTO_SYNC_MAX_MS), String(gaps));
        assert.equal(Math.max(...gaps), AUTO_SYNC_MAX_MS);
    });

    it("never sends while the cashier's dialog (or another tab) syncs: puts it off", async () => {
        let busy = true;
        const { clock, scheduler, script } = make([true], {
            scheduler: { canRun: () => !busy },
        });
        scheduler.setOnline(true);
        await clock.advance(5000 * 6);
        assert.deepEqual(script.calls, []);
        assert.equal(scheduler.snapshot().phase, "waiting");
        busy = false;
        await clock.advance(5000);
        assert.equal(script.calls.length, 1);
    });

    it("with nothing waiting, sends nothing and goes idle; a poke sends after the settle wait", async () => {
        let waiting = 0;
        const { clock, scheduler, script } = make([true], {
            scheduler: { hasWork: async () => waiting > 0 },
        });
        scheduler.setOnline(true);
        await clock.advance(5000);
        assert.deepEqual(script.calls, []);
        assert.equal(scheduler.snapshot().phase, "idle");
        waiting = 2;
        scheduler.poke();
        await clock.advance(4999);
        assert.deepEqual(script.calls, []);
        await clock.advance(1);
        assert.equal(script.calls.length, 1);
    });

    it("one send at a time: pokes during a send start nothing more", async () => {
        const { clock, scheduler, script } = make(["hang"]);
        scheduler.setOnline(true);
        await clock.advance(5000);
        assert.equal(script.calls.length, 1);
        for (let i = 0; i < 5; i++) {
            scheduler.poke();
            await clock.advance(10_000);
        }
        assert.equal(script.calls.length, 1);
        script.hanging[0]({ ok: true });
        await flush();
        assert.equal(scheduler.snapshot().phase, "idle");
    });

    it("an outcome arriving after the link dropped is ignored (no retry timer while offline)", async () => {
        const { clock, scheduler, script } = make(["hang"]);
        scheduler.setOnline(true);
        await clock.advance(5000);
        scheduler.setOnline(false);
        script.hanging[0]({ ok: false });
        await clock.advance(600_000);
        assert.equal(script.calls.length, 1);
        assert.equal(clock.pending(), 0);
        assert.equal(scheduler.snapshot().phase, "idle");
    });

    it("stopped: no timer left, nothing sent, phase off", async () => {
        const { clock, scheduler, script } = make([false]);
        scheduler.setOnline(true);
        await clock.advance(5000);
        scheduler.stop();
        await clock.advance(600_000);
        scheduler.setOnline(false);
        scheduler.setOnline(true);
        scheduler.poke();
        await clock.advance(600_000);
        assert.equal(script.calls.length, 1);
        assert.equal(clock.pending(), 0);
        assert.equal(scheduler.snapshot().phase, "off");
    });
});
