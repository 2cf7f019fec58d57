/** @odoo-module */
// Offline card risk limits of one POS: the same rules and texts as core/risk_limits.py.
// Each limit is off when 0 or unset:
// - offline_card_max_amount: the most one offline card payment may be;
// - offline_card_max_total: the most all unprocessed offline card payments may add up to;
// - offline_card_max_age_hours: how long a card may wait unprocessed. The Sync icon counts down
//   towards it and warns in the last quarter; once passed, no new card is taken offline.

import { _t } from "./i18n.js";

export const RISK_FIELDS = [
    "offline_card_max_amount",
    "offline_card_max_total",
    "offline_card_max_age_hours",
];
export const WARN_FRACTION = 0.25;

// Compare money in thousandths so 0.1 + 0.2 never breaks a limit.
const units = (value) => Math.round(Number(value) * 1000);

function limit(value) {
    const n = Number(value);
    return Number.isFinite(n) && n > 0 ? n : null;
}

/** {maxAmount, maxTotal, maxAgeHours} (null = no limit) from a POS config object. */
export function limitsFromConfig(config = {}) {
    return {
        maxAmount: limit(config.offline_card_max_amount),
        maxTotal: limit(config.offline_card_max_total),
        maxAgeHours: limit(config.offline_card_max_age_hours),
    };
}

function money(amount, currency) {
    return `${Number(amount).toFixed(2)} ${currency || ""}`.trim();
}

export function amountRefusal(limits, amount, currency = "") {
    if (limits.maxAmount !== null && units(amount) > units(limits.maxAmount)) {
        return _t(
            "This card payment (%(amount)s) is over this POS's limit of %(limit)s per offline " +
                "card payment. Ask for another payment method.",
            { amount: money(amount, currency), limit: money(limits.maxAmount, currency) }
        );
    }
    return null;
}

export function totalRefusal(limits, amount, unprocessedTotal, currency = "") {
    const after = (units(unprocessedTotal) + units(amount)) / 1000;
    if (limits.maxTotal !== null && units(after) > units(limits.maxTotal)) {
        return _t(
            "Unprocessed offline card payments would reach %(total)s, over this POS's limit " +
                "of %(limit)s. Process the waiting cards once online, or ask for another " +
                "payment method.",
            { total: money(after, currency), limit: money(limits.maxTotal, currency) }
        );
    }
    return null;
}

/**
 * Where the oldest unprocessed card stands against the age limit (the Sync icon's count down).
 * @returns {{level: "none"|"ok"|"warn"|"overdue", hoursLeft: number|null}}
 */
export function ageState(limits, oldestUnprocessedAt, now = Date.now()) {
    if (limits.maxAgeHours === null || !oldestUnprocessedAt) {
        return { level: "none", hoursLeft: null };
    }
    const ageHours = (Number(new Date(now)) - Date.parse(oldestUnprocessedAt)) / 3600000;
    const hoursLeft = limits.maxAgeHours - ageHours;
    let level = "ok";
    if (hoursLeft <= 0) {
        level = "overdue";
    } else if (hoursLeft <= limits.maxAgeHours * WARN_FRACTION) {
        level = "warn";
    }
    return { level, hoursLeft };
}

export function ageRefusal(limits, oldestUnprocessedAt, now = Date.now()) {
    if (ageState(limits, oldestUnprocessedAt, now).level === "overdue") {
        return _t(
            "An offline card payment has waited more than %(hours)s hours. Go online and " +
                "process the waiting cards before taking another card offline.",
            { hours: limits.maxAgeHours }
        );
    }
    return null;
}

/** The first limit a new offline card payment breaks, as a message; null if none. */
export function riskRefusal(
    limits,
    { amount, unprocessedTotal = 0, oldestUnprocessedAt = null, currency = "", now = Date.now() }
) {
    return (
        amountRefusal(limits, amount, currency) ||
        totalRefusal(limits, amount, unprocessedTotal, currency) ||
        ageRefusal(limits, oldestUnprocessedAt, now)
    );
}

/** A card payment still waiting for an outcome. */
export function isUnprocessedCard(payment) {
    return Boolean(
        payment?.card && payment.card.status !== "succeeded" && payment.card.status !== "failed"
    );
}

/**
 * The unprocessed offline cards among stored records ({order, created_at}).
 * @returns {{count: number, total: number, oldestAt: string|null}}
 */
export function unprocessedCards(records) {
    let count = 0;
    let total = 0;
    let oldestAt = null;
    for (const record of records || []) {
        const order = record?.order || record;
        for (const payment of order?.payments || []) {
            if (isUnprocessedCard(payment)) {
                count += 1;
                total = (units(total) + units(payment.amount)) / 1000;
                const at = record.created_at || order.created_at;
                if (at && (!oldestAt || Date.parse(at) < Date.parse(oldestAt))) {
                    oldestAt = at;
                }
            }
        }
    }
    return { count, total, oldestAt };
}

/** Short text for the Sync icon: "Process cards within 3 h 20 min" / overdue warning. */
export function ageCountdownText(state) {
    if (!state || state.level === "none") {
        return "";
    }
    if (state.level === "overdue") {
        return _t("Offline cards are overdue: sync and process them now.");
    }
    const minutes = Math.max(0, Math.floor(state.hoursLeft * 60));
    const h = Math.floor(minutes / 60);
    const m = minutes % 60;
    return _t("Process offline cards within %(hours)s h %(minutes)s min.", {
        hours: h,
        minutes: String(m).padStart(2, "0"),
    });
}

/**
 * Keeps `controller.state.cardAge` ({level, hoursLeft, text, count, deadlineAt}) up to date for the Sync icon's
 * count down: at once, every `intervalMs`, right when the level changes (warn, overdue), and
 * whenever `update()` is called.
 * @param {object} options
 * @param {object} options.controller OfflineController (state, listPending)
 * @param {object} options.limits limitsFromConfig()
 * @returns {{update: () => Promise<void>, stop: () => void}}
 */
export function watchCardAge({ controller, limits, intervalMs = 30000, now = () => Date.now() }) {
    let stopped = false;
    let timer = null;
    const update = async () => {
        if (stopped) {
            return;
        }
        clearTimeout(timer);
        let waiting = { oldestAt: null, count: 0 };
        try {
            // No age limit, nothing to count down: skip reading every waiting order.
            if (limits.maxAgeHours !== null) {
                waiting = unprocessedCards((await controller.listPending()) || []);
            }
        } catch {
            // Unreadable store: no count down rather than a wrong one.
        }
        const state = ageState(limits, waiting.oldestAt, now());
        // The deadline itself, so a view can count down by the second between two updates.
        const deadlineAt =
            state.level === "none"
                ? null
                : Date.parse(waiting.oldestAt) + limits.maxAgeHours * 3600000;
        controller.state.cardAge = {
            ...state,
            text: ageCountdownText(state),
            count: waiting.count || 0,
            limited: limits.maxAgeHours !== null,
            deadlineAt,
        };
        let next = intervalMs;
        if (state.level === "ok" || state.level === "warn") {
            const warnAt = limits.maxAgeHours * WARN_FRACTION;
            const untilChange = state.level === "ok" ? state.hoursLeft - warnAt : state.hoursLeft;
            next = Math.min(next, Math.max(0, untilChange * 3600000) + 20);
        }
        if (!stopped) {
            timer = setTimeout(update, next);
        }
    };
    update();
    return {
        update,
        stop() {
            stopped = true;
            clearTimeout(timer);
        },
    };
}
