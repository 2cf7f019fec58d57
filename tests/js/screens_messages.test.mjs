// What the cashier reads: the core's translate hook (i18n.js), the sync wording
// (sync_messages.js: a lost answer is "not sent ... kept and can be sent again", never
// "0 synced, 3 refused") and Process refused while offline (card_processing.js).
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";

import { CardProcessor, PROCESS_OFFLINE_MESSAGE, cardProcessorOf } from "../../pos_offline_sync/static/src/core/card_processing.js";
import { _t, interpolate, plural, setTranslate } from "../../pos_offline_sync/static/src/core/i18n.js";
import { riskRefusal, limitsFromConfig } from "../../pos_offline_sync/static/src/core/risk_limits.js";
import { SYNC_REASONS } from "../../pos_offline_sync/static/src/core/sync_engine.js";
import { persistenceText, rowStatus, syncSummary } from "../../pos_offline_sync/static/src/core/sync_messages.js";
import { validateCard } from "../../pos_offline_sync/static/src/core/card_vault.js";
import { MemoryStore } from "./helpers/memory_store.mjs";
import { makeCardOrder } from "./helpers/orders.mjs";

afterEach(() => setTranslate(null));

const noAnswer = (uuid) => ({ uuid, ok: false, status: "not_sent", reason: SYNC_REASONS.NO_ANSWER });

describe("i18n", () => {
    it("gives the English source without a translate function, with its values", () => {
        assert.equal(_t("Synced"), "Synced");
        assert.equal(_t("%(count)s of %(total)s", { count: 2, total: 5 }), "2 of 5");
        assert.equal(interpolate("%(a)s and %(missing)s", { a: "x" }), "x and %(missing)s");
    });

    it("translates through the host's function, then fills the values", () => {
        const fr = { "%(selected)s of %(total)s selected": "%(selected)s sur %(total)s sélectionnées" };
        setTranslate((source) => fr[source] ?? source);
        assert.equal(_t("%(selected)s of %(total)s selected", { selected: 1, total: 3 }), "1 sur 3 sélectionnées");
        assert.equal(_t("Untranslated"), "Untranslated");
    });

    it("reads Odoo's String objects and falls back to the source when the host throws", () => {
        setTranslate((source) => new String(`«${source}»`));
        assert.equal(_t("Close"), "«Close»");
        assert.equal(typeof _t("Close"), "string");
        setTranslate(() => {
            throw new Error("Cannot translate string: translations have not been loaded");
        });
        assert.equal(_t("Close"), "Close");
    });

    it("picks the singular or plural form and fills %(count)s", () => {
        assert.equal(plural(1, "%(count)s order", "%(count)s orders"), "1 order");
        assert.equal(plural(0, "%(count)s order", "%(count)s orders"), "0 orders");
        assert.equal(plural(3, "%(count)s order", "%(count)s orders"), "3 orders");
    });

    it("card form errors and risk refusals go through the translation", () => {
        setTranslate((source) => `FR ${source}`);
        const checked = validateCard({ number: "", expiry: "", cvc: "", name: "" });
        assert.equal(checked.errors.number, "FR Enter the card number.");
        assert.equal(checked.errors.cvc, "FR Enter the 3-digit security code (CVC).");
        const refusal = riskRefusal(limitsFromConfig({ offline_card_max_amount: 5 }), { amount: 7, currency: "USD" });
        assert.equal(refusal, "FR This card payment (7.00 USD) is over this POS's limit of 5.00 USD per offline card payment. Ask for another payment method.");
    });
});

