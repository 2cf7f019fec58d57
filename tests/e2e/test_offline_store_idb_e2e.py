"""The offline store on the real IndexedDB of Chromium (node has none): committed writes, order,
atomic updates, summaries without card envelopes, a real quota refusal (DevTools quota override),
another tab's upgrade, and clear errors. The module comes unchanged from the sandbox's /core/."""

import pytest

# Builds plain orders in the page (CONTRACTS §1) and imports the store from the sandbox.
PRELUDE = """
const { OfflineStore, STORAGE_FULL_MESSAGE } = await import("/core/offline_store.js");
let n = 0;
const order = (extra = {}) => {
    n++;
    return {
        v: 1, uuid: crypto.randomUUID(), reference: "Order " + n,
        created_at: new Date(Date.UTC(2026, 10, 27, 12, 0, n)).toISOString(),
        config_id: 1, session_id: 1, cashier: {id: 1, name: "C"},
        customer: {id: 7, name: "Deco Addict"}, currency: "USD",
        lines: [{product_id: 1, product_name: "Pad", qty: 1, price_unit: 2,
                 discount: 0, price_subtotal_incl: 2}],
        payments: [{uuid: crypto.randomUUID(), payment_method_id: 1,
                    payment_method_name: "Cash", amount: 2, card: null}],
        amount_total: 2, amount_tax: 0, amount_paid: 2, amount_return: 0, is_return: false,
        ...extra,
    };
};
const attempt = async (fn) => { try { await fn(); return null; } catch (e) { return e.message; } };
const opts = {dbName: "idbtest", configId: 1};
await OfflineStore.deleteDatabase(opts);
"""


def run(page, body: str):
    return page.evaluate(f"async () => {{ {PRELUDE}\n{body} }}")


@pytest.fixture
def core_page(sandbox, page):
    # Any sandbox page gives the origin that serves /core/.
    page.goto(sandbox.url + "/settings")
    return page


def test_committed_writes_order_and_removal(core_page):
    out = run(
        core_page,
        """
        const store = await OfflineStore.open(opts);
        const [a, b, c] = [order(), order({is_return: true, amount_total: -2}), order()];
        await store.put(c); await store.put(a); await store.put(b);
        // A second connection sees the writes: put() resolved after the commit.
        const other = await OfflineStore.open(opts);
        const all = await other.getAll();
        const many = await other.getMany([b.uuid, "nope", a.uuid]);
        const res = {
            order: all.map((r) => r.uuid),
            expected: [a.uuid, b.uuid, c.uuid],
            isReturn: (await other.get(b.uuid)).is_return,
            missing: await other.get("nope"),
            many: many.map((r) => r && r.uuid),
            oldest: await other.oldestCreatedAt(),
        };
        await store.remove([a.uuid, b.uuid, "nope"]);
        res.left = (await other.getAll()).map((r) => r.uuid);
        res.c = c.uuid; res.a = a; res.b = b.uuid;
        store.close(); other.close();
        return res;
        """,
    )
    assert out["order"] == out["expected"]
    assert out["isReturn"] is True
    assert out["missing"] is None
    assert out["many"] == [out["b"], None, out["a"]["uuid"]]
    assert out["oldest"] == out["a"]["created_at"]
    assert out["left"] == [out["c"]]


def test_put_counted_answers_the_count_and_oldest_of_its_own_commit(core_page):
    """The capture's one transaction: committed (a second connection sees it) and the count
    and oldest order as of that commit; a replaced order is not counted twice, a refused one
    is not stored."""
    out = run(
        core_page,
        """
        const store = await OfflineStore.open(opts);
        const [a, b, c] = [order(), order(), order()];
        await store.put(b);
        const first = await store.putCounted(c);
        const other = await OfflineStore.open(opts);
        const seen = (await other.get(c.uuid)) !== null;
        const older = await store.putCounted(a);
        const again = await store.putCounted({...a, reference: "Again"});
        const refused = await attempt(() => store.putCounted({...order(), uuid: ""}));
        const res = {
            first: [first.count, first.oldestCreatedAt, first.record.uuid],
            seen,
            older: [older.count, older.oldestCreatedAt],
            again: [again.count, (await other.get(a.uuid)).order.reference],
            refused, left: await other.count(),
            b: b.created_at, c: c.uuid, a: a.created_at,
        };
        store.close(); other.close();
        return res;
        """,
    )
    assert out["first"] == [2, out["b"], out["c"]]
    assert out["seen"] is True, "resolved only once committed"
    assert out["older"] == [3, out["a"]]
    assert out["again"] == [3, "Again"]
    assert "no uuid" in out["refused"]
    assert out["left"] == 3


def test_updates_are_atomic_and_synchronous(core_page):
    out = run(
        core_page,
        """
        const store = await OfflineStore.open(opts);
        const [a, b] = [order(), order()];
        await store.put(a); await store.put(b);
        const res = {};
        res.failed = await attempt(() => store.updateMany([a.uuid, b.uuid], (r) => {
            if (r.uuid === b.uuid) { throw new Error("boom"); }
            r.last_result = {reason: "half"};
        }));
        res.aAfter = (await store.get(a.uuid)).last_result;
        res.asyncFn = await attempt(() => store.update(a.uuid, async (r) => r));
        res.uuidChange = await attempt(() => store.update(a.uuid, (r) => ({...r, uuid: "x"})));
        const updated = await store.update(a.uuid, (r) => { r.order.reference = "Renamed"; });
        res.updated = updated.order.reference;
        res.summary = (await store.listSummaries()).find((r) => r.uuid === a.uuid).order.reference;
        res.none = await store.update("nope", () => { throw new Error("not called"); });
        store.close();
        return res;
        """,
    )
    assert out["failed"] == "The orders could not be updated: boom"
    assert out["aAfter"] is None, "nothing of a failed update is written"
    assert "synchronous" in out["asyncFn"]
    assert "uuid unchanged" in out["uuidChange"]
    assert out["updated"] == "Renamed"
    assert out["summary"] == "Renamed", "the summary follows the update in the same transaction"
    assert out["none"] is None


