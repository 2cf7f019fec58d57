import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
    cardCountdown,
    durationText,
    oldestOrderText,
    shouldConfirmLeaving,
    spaceText,
    storageSentence,
} from "../../pos_offline_sync/static/src/core/readiness.js";

const NOW = Date.parse("2026-12-01T12:00:00Z");

describe("readiness sentences", () => {
    it("says whether the orders are kept, in a cashier's words", () => {
        assert.deepEqual(storageSentence("persisted"), {
            level: "ok",
            text: "Offline orders are kept even when the disk fills up.",
        });
        for (const p of ["best-effort", "unsupported"]) {
            assert.equal(storageSentence(p).level, "warning");
            assert.equal(
                storageSentence(p).text,
                "The browser may delete the offline orders if disk space runs low: ask your administrator."
            );
        }
        assert.equal(storageSentence("unknown").level, "unknown");
        assert.equal(storageSentence(undefined).level, "unknown");
    });

    it("asks before leaving only with orders waiting and nothing promised", () => {
        assert.equal(shouldConfirmLeaving({ pendingCount: 1, persistence: "best-effort" }), true);
        assert.equal(shouldConfirmLeaving({ pendingCount: 1, persistence: "unknown" }), true);
        assert.equal(shouldConfirmLeaving({ pendingCount: 1, persistence: "persisted" }), false);
        assert.equal(shouldConfirmLeaving({ pendingCount: 0, persistence: "best-effort" }), false);
        assert.equal(shouldConfirmLeaving(null), false);
    });

    it("space used: sizes a person reads, or why not", () => {
        assert.equal(spaceText({ usage: 1234567, quota: 10737418240 }), "1.2 MB used of 10.7 GB this browser allows.");
        assert.equal(spaceText({ usage: 0, quota: 300 }), "0 B used of 300 B this browser allows.");
        assert.equal(spaceText({ usage: 512000 }), "512 kB used.");
        assert.equal(spaceText({}), "This browser does not tell how much space is used.");
        assert.equal(spaceText(null), "This browser does not tell how much space is used.");
    });

    it("the oldest waiting order: when and how long ago", () => {
        const at = "2026-12-01T09:55:00Z";
        assert.equal(oldestOrderText(at, NOW, () => "09:55"), "Made at 09:55, 2 h 05 min ago.");
        assert.equal(oldestOrderText("2026-12-01T11:59:30Z", NOW, () => "11:59"), "Made at 11:59, 0 min ago.");
        assert.equal(oldestOrderText("2026-11-28T10:00:00Z", NOW, () => "10:00"), "Made at 10:00, 3 d 2 h ago.");
        assert.equal(oldestOrderText(null, NOW), "No orders are waiting.");
        assert.equal(oldestOrderText("not a date", NOW), "No orders are waiting.");
    });

    it("durations never go negative", () => {
        assert.equal(durationText(-5000), "0 min");
        assert.equal(durationText(61_000, { seconds: true }), "1 min 01 s");
        assert.equal(durationText(3_723_000, { seconds: true }), "1 h 02 min 03 s");
    });

    it("the oldest card counts down by the second to the age limit, then says overdue", () => {
        const deadlineAt = NOW + 2 * 3600_000 + 5_000;
        const age = { level: "warn", deadlineAt, limited: true };
        assert.deepEqual(cardCountdown(age, NOW), {
            level: "warn",
            text: "Process the oldest offline card within 2 h 00 min 05 s.",
        });
        assert.equal(
            cardCountdown(age, NOW + 1000).text,
            "Process the oldest offline card within 2 h 00 min 04 s."
        );
        // Past the deadline between two updates of the watch: overdue at once.
        assert.deepEqual(cardCountdown(age, deadlineAt), {
            level: "overdue",
            text: "The oldest offline card is past the age limit: sync and process it now.",
        });
        assert.equal(
            cardCountdown({ level: "none", deadlineAt: null, limited: true }, NOW).text,
            "No offline card is waiting to be processed."
        );
        assert.equal(
            cardCountdown({ level: "none", deadlineAt: null, limited: false }, NOW).text,
            "This register sets no age limit on offline cards."
        );
        assert.equal(cardCountdown(undefined, NOW).level, "none");
    });
});
