/** @odoo-module */
import { Component, markRaw, onMounted, onWillUnmount, status, useRef, useState } from "@odoo/owl";
import { cardProcessorOf } from "../card_processing.js";
import { _t, plural } from "../i18n.js";
import { persistenceText, rowStatus, syncSummary } from "../sync_messages.js";
import { useDialogFocus } from "./dialog_focus.js";
import { TEXTS, fillText } from "../device_texts.js";
import { DeviceName } from "./device_name.js";
import { afterPaint, throttleToFrames } from "./frame_throttle.js";
import { ProcessCardCell } from "./process_card_cell.js";
import { isOffline } from "./status.js";

// Rows rendered at once: the dialog must open fast over 10,000 waiting orders; "Show more"
// renders further pages, while "Select all" always means every waiting order.
export const PAGE_SIZE = 200;

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "short", timeStyle: "short" });
const moneyFormats = new Map();

function formatMoney(amount, currency) {
    const n = Number(amount);
    if (!Number.isFinite(n)) {
        return String(amount ?? "");
    }
    const code = typeof currency === "string" ? currency : currency && currency.name;
    if (!moneyFormats.has(code)) {
        let fmt;
        try {
            fmt = new Intl.NumberFormat(undefined, { style: "currency", currency: code });
        } catch {
            // Unknown or missing currency code: plain number, never a crash.
            fmt = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2 });
        }
        moneyFormats.set(code, fmt);
    }
    return moneyFormats.get(code).format(n);
}

function formatDate(value) {
    const d = new Date(value);
    return Number.isNaN(d.getTime()) ? String(value ?? "") : dateFormat.format(d);
}

/** A result that ends an order's time in this list: synced here, or gone (another window). */
function isFinished(result) {
    return Boolean(result && (result.ok || result.status === "missing"));
}

/** The order of a store record ({uuid, order, ...}) or the order itself. */
function orderOf(rec) {
    return rec && rec.order && typeof rec.order === "object" ? rec.order : rec || {};
}

/**
 * The "Sync to Server" pop-up: lists the offline orders, syncs the checked ones to the back
 * office and exports the checked sales orders as CSV. Dialog-agnostic: it renders its own
 * role="dialog" shell, or with `embedded` only its body and buttons for a host's Dialog.
 *
 * Props: controller (OfflineController: state, listPending(), sync(uuids, {onProgress}),
 * downloadCsv(uuids)) and close().
 */
export class SyncDialog extends Component {
    static template = "pos_offline_sync.SyncDialog";
    static components = { DeviceName, ProcessCardCell };
    static props = {
        controller: Object,
        close: Function,
        pageSize: { type: Number, optional: true },
        // Inside a host dialog (Odoo's Dialog): no own title bar, no second role="dialog".
        embedded: { type: Boolean, optional: true },
    };

    setup() {
        this.offlineState = useState(this.props.controller.state);
        this.rootRef = useRef("root");
        // Focus in on open, back to the opener on close, never lost to <body>; Tab is trapped
        // here in its own shell, by the host's Dialog when embedded (Odoo).
        this.focus = useDialogFocus(this.rootRef, { own: !this.props.embedded });
        this.pageSize = this.props.pageSize || PAGE_SIZE;
        // The card processor (and the sync's beforeSend) exists even if no row shows a card.
        cardProcessorOf(this.props.controller);
        // Selection and results live in raw Set/Map (cheap with 10,000 orders); the counters in
        // the reactive state tell OWL when to re-render.
        this.selected = new Set();
        this.results = new Map();
        this.byUuid = new Map();
        this.doneCount = 0; // orders of the list confirmed synced (here or in another window)
        this.texts = TEXTS;
        this.waitAbort = null; // stops this dialog's wait for another window's sync
        // The engine reports every order: one render per frame at most, or the page freezes.
        this.showProgress = throttleToFrames((progress) => {
            if (this.ui.running && status(this) !== "destroyed") {
                this.ui.progress = progress;
            }
        });
        this.ui = useState({
            loading: true,
            loadError: "",
            records: markRaw([]),
            // Waiting orders: counted at open, then the length of the whole list once loaded.
            total: 0,
            complete: false,
            visible: this.pageSize,
            selectionVersion: 0,
            resultsVersion: 0,
            running: false,
            progress: null,
            message: "",
            messageKind: "",
            csvMessage: "",
            // Why the dialog does not close yet (Escape or Close while a sync runs).
            closeNote: "",
        });
        // Resolves once the whole list is in (or could not be read): sync and export wait for
        // it so their results always land on a complete list.
        this.fullLoad = null;
        // Another window synced: its orders leave this list without a reload.
        const unsubscribe = this.props.controller.subscribe?.((message) =>
            this.onRemoteChange(message)
        );
        onWillUnmount(() => {
            unsubscribe?.();
            this.waitAbort?.abort();
        });
        // The first page is read (bounded) and painted at once, the rest after that paint: the
        // dialog opens fast even over 10,000 waiting orders.
        onMounted(() => {
            this.fullLoad = this.load();
        });
    }

