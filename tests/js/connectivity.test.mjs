import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ConnectivityMonitor } from "../../pos_offline_sync/static/src/core/connectivity.js";
import { FakeClock, flush } from "./helpers/fake_clock.mjs";

// A ping whose answers the test scripts: true = server answered, false = failed, "hang" = never.
function scriptedPing(answers) {
    const calls = { count: 0 };
    const ping = () => {
        calls.count++;
        const answer = answers.length ? answers.shift() : true;
        if (answer === "hang") {
            return new Promise(() => {});
        }
        return answer ? Promise.resolve({ ok: true }) : Promise.reject(new Error("ECONNREFUSED"));
    };
    return { ping, calls };
}

function makeMonitor(options = {}) {
    const clock = new FakeClock(1000);
    const target = new EventTarget();
    const events = [];
    const monitor = new ConnectivityMonitor({
        intervalMs: 10000,
        timeoutMs: 3000,
        maxBackoffMs: 60000,
        target,
        initialOnline: true,
        now: clock.now,
        setTimeout: clock.setTimeout,
        clearTimeout: clock.clearTimeout,
        random: () => 0.5, // no jitter: delays are exact
        ...options,
    });
    monitor.subscribe((state) => events.push(state));
    return { monitor, clock, target, events };
}

describe("ConnectivityMonitor", () => {
    it("toggles the manual switch and notifies each change", () => {
        const { monitor, events } = makeMonitor({ autoDetect: false });
        monitor.start();
        assert.equal(monitor.online, true);
        assert.equal(monitor.toggle(), false);
        assert.equal(monitor.manualOffline, true);
        assert.deepEqual(events.at(-1), {
            online: false,
            manualOffline: true,
            networkOnline: true,
            reason: "manual",
        });
        monitor.toggle();
        assert.equal(monitor.online, true);
        assert.equal(events.length, 2);
        monitor.setManualOffline(false); // no change, no event
        assert.equal(events.length, 2);
    });

    it("without auto-detect nothing switches by itself", async () => {
        const { ping, calls } = scriptedPing([false, false, false]);
        const { monitor, clock, target, events } = makeMonitor({ autoDetect: false, ping });
        monitor.start();
        target.dispatchEvent(new Event("offline"));
        await clock.advance(120000);
        assert.equal(monitor.online, true);
        assert.equal(calls.count, 0);
        assert.equal(clock.pending(), 0);
        assert.equal(events.length, 0);
    });

    it("goes offline after two consecutive failed pings, not after one", async () => {
        const { ping, calls } = scriptedPing([false, false]);
        const { monitor, clock, events } = makeMonitor({ autoDetect: true, ping });
        monitor.start(); // pings at once
        await flush();
        assert.equal(calls.count, 1);
        assert.equal(monitor.online, true, "one failure is not enough");
        // The second check comes soon (interval / 5), not a whole interval later.
        await clock.advance(1999);
        assert.equal(calls.count, 1);
        await clock.advance(1);
        assert.equal(calls.count, 2);
        assert.equal(monitor.online, false);
        assert.equal(events.at(-1).reason, "ping-failed");
    });

    it("a success between two failures keeps it online", async () => {
        const { ping } = scriptedPing([false, true, false]);
        const { monitor, clock, events } = makeMonitor({ autoDetect: true, ping });
        monitor.start();
        await clock.advance(2000); // second ping: ok
        await clock.advance(10000); // third ping: fails, but only once in a row
        assert.equal(monitor.online, true);
        assert.equal(events.length, 0);
    });

    it("counts a ping slower than the timeout as a failure", async () => {
        const { ping } = scriptedPing(["hang", "hang"]);
        const { monitor, clock } = makeMonitor({ autoDetect: true, ping });
        monitor.start();
        await clock.advance(3000); // first times out
        assert.equal(monitor.online, true);
        await clock.advance(2000 + 3000); // second sent after 2 s, times out 3 s later
        assert.equal(monitor.online, false);
    });

    it("aborts the request of a ping that timed out", async () => {
        let signal;
        const { monitor, clock } = makeMonitor({
            autoDetect: true,
            ping: (options) => {
                signal = options.signal;
                return new Promise(() => {});
            },
        });
        monitor.start();
        assert.equal(signal.aborted, false);
        await clock.advance(3000);
        assert.equal(signal.aborted, true);
    });

    it("backs off exponentially while offline, capped at maxBackoffMs", async () => {
        const { ping, calls } = scriptedPing(new Array(20).fill(false));
        const { monitor, clock } = makeMonitor({ autoDetect: true, ping, timeoutMs: 500 });
        monitor.start();
        await clock.advance(2000); // second failure: offline
        assert.equal(monitor.online, false);
        const waits = [];
        for (let i = 0; i < 7; i++) {
            waits.push(monitor.nextCheckDelay);
            const before = calls.count;
            await clock.advance(monitor.nextCheckDelay);
            assert.equal(calls.count, before + 1);
        }
        assert.deepEqual(waits, [2000, 4000, 8000, 16000, 32000, 60000, 60000]);
    });

    it("keeps jittered delays within +/-20% and never above the cap", () => {
        for (const value of [0, 0.999999]) {
            const random = () => value;
            const { monitor } = makeMonitor({ autoDetect: true, ping: async () => true, random });
            const delays = [];
            for (let i = 0; i < 10; i++) {
                delays.push(monitor._nextBackoff());
            }
            assert.equal(delays[0], value === 0 ? 1600 : 2400);
            assert.ok(delays.every((delay) => delay <= 60000));
            assert.equal(delays.at(-1), value === 0 ? 48000 : 60000);
        }
    });

    it("goes offline at once on the browser's offline event", async () => {
        const { ping, calls } = scriptedPing([true]);
        const { monitor, target, events } = makeMonitor({ autoDetect: true, ping });
        monitor.start();
        await flush();
        const pingsBefore = calls.count;
        target.dispatchEvent(new Event("offline"));
        assert.equal(monitor.online, false);
        assert.equal(events.at(-1).reason, "browser-offline");
        assert.equal(calls.count, pingsBefore, "no ping needed to go offline");
    });

    it("a ping answered after the browser's offline event does not bring it back online", async () => {
        // The heartbeat was sent while the Wi-Fi was up; its answer arrives just after the
        // browser said offline. Trusting it would flip the register online (and allow a sync)
        // on news older than the offline event.
        const answers = [];
        let pings = 0;
        const ping = () => {
            pings++;
            return new Promise((resolve) => answers.push(resolve));
        };
        const { monitor, clock, target } = makeMonitor({ autoDetect: true, ping });
        monitor.start(); // ping 1 in flight
        target.dispatchEvent(new Event("offline"));
        assert.equal(monitor.online, false);
        answers[0]({ ok: true }); // the stale answer
        await flush();
        assert.equal(monitor.online, false, "a ping sent before the offline event is stale");
        // The backoff still pings afresh (not stuck on the stale request) and a fresh answer
        // brings it back.
        await clock.advance(monitor.nextCheckDelay);
        assert.equal(pings, 2);
        answers[1]({ ok: true });
        await flush();
        assert.equal(monitor.online, true);
    });

    it("confirms the browser's online event with a ping before going online", async () => {
        const { ping, calls } = scriptedPing([true, false, true]);
        const { monitor, clock, target, events } = makeMonitor({ autoDetect: true, ping });
        monitor.start();
        await flush();
        target.dispatchEvent(new Event("offline"));
        target.dispatchEvent(new Event("online")); // the ping fails: stay offline
        await flush();
        assert.equal(calls.count, 2);
        assert.equal(monitor.online, false);
        target.dispatchEvent(new Event("online")); // this ping answers
        await flush();
        assert.equal(calls.count, 3);
        assert.equal(monitor.online, true);
        assert.equal(events.at(-1).reason, "ping-ok");
        // Back to the normal heartbeat.
        assert.equal(monitor.nextCheckDelay, 10000);
        await clock.advance(10000);
        assert.equal(calls.count, 4);
    });

    it("one answered ping brings it back online after backoff", async () => {
        const { ping } = scriptedPing([false, false, false, true]);
        const { monitor, clock } = makeMonitor({ autoDetect: true, ping });
        monitor.start();
        await clock.advance(2000);
        assert.equal(monitor.online, false);
        await clock.advance(2000); // fails
        assert.equal(monitor.online, false);
        await clock.advance(4000); // answers
        assert.equal(monitor.online, true);
    });

    it("manual offline overrides a server that answers", async () => {
        const { ping } = scriptedPing([]);
        const { monitor, clock } = makeMonitor({ autoDetect: true, ping, manualOffline: true });
        monitor.start();
        await clock.advance(60000);
        assert.equal(monitor.networkOnline, true);
        assert.equal(monitor.online, false);
        monitor.toggle();
        assert.equal(monitor.online, true);
    });

    it("stop() removes listeners and timers and ignores late answers", async () => {
        let answer;
        const { monitor, clock, target } = makeMonitor({
            autoDetect: true,
            ping: () =>
                new Promise((resolve, reject) => {
                    answer = reject;
                }),
        });
        monitor.start();
        monitor.stop();
        answer(new Error("late"));
        await clock.advance(120000);
        target.dispatchEvent(new Event("offline"));
        assert.equal(monitor.online, true);
        assert.equal(clock.pending(), 0);
    });

    it("refuses auto-detect without a ping", () => {
        assert.throws(() => new ConnectivityMonitor({ autoDetect: true }), /ping/);
    });
});
