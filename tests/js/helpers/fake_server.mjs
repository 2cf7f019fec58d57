// A transport answering offline_sync_orders like the server contract (CONTRACTS §2): idempotent
// on uuid, one result per order in the same order. Tests can make it refuse orders, fail the
// whole call, or lose the answer after it stored the batch.

export class FakeServer {
    constructor() {
        this.stored = new Map(); // uuid -> order, what the back office holds
        this.calls = []; // payloads received
        this.refuse = new Map(); // uuid -> reason
        this.failNextCalls = 0; // calls rejected before storing anything
        this.loseNextAnswers = 0; // calls that store, then reject (answer lost)
        // The server's time budget: at most this many orders handled per call, the rest
        // answered "deferred" (0: a server that defers everything). null: no budget.
        this.ordersPerCall = null;
        // With a clock ({time}): each stored or refused order advances it this much.
        this.clock = null;
        this.msPerOrder = 0;
    }

    transport() {
        return { call: (method, payload) => this.call(method, payload) };
    }

    async call(method, payload) {
        this.calls.push({ method, payload: structuredClone(payload) });
        if (method !== "offline_sync_orders") {
            throw new Error(`unknown method ${method}`);
        }
        if (this.failNextCalls > 0) {
            this.failNextCalls--;
            throw new Error("Failed to fetch");
        }
        const budget = this.ordersPerCall;
        const results = payload.orders.map((order, index) => {
            if (budget !== null && index >= budget) {
                return {
                    uuid: order?.uuid ?? null,
                    ok: false,
                    status: "deferred",
                    reason: "not processed yet: send it again",
                };
            }
            if (this.clock) {
                this.clock.time += this.msPerOrder;
            }
            if (!order || !order.uuid) {
                return { uuid: null, ok: false, status: "error", reason: "the order has no uuid" };
            }
            if (this.refuse.has(order.uuid)) {
                return {
                    uuid: order.uuid,
                    ok: false,
                    status: "error",
                    reason: this.refuse.get(order.uuid),
                };
            }
            const exists = this.stored.has(order.uuid);
            if (!exists) {
                this.stored.set(order.uuid, structuredClone(order));
            }
            return {
                uuid: order.uuid,
                ok: true,
                status: exists ? "exists" : "created",
                reference: order.reference,
                paid: true,
            };
        });
        if (this.loseNextAnswers > 0) {
            this.loseNextAnswers--;
            throw new Error("NetworkError: the response was lost");
        }
        return { v: 1, results };
    }
}
