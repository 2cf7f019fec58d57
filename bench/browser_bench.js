// Browser-side measurements of `make bench`, run in a page of the sandbox (same origin as /core,
// with the import map) by bench/run.py. Every function returns raw samples in milliseconds; the
// Python side computes medians and ratios.

const CORE = "/core/";

export function typicalOrder(index, lines = 5) {
    const orderLines = [];
    let total = 0;
    for (let i = 0; i < lines; i++) {
        const qty = 1 + (i % 3);
        const price = 2.5 + i;
        orderLines.push({
            product_id: 1 + (i % 8),
            product_name: `Product ${1 + (i % 8)}`,
            qty,
            price_unit: price,
            discount: 0,
            price_subtotal_incl: qty * price,
        });
        total += qty * price;
    }
    const uuid = crypto.randomUUID();
    return {
        v: 1,
        uuid,
        reference: `Order 09999-001-${String(index).padStart(5, "0")}`,
        created_at: new Date(Date.UTC(2026, 10, 27, 12, 0, 0) + index * 1000).toISOString(),
        config_id: 1,
        session_id: 1,
        cashier: { id: 1, name: "Bench Cashier" },
        customer: { id: null, name: `Customer ${index % 50}` },
        currency: "USD",
        lines: orderLines,
        payments: [
            {
                uuid: crypto.randomUUID(),
                payment_method_id: 1,
                payment_method_name: "Cash",
                amount: total,
                card: null,
            },
        ],
        amount_total: total,
        amount_tax: 0,
        amount_paid: total,
        amount_return: 0,
        is_return: false,
    };
}

async function openStore(dbName, configId) {
    const { OfflineStore } = await import(CORE + "offline_store.js");
    return OfflineStore.open({ dbName, configId });
}

async function fill(store, count, offset = 0, chunk = 1000) {
    const uuids = [];
    for (let start = 0; start < count; start += chunk) {
        const orders = [];
        for (let i = start; i < Math.min(count, start + chunk); i++) {
            orders.push(typicalOrder(offset + i));
        }
        await store.putMany(orders);
        uuids.push(...orders.map((o) => o.uuid));
    }
    return uuids;
}

/** Committed put() latency of one order with `queued` orders already in the store. */
export async function finalizeLatency({ dbName, queued, samples }) {
    const store = await openStore(dbName, 1);
    await fill(store, queued);
    const times = [];
    for (let i = 0; i < samples; i++) {
        const order = typicalOrder(queued + i);
        const t0 = performance.now();
        await store.put(order);
        times.push(performance.now() - t0);
    }
    store.close();
    return times;
}

function rpcTransport() {
    return {
        async call(method, payload) {
            const response = await fetch("/rpc/" + method, {
                method: "POST",
                headers: { "Content-Type": "application/json" },
                body: JSON.stringify(payload),
            });
            if (!response.ok) {
                throw new Error(`HTTP ${response.status}`);
            }
            return (await response.json()).result;
        },
    };
}

/**
 * Time to sync `count` stored orders through the real engine and sandbox: at a fixed batch
 * size, or with `adaptive` the engine's own sizing from `batchSize` on. Returns `{ms,
 * batchSizes}` (the orders of each request).
 */
export async function syncTime({ dbName, count, batchSize, adaptive = false }) {
    const { SyncEngine } = await import(CORE + "sync_engine.js");
    const store = await openStore(dbName, 1);
    const uuids = await fill(store, count);
    const engine = new SyncEngine({
        store,
        transport: rpcTransport(),
        batchSize,
        adaptive,
        configId: 1,
    });
    const t0 = performance.now();
    const results = await engine.sync(uuids);
    const elapsed = performance.now() - t0;
    const failed = results.filter((r) => !r.ok);
    const left = await store.count();
    store.close();
    if (failed.length || left) {
        throw new Error(`sync bench: ${failed.length} failed, ${left} left: ${failed[0]?.reason}`);
    }
    return { ms: elapsed, batchSizes: engine.lastBatchSizes };
}

