// risk_limits.js: the same rules and texts as core/risk_limits.py (see test_risk_limits.py).
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
    ageCountdownText,
    ageState,
    limitsFromConfig,
    riskRefusal,
    unprocessedCards,
    watchCardAge,
} from "../../pos_offline_sync/static/src/core/risk_limits.js";

const NOW = Date.parse("2026-11-27T12:00:00Z");
const LIMITS = limitsFromConfig({
    offline_card_max_amount: 100,
    offline_card_max_total: 250,
    offline_card_max_age_hours: 24,
});

describe("offline card risk limits", () => {
    it("reads the config; 0 or missing means no limit", () => {
        assert.deepEqual(LIMITS, { maxAmount: 100, maxTotal: 250, maxAgeHours: 24 });
        assert.deepEqual(limitsFromConfig({ offline_card_max_amount: 0 }), {
            maxAmount: null,
            maxTotal: null,
            maxAgeHours: null,
        });
        assert.equal(riskRefusal(limitsFromConfig({}), { amount: 1e9, unprocessedTotal: 1e9, now: NOW }), null);
    });

    it("per payment", () => {
        assert.equal(riskRefusal(LIMITS, { amount: 100, currency: "USD", now: NOW }), null);
        assert.equal(
            riskRefusal(LIMITS, { amount: 100.01, currency: "USD", now: NOW }),
            "This card payment (100.01 USD) is over this POS's limit of 100.00 USD per offline card payment. Ask for another payment method."
        );
    });

    it("total of unprocessed cards, without float drift", () => {
        assert.equal(riskRefusal(LIMITS, { amount: 50, unprocessedTotal: 200, currency: "USD", now: NOW }), null);
        assert.equal(
            riskRefusal(limitsFromConfig({ offline_card_max_total: 0.3 }), { amount: 0.1, unprocessedTotal: 0.2, now: NOW }),
            null
        );
        assert.equal(
            riskRefusal(LIMITS, { amount: 60, unprocessedTotal: 200, currency: "USD", now: NOW }),
            "Unprocessed offline card payments would reach 260.00 USD, over this POS's limit of 250.00 USD. Process the waiting cards once online, or ask for another payment method."
        );
    });

    it("age: counts down, warns in the last quarter, then refuses", () => {
        assert.deepEqual(ageState(LIMITS, null, NOW), { level: "none", hoursLeft: null });
        assert.deepEqual(ageState(LIMITS, "2026-11-27T00:00:00Z", NOW), { level: "ok", hoursLeft: 12 });
        const warn = ageState(LIMITS, "2026-11-26T14:00:00Z", NOW);
        assert.equal(warn.level, "warn");
        assert.equal(ageCountdownText(warn), "Process offline cards within 2 h 00 min.");
        const over = ageState(LIMITS, "2026-11-26T11:00:00Z", NOW);
        assert.equal(over.level, "overdue");
        assert.equal(ageCountdownText(over), "Offline cards are overdue: sync and process them now.");
        assert.equal(
            riskRefusal(LIMITS, { amount: 1, oldestUnprocessedAt: "2026-11-26T11:00:00Z", now: NOW }),
            "An offline card payment has waited more than 24 hours. Go online and process the waiting cards before taking another card offline."
        );
    });

    it("sums only cards still waiting, and finds the oldest", () => {
        const card = (status) => ({ status, envelope: status === "unprocessed" ? {} : null });
        const records = [
            { created_at: "2026-11-27T10:00:00Z", order: { payments: [{ amount: 10, card: card("unprocessed") }] } },
            { created_at: "2026-11-27T09:00:00Z", order: { payments: [{ amount: 5, card: card("succeeded") }] } },
            { created_at: "2026-11-27T08:00:00Z", order: { payments: [{ amount: 2.5, card: card("unprocessed") }, { amount: 3, card: null }] } },
        ];
        assert.deepEqual(unprocessedCards(records), { count: 2, total: 12.5, oldestAt: "2026-11-27T08:00:00Z" });
    });

    it("watchCardAge writes the Sync icon's count down into the controller state", async () => {
        let records = [];
        const controller = { state: {}, listPending: async () => records };
        const watch = watchCardAge({ controller, limits: LIMITS, now: () => NOW });
        await watch.update();
        assert.deepEqual(controller.state.cardAge, {
            level: "none",
            hoursLeft: null,
            text: "",
            count: 0,
            limited: true,
            deadlineAt: null,
        });
        records = [{ created_at: "2026-11-26T14:30:00Z", order: { payments: [{ amount: 7, card: { status: "unprocessed" } }] } }];
        await watch.update();
        assert.equal(controller.state.cardAge.level, "warn");
        assert.equal(controller.state.cardAge.text, "Process offline cards within 2 h 30 min.");
        // The deadline itself, for a count down by the second (the readiness panel).
        assert.equal(controller.state.cardAge.deadlineAt, Date.parse("2026-11-27T14:30:00Z"));
        assert.equal(controller.state.cardAge.count, 1);
        watch.stop();
    });
});