describe("sync wording", () => {
    it("a lost answer is 'not sent, kept, can be sent again', never 'refused'", () => {
        const summary = syncSummary(["a", "b", "c"].map(noAnswer));
        assert.equal(summary.text, "3 not sent: no answer from the server; they are kept and can be sent again.");
        assert.equal(summary.kind, "warning");
        assert.doesNotMatch(summary.text, /refused|0 orders/);
        assert.equal(syncSummary([noAnswer("a")]).text, "1 not sent: no answer from the server; it is kept and can be sent again.");
        // An order the answer left out (pending) counts as no answer too.
        assert.match(syncSummary([{ ok: false, pending: true }]).text, /^1 not sent: no answer/);
    });

    it("says what was synced, what was refused and what waits, in that order", () => {
        const results = [
            { uuid: "a", ok: true, status: "created" },
            { uuid: "b", ok: true, status: "exists" },
            { uuid: "c", ok: false, status: "error", reason: "line 1: unknown product 99" },
            { uuid: "d", ok: false, status: "not_sent", reason: SYNC_REASONS.NOT_SENT },
            { uuid: "e", ok: false, status: "skipped", reason: "card not processed: no answer" },
        ];
        assert.equal(
            syncSummary(results).text,
            "2 orders synced. 1 not sent: no answer from the server; it is kept and can be sent again. " +
                "1 not sent yet: its card is not processed (see the row). " +
                "1 refused by the server (the reason is on the row); it stays here."
        );
        assert.equal(syncSummary(results).kind, "error");
        assert.deepEqual(syncSummary(results.slice(0, 2)), { text: "2 orders synced.", kind: "success" });
    });

    it("gives each row a short result and its reason", () => {
        assert.deepEqual(rowStatus({ ok: true, status: "created" }), { kind: "ok", label: "Synced", detail: "" });
        assert.equal(rowStatus({ ok: true, status: "exists" }).detail, "The back office already had it.");
        assert.deepEqual(rowStatus(noAnswer("a")), {
            kind: "pending",
            label: "Not sent",
            detail: "No answer from the server. It is kept here and can be sent again.",
        });
        assert.equal(rowStatus({ ok: false, status: "error", reason: "line 1: bad" }).label, "Refused");
        assert.equal(rowStatus({ ok: false, status: "error", reason: "line 1: bad" }).detail, "line 1: bad");
        assert.equal(rowStatus({ ok: false, status: "error", reason: SYNC_REASONS.BAD_ANSWER }).label, "Not confirmed");
        assert.equal(rowStatus(null), null);
    });

    it("tells the cashier where an order whose session was closed went (the rescue session)", () => {
        const rescue = "Shop/00013 (RESCUE FOR Shop/00012)";
        const row = rowStatus({ ok: true, status: "created", rescueSession: rescue });
        assert.equal(row.label, "Synced");
        assert.equal(
            row.detail,
            `Its session was closed: it is in the rescue session ${rescue}, which a manager closes in the back office.`
        );
        const results = [
            { uuid: "a", ok: true, status: "created", rescueSession: rescue },
            { uuid: "b", ok: true, status: "exists", rescueSession: rescue },
            { uuid: "c", ok: true, status: "created" },
        ];
        assert.deepEqual(syncSummary(results), {
            text: `3 orders synced. 2 of them went to the rescue session ${rescue}: their session was closed.`,
            kind: "success",
        });
        assert.equal(
            syncSummary(results.slice(0, 1)).text,
            `1 order synced. 1 of them went to the rescue session ${rescue}: its session was closed.`
        );
        // Translated through the host's function, the session's name filled in after.
        const source = "Its session was closed: it is in the rescue session %(session)s, which a manager closes in the back office.";
        setTranslate((s) => (s === source ? "Sa session était clôturée : elle est dans la session de secours %(session)s." : s));
        assert.equal(rowStatus({ ok: true, rescueSession: rescue }).detail, `Sa session était clôturée : elle est dans la session de secours ${rescue}.`);
    });

    it("says in a sentence whether the browser keeps the orders", () => {
        assert.equal(persistenceText("persisted").sentence, "This browser keeps the offline orders, even when its disk runs low.");
        assert.match(persistenceText("best-effort").sentence, /may delete the offline orders .*sync them soon/);
        assert.equal(persistenceText("best-effort").level, "warning");
        assert.doesNotMatch(JSON.stringify(["persisted", "best-effort", "unsupported"].map(persistenceText)), /best-effort|storage:/);
    });
});

describe("Process while offline", () => {
    it("is refused before anything is asked of the server, as Sync is", async () => {
        const store = new MemoryStore();
        const order = makeCardOrder();
        await store.put(order);
        const calls = [];
        const transport = { call: async (method) => calls.push(method) };
        let offline = true;
        const processor = new CardProcessor({ transport, store, isOffline: () => offline });
        const refused = await processor.processPayment(order.uuid, order.payments[0].uuid);
        assert.deepEqual(refused, { status: "offline", message: PROCESS_OFFLINE_MESSAGE });
        assert.deepEqual(calls, []);
        assert.equal((await store.get(order.uuid)).order.payments[0].card.status, "unprocessed");
        assert.equal(processor.outcomes[order.payments[0].uuid], undefined);
        offline = false;
        await processor.processPayment(order.uuid, order.payments[0].uuid);
        assert.deepEqual(calls, ["offline_process_card"]);
    });

    it("the controller's processor reads the register's offline state, manual or detected", async () => {
        const store = new MemoryStore();
        const order = makeCardOrder();
        await store.put(order);
        const calls = [];
        const controller = {
            store,
            transport: { call: async (method) => calls.push(method) },
            state: { online: false, manualOffline: true },
        };
        const processor = cardProcessorOf(controller);
        assert.equal((await processor.processPayment(order.uuid, order.payments[0].uuid)).status, "offline");
        controller.state.manualOffline = false; // detected offline: still refused
        assert.equal((await processor.processPayment(order.uuid, order.payments[0].uuid)).status, "offline");
        assert.deepEqual(calls, []);
    });

    it("a follow-up of a card charged elsewhere waits while offline, then asks again", async () => {
        const store = new MemoryStore();
        const order = makeCardOrder();
        await store.put(order);
        const answers = [
            { v: 1, status: "in_progress", message: "This card is being processed in another window." },
            { v: 1, status: "succeeded", payment_intent_id: "pi_1", message: "Approved" },
        ];
        const calls = [];
        const transport = { call: async (method) => (calls.push(method), answers.shift()) };
        const timers = [];
        let offline = false;
        const processor = new CardProcessor({
            transport,
            store,
            isOffline: () => offline,
            followUpDelaysMs: [1, 1, 1],
            setTimeout: (fn) => timers.push(fn),
        });
        const first = await processor.processPayment(order.uuid, order.payments[0].uuid);
        assert.equal(first.status, "in_progress");
        offline = true;
        timers.shift()(); // offline: no request, another follow-up is planned
        assert.equal(calls.length, 1);
        assert.equal(timers.length, 1);
        offline = false;
        timers.shift()();
        await processor._inFlight.get(order.payments[0].uuid);
        assert.equal(calls.length, 2);
        assert.equal((await store.get(order.uuid)).order.payments[0].card.status, "succeeded");
    });
});
