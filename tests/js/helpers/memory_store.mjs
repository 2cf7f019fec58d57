// An in-memory store with the OfflineStore API, for node tests of the sync engine and the
// controller (node has no IndexedDB; the real store is exercised in Chromium by the e2e tests).
// It clones on the way in and out like IndexedDB does, so tests catch shared-object mistakes.

import {
    expandSummary,
    makeRecord,
    makeSummary,
} from "../../../pos_offline_sync/static/src/core/offline_store.js";

const clone = (value) => (value === undefined ? undefined : structuredClone(value));

export class MemoryStore {
    constructor() {
        this.records = new Map();
        this.meta = new Map();
        this.closed = false;
        this.log = []; // operation names, so tests can check what ran
    }

    async put(order) {
        const record = makeRecord(order);
        this.records.set(record.uuid, clone(record));
        this.log.push("put");
        return clone(record);
    }

    async putCounted(order) {
        const record = await this.put(order);
        return { record, count: await this.count(), oldestCreatedAt: await this.oldestCreatedAt() };
    }

    async putMany(orders) {
        for (const order of orders) {
            await this.put(order);
        }
        return orders.length;
    }

    async get(uuid) {
        return clone(this.records.get(uuid)) ?? null;
    }

    async getMany(uuids) {
        this.log.push("getMany");
        return uuids.map((uuid) => clone(this.records.get(uuid)) ?? null);
    }

    async getAll() {
        return [...this.records.values()]
            .sort((a, b) =>
                a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : 0
            )
            .map(clone);
    }

    async listSummaries({ limit } = {}) {
        const all = await this.getAll();
        const listed = limit === undefined || limit === null ? all : all.slice(0, limit);
        return listed.map((record) => expandSummary(makeSummary(record)));
    }

    async getAllUuids() {
        return [...this.records.keys()];
    }

    async count() {
        return this.records.size;
    }

    async oldestCreatedAt() {
        const all = await this.getAll();
        return all.length ? all[0].created_at : null;
    }

    async remove(uuids) {
        this.log.push("remove");
        for (const uuid of uuids) {
            this.records.delete(uuid);
        }
        return uuids.length;
    }

    async update(uuid, fn) {
        return (await this.updateMany([uuid], fn))[0];
    }

    async updateMany(uuids, fn) {
        this.log.push("updateMany");
        const staged = uuids.map((uuid) => {
            const current = clone(this.records.get(uuid));
            if (!current) {
                return null;
            }
            const returned = fn(current);
            return returned === undefined ? current : returned;
        });
        // All or nothing, like one transaction.
        staged.forEach((record) => record && this.records.set(record.uuid, clone(record)));
        return staged.map(clone);
    }

    async getMeta(key, fallback = null) {
        return this.meta.has(key) ? clone(this.meta.get(key)) : fallback;
    }

    async setMeta(key, value) {
        this.meta.set(key, clone(value));
    }

    close() {
        this.closed = true;
    }
}