/** CSV export of `count` orders, repeated `samples` times. */
export async function csvTime({ count, samples }) {
    const { ordersToCsv } = await import(CORE + "csv_export.js");
    const orders = [];
    for (let i = 0; i < count; i++) {
        orders.push(typicalOrder(i));
    }
    const times = [];
    for (let i = 0; i < samples; i++) {
        const t0 = performance.now();
        const { exported } = ordersToCsv(orders);
        times.push(performance.now() - t0);
        if (exported !== count) {
            throw new Error(`csv bench exported ${exported} of ${count}`);
        }
    }
    return times;
}

/** Writes `count` typical 5-line orders into a fresh store (bench/run.py weighs the files). */
export async function fillStore({ dbName, count }) {
    const store = await openStore(dbName, 1);
    await fill(store, count);
    const n = await store.count();
    store.close();
    return n;
}

/** Fills the register's own store (its database name) so the dialog can be opened over it. */
export async function fillRegisterStore({ dbName, configId, count }) {
    const store = await openStore(dbName, configId);
    await fill(store, count);
    const n = await store.count();
    store.close();
    return n;
}

/** Click on Sync to Server -> the dialog's rows painted (the frame after they are in the DOM). */
export function dialogOpenTime({ buttonSelector, rowSelector }) {
    return new Promise((resolve, reject) => {
        const timeout = setTimeout(() => reject(new Error("dialog did not open")), 30000);
        const t0 = performance.now();
        const observer = new MutationObserver(() => {
            if (document.querySelector(rowSelector)) {
                observer.disconnect();
                requestAnimationFrame(() => {
                    clearTimeout(timeout);
                    resolve(performance.now() - t0);
                });
            }
        });
        observer.observe(document.body, { childList: true, subtree: true });
        document.querySelector(buttonSelector).click();
    });
}

/** Card orders sealed by prepareCardOrders, by dbName, waiting for cardProcessTime. */
const preparedCards = new Map();

/**
 * Card orders for cardProcessTime, kept out of its clock (and out of its CPU accounting in
 * bench/run.py): `count` orders each paid by card 4242 4242 4242 4242, sealed in the page with
 * the real CardVault and the sandbox's public key, stored in a fresh OfflineStore `dbName`.
 * The sandbox must run with SANDBOX_STRIPE_API_BASE (a localstripe) and
 * SANDBOX_STRIPE_SECRET_KEY.
 */
export async function prepareCardOrders({ dbName, count }) {
    const { CardVault, validateCard } = await import(CORE + "card_vault.js");
    const data = await (await fetch("/api/pos_data")).json();
    const configId = data.config.id;
    const method = (data.payment_methods || []).find((m) => m.offline_card);
    if (!method) {
        throw new Error("card bench: the sandbox has no offline card payment method");
    }
    // Times each card RPC too: when the ratio is low, rpcMedianMs shows whether the server
    // (not the page) is the limit.
    const rpc = rpcTransport();
    const rpcTimes = [];
    const transport = {
        async call(method, payload) {
            const start = performance.now();
            try {
                return await rpc.call(method, payload);
            } finally {
                if (method === "offline_process_card") {
                    rpcTimes.push(performance.now() - start);
                }
            }
        },
    };
    // storage: null keeps the bench's key out of the register's Web Storage.
    const vault = new CardVault({ transport, configId, dbName, storage: null });
    if (!(await vault.refresh())) {
        throw new Error("card bench: no card public key from the sandbox");
    }
    const checked = validateCard({
        number: "4242424242424242",
        exp_month: 12,
        exp_year: new Date().getUTCFullYear() + 3,
        cvc: "123",
        name: "Bench Customer",
    });
    const orders = [];
    for (let i = 0; i < count; i++) {
        const order = typicalOrder(i);
        order.config_id = configId;
        const payment = order.payments[0];
        payment.payment_method_id = method.id;
        payment.payment_method_name = method.name;
        payment.card = await vault.capture(checked.card);
        orders.push(order);
    }
    const store = await openStore(dbName, configId);
    await store.putMany(orders);
    preparedCards.set(dbName, { store, orders, configId, transport, rpcTimes });
    return count;
}