    async load() {
        const firstPainted = await this.loadFirstPage();
        if (status(this) === "destroyed") {
            return false;
        }
        if (this.ui.complete) {
            return true; // the first page was the whole list
        }
        if (firstPainted) {
            await afterPaint();
            if (status(this) === "destroyed") {
                return false;
            }
        }
        return this.loadAll(firstPainted);
    }

    /** The oldest page and the count; true when painted (false: the full read says why). */
    async loadFirstPage() {
        const controller = this.props.controller;
        try {
            const [page, total] = await Promise.all([
                controller.listPending({ limit: this.pageSize }),
                typeof controller.countPending === "function" ? controller.countPending() : null,
            ]);
            if (status(this) === "destroyed") {
                return false;
            }
            const records = this.keep(page || []);
            if (records.length < this.pageSize && Number(total) === records.length) {
                // Shorter than a page and as many as counted: the whole list, complete at
                // once (a second read of it would hold "Select all" and the sync back).
                this.setList(records);
                return true;
            }
            this.ui.records = markRaw(records);
            this.ui.total = Math.max(Number(total) || 0, records.length);
            this.ui.loading = false;
            return true;
        } catch {
            // The full read below tries again and reports the error.
            return false;
        }
    }

    async loadAll(firstPainted) {
        let records;
        try {
            records = (await this.props.controller.listPending()) || [];
        } catch (error) {
            if (status(this) !== "destroyed") {
                const text = _t("The offline orders could not be read: %(reason)s", {
                    reason: (error && error.message) || String(error),
                });
                if (firstPainted) {
                    // The first page stays usable; say that the rest is missing.
                    this.ui.message = text;
                    this.ui.messageKind = "error";
                } else {
                    this.ui.loadError = text;
                    this.ui.loading = false;
                }
            }
            return false;
        }
        if (status(this) === "destroyed") {
            return false; // closed while loading
        }
        this.setList(this.keep(records));
        return true;
    }

    /** The whole list is in: sorted oldest first, indexed, the selection kept to it. */
    setList(sorted) {
        // The store lists oldest first already; sort only if a host gave another order.
        const when = (r) => String(r.created_at || orderOf(r).created_at || "");
        let ordered = true;
        for (let i = 1; i < sorted.length && ordered; i++) {
            ordered = when(sorted[i - 1]) <= when(sorted[i]);
        }
        if (!ordered) {
            // ISO dates: plain string order is chronological (and cheaper than localeCompare).
            sorted.sort((a, b) => (when(a) < when(b) ? -1 : when(a) > when(b) ? 1 : 0));
        }
        this.byUuid = new Map(sorted.map((rec) => [rec.uuid || orderOf(rec).uuid, rec]));
        // "Select all" may have taken the store's keys before the list was in: keep only the
        // orders still listed (another tab may have synced some meanwhile).
        for (const uuid of this.selected) {
            if (!this.byUuid.has(uuid)) {
                this.selected.delete(uuid);
            }
        }
        this.ui.records = markRaw(sorted);
        this.ui.total = sorted.length;
        this.ui.complete = true;
        this.ui.loading = false;
        this.ui.selectionVersion++;
    }

