/** @odoo-module */
// What the cashier reads about a sync: one status per order and one summary sentence, in
// words about the orders (sent, kept, can be sent again), never in the engine's terms. A lost
// answer is not a refusal: the server refused nothing, and the orders wait to be sent again.

import { _t, plural } from "./i18n.js";
import { SYNC_REASONS } from "./sync_engine.js";

/** The kind of a per-order result: "ok", "pending" (still waiting, nothing known), "error". */
export function resultKind(result) {
    if (!result) {
        return null;
    }
    if (result.ok) {
        return "ok";
    }
    if (result.pending || ["not_sent", "skipped", "missing"].includes(result.status)) {
        return "pending";
    }
    return "error";
}

/**
 * The status cell of one order: `{kind, label, detail}` (label: a word or two on a solid
 * badge; detail: the reason, or "").
 * @param {object|null} result a SyncEngine result (or {pending: true} when no answer came)
 * @returns {{kind: string, label: string, detail: string}|null}
 */
export function rowStatus(result) {
    const kind = resultKind(result);
    if (!kind) {
        return null;
    }
    if (kind === "ok") {
        let detail = result.status === "exists" ? _t("The back office already had it.") : "";
        if (result.rescueSession) {
            detail = _t(
                "Its session was closed: it is in the rescue session %(session)s, " +
                    "which a manager closes in the back office.",
                { session: result.rescueSession }
            );
        }
        return { kind, label: _t("Synced"), detail };
    }
    if (result.status === "missing") {
        return {
            kind,
            label: _t("Not here any more"),
            detail: _t(
                "This order is no longer waiting in this browser (synced from another window?)."
            ),
        };
    }
    if (result.status === "skipped") {
        return {
            kind,
            label: _t("Not sent"),
            detail: result.reason || _t("Its card could not be processed."),
        };
    }
    if (kind === "pending") {
        const earlier = result.reason === SYNC_REASONS.NOT_SENT;
        return {
            kind,
            label: _t("Not sent"),
            detail: earlier
                ? _t(
                      "An earlier batch got no answer from the server, so this one was kept back. " +
                          "It is kept here and can be sent again."
                  )
                : _t("No answer from the server. It is kept here and can be sent again."),
        };
    }
    if (result.reason === SYNC_REASONS.BAD_ANSWER) {
        return {
            kind,
            label: _t("Not confirmed"),
            detail: _t(
                "The server's answer did not match this order. " +
                    "It is kept here and can be sent again."
            ),
        };
    }
    return {
        kind,
        label: _t("Refused"),
        detail: result.reason || _t("The server refused this order without saying why."),
    };
}

/**
 * The sentence under the list after a sync: what was sent, what is kept and why.
 * @param {object[]} results one per order sent (missing answers count as "no answer")
 * @returns {{text: string, kind: "success"|"warning"|"error"}}
 */
export function syncSummary(results) {
    let synced = 0;
    let noAnswer = 0;
    let skipped = 0;
    let missing = 0;
    let refused = 0;
    const rescued = new Map(); // rescue session name -> orders synced into it
    for (const result of results) {
        const kind = resultKind(result);
        if (kind === "ok") {
            synced++;
            if (result.rescueSession) {
                rescued.set(result.rescueSession, (rescued.get(result.rescueSession) || 0) + 1);
            }
        } else if (result.status === "skipped") {
            skipped++;
        } else if (result.status === "missing") {
            missing++;
        } else if (kind === "pending" || result.reason === SYNC_REASONS.BAD_ANSWER) {
            noAnswer++;
        } else {
            refused++;
        }
    }
    const parts = [];
    if (synced) {
        parts.push(plural(synced, _t("%(count)s order synced."), _t("%(count)s orders synced.")));
    }
    for (const [session, count] of rescued) {
        parts.push(
            plural(
                count,
                _t(
                    "%(count)s of them went to the rescue session %(session)s: its session " +
                        "was closed."
                ),
                _t(
                    "%(count)s of them went to the rescue session %(session)s: their session " +
                        "was closed."
                ),
                { session }
            )
        );
    }
    if (noAnswer) {
        parts.push(
            plural(
                noAnswer,
                _t(
                    "%(count)s not sent: no answer from the server; " +
                        "it is kept and can be sent again."
                ),
                _t(
                    "%(count)s not sent: no answer from the server; " +
                        "they are kept and can be sent again."
                )
            )
        );
    }
    if (skipped) {
        parts.push(
            plural(
                skipped,
                _t("%(count)s not sent yet: its card is not processed (see the row)."),
                _t("%(count)s not sent yet: their cards are not processed (see each row).")
            )
        );
    }
    if (refused) {
        parts.push(
            plural(
                refused,
                _t(
                    "%(count)s refused by the server (the reason is on the row); it stays here."
                ),
                _t(
                    "%(count)s refused by the server (the reason is on each row); they stay here."
                )
            )
        );
    }
    if (missing) {
        parts.push(
            plural(
                missing,
                _t("%(count)s was no longer waiting in this browser."),
                _t("%(count)s were no longer waiting in this browser.")
            )
        );
    }
    if (!parts.length) {
        return { text: _t("Nothing was sent."), kind: "warning" };
    }
    const kind = refused ? "error" : synced === results.length ? "success" : "warning";
    return { text: parts.join(" "), kind };
}

/**
 * Whether the browser keeps the offline orders, in a cashier's words.
 * @param {string} persistence state.persistence ("persisted", "best-effort", "unsupported", ...)
 * @returns {{short: string, sentence: string, level: "ok"|"warning"|"unknown"}}
 */
export function persistenceText(persistence) {
    if (persistence === "persisted") {
        return {
            short: _t("Orders kept safe"),
            sentence: _t("This browser keeps the offline orders, even when its disk runs low."),
            level: "ok",
        };
    }
    if (persistence === "best-effort") {
        return {
            short: _t("Sync soon"),
            sentence: _t(
                "This browser may delete the offline orders if its disk runs low: sync them soon."
            ),
            level: "warning",
        };
    }
    if (persistence === "unsupported") {
        return {
            short: _t("Sync soon"),
            sentence: _t("This browser cannot promise to keep the offline orders: sync them soon."),
            level: "warning",
        };
    }
    return {
        short: "",
        sentence: _t("Checking whether this browser keeps the offline orders…"),
        level: "unknown",
    };
}
