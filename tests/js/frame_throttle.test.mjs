// The sync dialog's progress goes through throttleToFrames (issue 10): however many reports
// the engine makes between two frames, the dialog renders once, with the latest.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
    afterPaint,
    throttleToFrames,
} from "../../pos_offline_sync/static/src/core/components/frame_throttle.js";

function frames() {
    const queue = new Map();
    let next = 1;
    return {
        requestFrame: (fn) => {
            queue.set(next, fn);
            return next++;
        },
        cancelFrame: (id) => queue.delete(id),
        pending: () => queue.size,
        paint() {
            const due = [...queue.values()];
            queue.clear();
            due.forEach((fn) => fn());
        },
    };
}

describe("throttleToFrames", () => {
    it("10,000 reports between two frames make one render, with the last report", () => {
        const frame = frames();
        const renders = [];
        const show = throttleToFrames((p) => renders.push(p), frame);
        for (let done = 1; done <= 10000; done++) {
            show({ phase: "cards", done, total: 10000 });
        }
        assert.deepEqual(renders, [], "nothing renders before the frame");
        assert.equal(frame.pending(), 1, "one frame asked for, not one per report");
        frame.paint();
        assert.deepEqual(renders, [{ phase: "cards", done: 10000, total: 10000 }]);
        frame.paint();
        assert.equal(renders.length, 1, "no report since: no render");
    });

    it("renders once per frame over a sync of 20 batches of 500", () => {
        const frame = frames();
        let renders = 0;
        const show = throttleToFrames(() => renders++, frame);
        for (let batch = 0; batch < 20; batch++) {
            for (let i = 0; i < 500; i++) {
                show({ done: batch * 500 + i });
            }
            frame.paint();
        }
        assert.equal(renders, 20);
    });

    it("cancel drops the report waiting for its frame", () => {
        const frame = frames();
        const renders = [];
        const show = throttleToFrames((p) => renders.push(p), frame);
        show(1);
        show.cancel();
        frame.paint();
        assert.deepEqual(renders, []);
        show(2);
        frame.paint();
        assert.deepEqual(renders, [2], "usable again after a cancel");
    });

    it("falls back to a timer without requestAnimationFrame (node)", async () => {
        const renders = [];
        const show = throttleToFrames((p) => renders.push(p));
        show("a");
        show("b");
        await new Promise((resolve) => setTimeout(resolve, 40));
        assert.deepEqual(renders, ["b"]);
    });
});

describe("afterPaint", () => {
    // A page that draws no frames (hidden): requestAnimationFrame never calls back.
    async function withoutFrames(run) {
        const saved = globalThis.requestAnimationFrame;
        globalThis.requestAnimationFrame = () => 0;
        try {
            return await run();
        } finally {
            globalThis.requestAnimationFrame = saved;
        }
    }
    const settledWithin = (promise, ms) =>
        Promise.race([
            promise.then(() => true),
            new Promise((resolve) => setTimeout(() => resolve(false), ms)),
        ]);

    it("waits for a frame, and without frames for at most maxMs", async () => {
        await withoutFrames(async () => {
            assert.equal(await settledWithin(afterPaint(), 60), false);
            assert.equal(await settledWithin(afterPaint({ maxMs: 5 }), 200), true);
        });
    });

    it("resolves after the frame, then a task", async () => {
        const saved = globalThis.requestAnimationFrame;
        const order = [];
        globalThis.requestAnimationFrame = (fn) => setTimeout(() => { order.push("frame"); fn(); }, 1);
        try {
            await afterPaint({ maxMs: 10_000 });
            order.push("resolved");
        } finally {
            globalThis.requestAnimationFrame = saved;
        }
        assert.deepEqual(order, ["frame", "resolved"]);
    });
});