    /** Drops unusable entries and indexes the rest by uuid. */
    keep(records) {
        const kept = records.filter((r) => r && (r.uuid || orderOf(r).uuid));
        for (const rec of kept) {
            this.byUuid.set(rec.uuid || orderOf(rec).uuid, rec);
        }
        return kept;
    }

    // ----- rows -------------------------------------------------------------------------------

    get offline() {
        return isOffline(this.offlineState);
    }

    get visibleRows() {
        return this.ui.records.slice(0, this.ui.visible).map((rec) => this.rowOf(rec));
    }

    rowOf(rec) {
        const order = orderOf(rec);
        const uuid = rec.uuid || order.uuid;
        const payments = Array.isArray(order.payments) ? order.payments : [];
        const customer = order.customer && order.customer.name ? order.customer.name : "";
        return {
            uuid,
            order,
            reference: String(order.reference || uuid),
            date: formatDate(order.created_at || rec.created_at),
            customer,
            total: formatMoney(order.amount_total, order.currency),
            isReturn: Boolean(rec.is_return ?? order.is_return),
            // A cell component only where there is a card: 200 cash rows render much faster.
            hasCard: payments.some((p) => p && p.card),
            methods: [
                ...new Set(payments.map((p) => p && p.payment_method_name).filter(Boolean)),
            ].join(", "),
        };
    }

    /** Waiting orders listed by the dialog (known from the count until the list is in). */
    get totalCount() {
        return this.ui.complete ? this.ui.records.length : this.ui.total;
    }

    get hiddenCount() {
        return Math.max(0, this.totalCount - this.ui.visible);
    }

    get showMoreText() {
        return _t("Show more (%(count)s more)", { count: this.hiddenCount });
    }

    showMore() {
        this.ui.visible += this.pageSize;
    }

    // ----- selection --------------------------------------------------------------------------

    isDone(uuid) {
        void this.ui.resultsVersion;
        return isFinished(this.results.get(uuid));
    }

    isChecked(uuid) {
        void this.ui.selectionVersion;
        return this.selected.has(uuid);
    }

    /** Orders that can still be checked (not confirmed synced); computed on demand only. */
    get selectableUuids() {
        const out = [];
        for (const uuid of this.byUuid.keys()) {
            if (!isFinished(this.results.get(uuid))) {
                out.push(uuid);
            }
        }
        return out;
    }

    /** Cheap count for every render: no walk over 10,000 orders. */
    get selectableCount() {
        void this.ui.resultsVersion;
        // Before the list is in, nothing has been synced from this dialog yet.
        return this.ui.complete ? this.byUuid.size - this.doneCount : this.ui.total;
    }

    get selectedCount() {
        void this.ui.selectionVersion;
        return this.selected.size;
    }

    get allChecked() {
        const selectable = this.selectableCount;
        return selectable > 0 && this.selectedCount === selectable;
    }

    get selectedReturns() {
        void this.ui.selectionVersion;
        let n = 0;
        for (const uuid of this.selected) {
            const rec = this.byUuid.get(uuid);
            if (rec && (rec.is_return ?? orderOf(rec).is_return)) {
                n++;
            }
        }
        return n;
    }

    toggleRow(uuid) {
        if (this.ui.running || this.isDone(uuid)) {
            return;
        }
        if (this.selected.has(uuid)) {
            this.selected.delete(uuid);
        } else {
            this.selected.add(uuid);
        }
        this.ui.selectionVersion++;
    }