def test_summaries_hold_no_envelope_and_never_hide_an_order(core_page):
    out = run(
        core_page,
        """
        const store = await OfflineStore.open(opts);
        const card = {brand: "visa", last4: "4242", exp_month: 12, exp_year: 2030,
            envelope: {v: 1, alg: "RSA-OAEP-256+A256GCM", kid: "k", ek: "EKEKEK", iv: "IVIV",
                       ct: "CIPHERTEXT"},
            status: "unprocessed", payment_intent_id: null, message: null, decline_code: null};
        const withCard = order();
        withCard.payments = [{...withCard.payments[0], card}];
        await store.put(withCard);
        // An order written without its summary (older client) and a summary without order.
        const raw = order();
        const gone = order();
        await store.put(gone);
        await new Promise((resolve, reject) => {
            const tx = store.db.transaction(["orders"], "readwrite");
            tx.objectStore("orders").put({uuid: raw.uuid, order: raw, created_at: raw.created_at,
                                          is_return: false, last_result: null});
            tx.objectStore("orders").delete(gone.uuid);
            tx.oncomplete = resolve; tx.onabort = () => reject(tx.error);
        });
        const listed = await store.listSummaries();
        const res = {
            uuids: listed.map((r) => r.uuid),
            expected: [withCard.uuid, raw.uuid],
            json: JSON.stringify(listed),
            status: listed[0].order.payments[0].card.status,
        };
        store.close();
        return res;
        """,
    )
    assert out["uuids"] == out["expected"]
    assert out["status"] == "unprocessed"
    for secret in ("envelope", "EKEKEK", "CIPHERTEXT", "2030"):
        assert secret not in out["json"]


def test_a_full_quota_is_a_clear_refusal_that_loses_nothing(sandbox, core_page):
    cdp = core_page.context.new_cdp_session(core_page)
    cdp.send("Storage.overrideQuotaForOrigin", {"origin": sandbox.url, "quotaSize": 300_000})
    out = run(
        core_page,
        """
        const store = await OfflineStore.open(opts);
        const kept = order();
        await store.put(kept);
        const big = order();
        big.lines[0].product_name = "x".repeat(2000000);
        const res = {error: await attempt(() => store.put(big)), expected: STORAGE_FULL_MESSAGE};
        res.uuids = (await store.getAll()).map((r) => r.uuid);
        res.kept = kept.uuid;
        store.close();
        return res;
        """,
    )
    assert out["error"] == out["expected"]
    assert out["uuids"] == [out["kept"]]


def test_another_tab_upgrading_closes_this_connection_with_a_clear_error(core_page):
    out = run(
        core_page,
        """
        let notified = false;
        const onVersionChange = () => { notified = true; };
        const store = await OfflineStore.open({...opts, onVersionChange});
        await store.put(order());
        await new Promise((resolve, reject) => {
            const request = indexedDB.open("pos_offline_sync-idbtest-1", 99);
            request.onsuccess = () => { request.result.close(); resolve(); };
            request.onerror = () => reject(request.error);
        });
        return {
            notified,
            closed: store.closed,
            later: await attempt(() => store.count()),
            older: await attempt(() => OfflineStore.open(opts)),
        };
        """,
    )
    assert out["notified"] is True
    assert out["closed"] is True
    assert "reload the page" in out["later"]
    assert "newer version" in out["older"]


def test_clear_errors_for_unstorable_orders_and_persistence_answer(core_page):
    out = run(
        core_page,
        """
        const store = await OfflineStore.open(opts);
        const res = {
            noUuid: await attempt(() => store.put({v: 1})),
            clone: await attempt(() => store.put(order({fn: () => 1}))),
            count: await store.count(),
            persistence: await store.requestPersistence(),
        };
        store.close();
        return res;
        """,
    )
    assert out["noUuid"] == "The order could not be stored: it has no uuid."
    assert "cannot store" in out["clone"]
    assert out["count"] == 0
    assert out["persistence"] in ("persisted", "best-effort", "unsupported")


def test_orders_left_are_listed_with_offline_mode_off_where_databases_is_unknown(sandbox, page):
    # Browsers without indexedDB.databases() (Firefox before 126, older Safari) cannot say
    # whether the store exists: an order left from when offline mode was on must still be
    # listed (and synced) after the mode is switched off, not hidden. The IndexedDB is the
    # real one; only the databases() listing is absent, as in those browsers.
    page.goto(sandbox.url + "/pos")  # its import map resolves @odoo/owl for the controller
    out = run(
        page,
        """
        const { OfflineController } = await import("/core/offline_controller.js");
        const store = await OfflineStore.open(opts);
        const left = order();
        await store.put(left);
        store.close();
        const idb = {
            open: (...args) => indexedDB.open(...args),
            deleteDatabase: (...args) => indexedDB.deleteDatabase(...args),
            cmp: (...args) => indexedDB.cmp(...args),
        };
        const controller = await OfflineController.create({
            ...opts,
            settings: {allowOfflineMode: false, autoDetect: false},
            transport: {call: async () => { throw new Error("offline"); }},
            indexedDB: idb,
            target: new EventTarget(),
        });
        const res = {pending: await controller.countPending(), count: controller.state.pendingCount,
                     uuids: await controller.listPendingUuids(), expected: [left.uuid]};
        controller.destroy();
        return res;
        """,
    )
    assert out["pending"] == 1
    assert out["count"] == 1
    assert out["uuids"] == out["expected"]
