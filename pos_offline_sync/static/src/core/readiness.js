/** @odoo-module */
// The readiness popover's sentences (issue 11): whether the browser promised to keep the offline
// orders, the space used, the oldest waiting order and the time left on the oldest unprocessed
// card, in words a cashier understands. Pure: the clock is passed in.

import { _t } from "./i18n.js";

/** Whether the waiting orders survive a full disk, as a sentence and a level. */
export function storageSentence(persistence) {
    if (persistence === "persisted") {
        return { level: "ok", text: _t("Offline orders are kept even when the disk fills up.") };
    }
    if (persistence === "best-effort" || persistence === "unsupported") {
        return {
            level: "warning",
            text: _t(
                "The browser may delete the offline orders if disk space runs low: ask your " +
                    "administrator."
            ),
        };
    }
    return { level: "unknown", text: _t("Checking whether this browser keeps the offline orders…") };
}

/** Whether leaving the page must ask first: orders wait and nothing promises to keep them. */
export function shouldConfirmLeaving(state) {
    return Boolean(state && state.pendingCount > 0 && state.persistence !== "persisted");
}

function bytesText(bytes) {
    const units = ["B", "kB", "MB", "GB", "TB"];
    let value = Math.max(0, Number(bytes) || 0);
    let unit = 0;
    while (value >= 1000 && unit < units.length - 1) {
        value /= 1000;
        unit += 1;
    }
    const shown = unit === 0 || value >= 100 ? Math.round(value) : Math.round(value * 10) / 10;
    return `${shown} ${units[unit]}`;
}

/** "1.2 MB used of 10 GB available" from navigator.storage.estimate(), or why not. */
export function spaceText(estimate) {
    if (!estimate || !Number.isFinite(estimate.usage)) {
        return _t("This browser does not tell how much space is used.");
    }
    if (!Number.isFinite(estimate.quota) || estimate.quota <= 0) {
        return _t("%(used)s used.", { used: bytesText(estimate.usage) });
    }
    return _t("%(used)s used of %(quota)s this browser allows.", {
        used: bytesText(estimate.usage),
        quota: bytesText(estimate.quota),
    });
}

/** "2 h 05 min" / "35 min" / "3 d 4 h" for a duration in ms (never negative). */
export function durationText(ms, { seconds = false } = {}) {
    const total = Math.max(0, Math.floor(ms / 1000));
    const d = Math.floor(total / 86400);
    const h = Math.floor((total % 86400) / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = total % 60;
    const pad = (n) => String(n).padStart(2, "0");
    if (d) {
        return _t("%(days)s d %(hours)s h", { days: d, hours: h });
    }
    if (seconds) {
        return h
            ? _t("%(hours)s h %(minutes)s min %(seconds)s s", { hours: h, minutes: pad(m), seconds: pad(s) })
            : _t("%(minutes)s min %(seconds)s s", { minutes: m, seconds: pad(s) });
    }
    return h
        ? _t("%(hours)s h %(minutes)s min", { hours: h, minutes: pad(m) })
        : _t("%(minutes)s min", { minutes: m });
}

/** The oldest waiting order: when it was made and how long ago. */
export function oldestOrderText(oldestAt, now, formatTime = defaultTime) {
    const at = oldestAt ? Date.parse(oldestAt) : NaN;
    if (!Number.isFinite(at)) {
        return _t("No orders are waiting.");
    }
    return _t("Made at %(time)s, %(age)s ago.", {
        time: formatTime(at),
        age: durationText(now - at),
    });
}

function defaultTime(ms) {
    try {
        return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    } catch {
        return new Date(ms).toISOString().slice(11, 16);
    }
}

/**
 * The oldest unprocessed card against the age limit, counted down by the second.
 * @param {object|null} cardAge `state.cardAge` (risk_limits.watchCardAge)
 * @param {number} now
 * @returns {{level: string, text: string}}
 */
export function cardCountdown(cardAge, now) {
    if (!cardAge || cardAge.level === "none" || !Number.isFinite(cardAge.deadlineAt)) {
        if (cardAge && cardAge.limited === false) {
            return { level: "none", text: _t("This register sets no age limit on offline cards.") };
        }
        return { level: "none", text: _t("No offline card is waiting to be processed.") };
    }
    const left = cardAge.deadlineAt - now;
    if (left <= 0 || cardAge.level === "overdue") {
        return {
            level: "overdue",
            text: _t("The oldest offline card is past the age limit: sync and process it now."),
        };
    }
    return {
        level: cardAge.level === "warn" ? "warn" : "ok",
        text: _t("Process the oldest offline card within %(left)s.", {
            left: durationText(left, { seconds: true }),
        }),
    };
}