    async toggleAll() {
        if (this.ui.running) {
            return;
        }
        if (this.allChecked) {
            this.selected.clear();
        } else if (this.ui.complete) {
            this.selected = new Set(this.selectableUuids);
        } else {
            // The list is still loading: every waiting order is selected from the store's keys
            // (cheap), so orders not loaded yet are selected too.
            let uuids;
            try {
                uuids = await this.props.controller.listPendingUuids();
            } catch (error) {
                this.ui.message = _t("Select all failed: %(reason)s", {
                    reason: (error && error.message) || String(error),
                });
                this.ui.messageKind = "error";
                this.ui.selectionVersion++;
                return;
            }
            if (status(this) === "destroyed" || this.ui.running) {
                return;
            }
            // The list may have landed meanwhile: then it decides what is selectable.
            this.selected = new Set(
                this.ui.complete ? uuids.filter((uuid) => this.byUuid.has(uuid)) : uuids
            );
            for (const uuid of this.selected) {
                if (this.isDone(uuid)) {
                    this.selected.delete(uuid);
                }
            }
        }
        this.ui.selectionVersion++;
    }

    /** Waits for the whole list (sync and export results must land on a complete list). */
    async whenLoaded() {
        if (this.fullLoad && !this.ui.complete) {
            await this.fullLoad;
        }
    }

    // ----- results ----------------------------------------------------------------------------

    /** {kind, label, detail} of the order's last result here, or null (still waiting). */
    statusOf(uuid) {
        void this.ui.resultsVersion;
        return rowStatus(this.results.get(uuid) || null);
    }

    /** Column names, repeated on each row where the table folds into cards (narrow screens). */
    get labels() {
        return {
            date: _t("Date"),
            customer: _t("Customer"),
            total: _t("Total"),
            method: _t("Payment Method"),
            card: _t("Process Card"),
            status: _t("Status"),
        };
    }

    get regionLabel() {
        return _t("Offline orders");
    }

    selectLabel(row) {
        return _t("Select %(reference)s", { reference: row.reference });
    }

    get syncTitle() {
        return this.offline ? _t("Orders can be synced only when the POS is online.") : "";
    }

    /** Whether this browser keeps the offline orders, in a sentence. */
    get storage() {
        return persistenceText(this.offlineState.persistence);
    }

    get selectionText() {
        return _t("%(selected)s of %(total)s selected", {
            selected: this.selectedCount,
            total: this.totalCount,
        });
    }

    get returnsNote() {
        const n = this.selectedReturns;
        return n
            ? plural(
                  n,
                  _t("%(count)s checked return will be skipped."),
                  _t("%(count)s checked returns will be skipped.")
              )
            : "";
    }

    // ----- actions ----------------------------------------------------------------------------

    get canSync() {
        return !this.offline && !this.ui.running && this.selectedCount > 0;
    }

    async syncSelected() {
        if (!this.canSync) {
            return;
        }
        // The Sync button is disabled while the sync runs: keep the focus in the dialog (on
        // its root) instead of letting it fall to <body>, where Escape no longer reaches us.
        const root = this.rootRef.el;
        if (root && root.contains(document.activeElement)) {
            root.focus();
        }
        this.ui.running = true;
        this.ui.closeNote = "";
        this.ui.message = "";
        await this.whenLoaded();
        const uuids = [...this.selected];
        this.ui.progress = { done: 0, total: uuids.length };
        let answered = new Set();
        this.waitAbort = typeof AbortController === "function" ? new AbortController() : null;
        try {
            const raw = await this.props.controller.sync(uuids, {
                onProgress: (p) => this.onProgress(p, uuids.length),
                signal: this.waitAbort?.signal,
            });
            const results = Array.isArray(raw) ? raw : (raw && raw.results) || [];
            answered = this.recordResults(uuids, results);
            // One per order sent: an order the answer left out counts as "no answer".
            const summary = syncSummary(
                uuids.map((uuid) => this.results.get(uuid) || { ok: false, pending: true })
            );
            this.ui.message = summary.text;
            this.ui.messageKind = summary.kind;
        } catch (error) {
            this.ui.message = _t("%(reason)s Nothing was removed: the orders still wait.", {
                reason: (error && error.message) || String(error),
            });
            this.ui.messageKind = "error";
        } finally {
            for (const uuid of uuids) {
                if (!answered.has(uuid) && !this.results.has(uuid)) {
                    this.results.set(uuid, { ok: false, pending: true, reason: "no answer" });
                }
            }
            this.ui.resultsVersion++;
            this.ui.selectionVersion++;
            this.ui.running = false;
            this.showProgress.cancel(); // a frame still pending shows nothing of a finished sync
            this.ui.progress = null;
            this.ui.closeNote = "";
            this.waitAbort = null;
        }
    }

