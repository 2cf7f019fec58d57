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

/** Time to sync `count` stored orders through the real engine and sandbox, at a batch size. */
export async function syncTime({ dbName, count, batchSize }) {
    const { SyncEngine } = await import(CORE + "sync_engine.js");
    const store = await openStore(dbName, 1);
    const uuids = await fill(store, count);
    const engine = new SyncEngine({ store, transport: rpcTransport(), batchSize, configId: 1 });
    const t0 = performance.now();
    const results = await engine.sync(uuids);
    const elapsed = performance.now() - t0;
    const failed = results.filter((r) => !r.ok);
    const left = await store.count();
    store.close();
    if (failed.length || left) {
        throw new Error(`sync bench: ${failed.length} failed, ${left} left: ${failed[0]?.reason}`);
    }
    return elapsed;
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
