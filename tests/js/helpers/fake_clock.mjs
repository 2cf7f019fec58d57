// A deterministic clock for the connectivity monitor: injected setTimeout/clearTimeout/now, and
// advance(ms) fires due timers in time order, letting promise callbacks settle between them.

export function flush() {
    return new Promise((resolve) => setImmediate(resolve));
}

export class FakeClock {
    constructor(start = 0) {
        this.time = start;
        this.timers = new Map();
        this.nextId = 1;
        this.delays = []; // every delay ever scheduled, in order
        this.now = () => this.time;
        this.setTimeout = (fn, ms) => {
            const id = this.nextId++;
            this.timers.set(id, { at: this.time + ms, fn });
            this.delays.push(ms);
            return id;
        };
        this.clearTimeout = (id) => {
            this.timers.delete(id);
        };
    }

    pending() {
        return this.timers.size;
    }

    async advance(ms) {
        const target = this.time + ms;
        await flush();
        for (;;) {
            let dueId = null;
            let due = null;
            for (const [id, timer] of this.timers) {
                if (timer.at <= target && (!due || timer.at < due.at)) {
                    dueId = id;
                    due = timer;
                }
            }
            if (!due) {
                break;
            }
            this.timers.delete(dueId);
            this.time = due.at;
            due.fn();
            await flush();
        }
        this.time = target;
        await flush();
    }
}