    /** True while this dialog's sync waits for another window's. */
    get waitingForOther() {
        return Boolean(this.ui.running && this.offlineState.waitingForSync);
    }

    /** The progress of a sync running in another window, or null. */
    get remoteSync() {
        return this.offlineState.remoteSync || null;
    }

    stopWaiting() {
        this.waitAbort?.abort();
    }

    /** Another tab changed the store: rows whose order is gone were synced over there. */
    async onRemoteChange() {
        if (this.ui.running || !this.ui.complete || status(this) === "destroyed") {
            return;
        }
        let present;
        try {
            present = new Set(await this.props.controller.listPendingUuids());
        } catch {
            return; // the next change or sync tells
        }
        if (this.ui.running || status(this) === "destroyed") {
            return;
        }
        let changed = false;
        for (const uuid of this.byUuid.keys()) {
            if (!present.has(uuid) && !isFinished(this.results.get(uuid))) {
                this.results.set(uuid, { uuid, ok: false, status: "missing" });
                this.selected.delete(uuid);
                this.doneCount++;
                changed = true;
            }
        }
        if (changed) {
            this.ui.resultsVersion++;
            this.ui.selectionVersion++;
        }
    }

    onProgress(p, total) {
        if (typeof p === "number") {
            this.showProgress({ done: p, total });
        } else if (p && typeof p === "object") {
            this.showProgress({
                // "cards": card orders being processed before the send (SyncEngine phases).
                phase: p.phase === "cards" ? "cards" : "send",
                done: Number(p.done) || 0,
                total: Number(p.total) || total,
            });
        }
    }

    /** Stores one result per uuid (by uuid, else by position) and returns the uuids answered. */
    recordResults(uuids, results) {
        const answered = new Set();
        results.forEach((result, i) => {
            if (!result) {
                return;
            }
            const uuid = result.uuid || uuids[i];
            if (!uuid) {
                return;
            }
            answered.add(uuid);
            const before = this.results.get(uuid);
            if (isFinished(result) && !isFinished(before) && this.byUuid.has(uuid)) {
                this.doneCount++;
            }
            this.results.set(uuid, result);
            if (isFinished(result)) {
                this.selected.delete(uuid);
            }
        });
        return answered;
    }

    async exportCsv() {
        if (!this.selectedCount || this.ui.running) {
            return;
        }
        await this.whenLoaded();
        const uuids = [...this.selected];
        try {
            // The controller builds the file (returns left out) and offers it as a download.
            const out = await this.props.controller.downloadCsv(uuids);
            const exported = out.exported;
            const skipped = out.skippedReturns;
            if (!exported) {
                this.ui.csvMessage = _t("Nothing to export: the checked orders are all returns.");
            } else {
                const parts = [
                    plural(
                        exported,
                        _t("CSV exported: %(count)s sales order."),
                        _t("CSV exported: %(count)s sales orders.")
                    ),
                ];
                if (skipped) {
                    parts.push(
                        plural(
                            skipped,
                            _t("%(count)s return left out."),
                            _t("%(count)s returns left out.")
                        )
                    );
                }
                this.ui.csvMessage = parts.join(" ");
            }
        } catch (error) {
            this.ui.csvMessage = _t("CSV export failed: %(reason)s", {
                reason: (error && error.message) || String(error),
            });
        }
    }

    onKeydown(ev) {
        if (ev.key === "Escape") {
            // Ours, not the host's: a host dialog (Odoo's) would close over a running sync.
            ev.stopPropagation();
            ev.preventDefault();
            this.close();
            return;
        }
        this.focus.onKeydown(ev);
    }

    close() {
        if (this.ui.running) {
            this.ui.closeNote = _t(
                "A sync is running: this window can be closed once it has finished, " +
                    "so that every order gets its result."
            );
            return;
        }
        this.props.close();
    }
}