/**
 * The card orders of prepareCardOrders(dbName) processed through the real product path:
 * SyncEngine + CardProcessor (beforeSend) -> sandbox RPC offline_process_card -> ledger ->
 * localstripe, then the sync of the charged orders, at `concurrency` cards at a time.
 *
 * Returns `{cardsMs, syncMs, rpcMedianMs, count, concurrency}`: cardsMs from the sync's start
 * to its last card outcome (the "cards" phase), syncMs the whole sync, rpcMedianMs the median
 * offline_process_card round trip. Throws unless every card succeeded and every order synced.
 */
export async function cardProcessTime({ dbName, concurrency }) {
    const prepared = preparedCards.get(dbName);
    if (!prepared) {
        throw new Error(`card bench: no prepared orders for ${dbName}`);
    }
    preparedCards.delete(dbName);
    const { store, orders, configId, transport, rpcTimes } = prepared;
    const count = orders.length;
    const { CardProcessor } = await import(CORE + "card_processing.js");
    const { SyncEngine } = await import(CORE + "sync_engine.js");
    const processor = new CardProcessor({ transport, store });
    const engine = new SyncEngine({
        store,
        transport,
        configId,
        beforeSend: processor.beforeSend,
        concurrency,
    });
    let cardsMs = null;
    const t0 = performance.now();
    const results = await engine.sync(
        orders.map((o) => o.uuid),
        {
            onProgress: ({ phase, done, total }) => {
                if (phase === "cards" && done === total) {
                    cardsMs = performance.now() - t0;
                }
            },
        }
    );
    const syncMs = performance.now() - t0;
    const failed = results.filter((r) => !r.ok);
    const charged = Object.values(processor.outcomes).filter((o) => o.status === "succeeded");
    const left = await store.count();
    store.close();
    if (failed.length || left || charged.length !== count) {
        throw new Error(
            `card bench: ${failed.length} failed, ${left} left, ${charged.length} charged: ` +
                `${failed[0]?.reason}`
        );
    }
    rpcTimes.sort((a, b) => a - b);
    const rpcMedianMs = rpcTimes[Math.floor(rpcTimes.length / 2)];
    return { cardsMs, syncMs, rpcMedianMs, count, concurrency };
}

/**
 * With the register's sync dialog open over the waiting orders: "Select all", then "Sync to
 * Back-Office", watching the main thread with a PerformanceObserver for long tasks (> 50 ms)
 * until the dialog says how many synced. Returns `{longestTaskMs, longTasks, syncMs, message}`.
 */
export function dialogSyncLongTasks({ dialogSelector, timeoutMs = 600000 }) {
    const dialog = document.querySelector(dialogSelector);
    const q = (name) => dialog.querySelector(`[data-test=${name}]`);
    return new Promise((resolve, reject) => {
        const tasks = []; // {startMs (from the click), ms}
        const observer = new PerformanceObserver((list) => {
            for (const entry of list.getEntries()) {
                tasks.push({ startMs: entry.startTime - t0, ms: entry.duration });
            }
        });
        observer.observe({ type: "longtask", buffered: false });
        const timeout = setTimeout(() => {
            observer.disconnect();
            reject(new Error("the dialog's sync did not finish"));
        }, timeoutMs);
        const t0 = performance.now();
        const watch = new MutationObserver(() => {
            const message = q("sync-message");
            if (message && !q("sync-progress")) {
                watch.disconnect();
                // The tasks of the final render are reported after they end.
                setTimeout(() => {
                    observer.disconnect();
                    clearTimeout(timeout);
                    resolve({
                        longestTaskMs: Math.max(0, ...tasks.map((task) => task.ms)),
                        longTasks: tasks.length,
                        tasks,
                        syncMs: performance.now() - t0,
                        message: message.textContent.trim(),
                    });
                }, 200);
            }
        });
        watch.observe(dialog, { childList: true, subtree: true, characterData: true });
        q("sync-submit").click();
    });
}
