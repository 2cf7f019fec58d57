/** @odoo-module */
// Keyboard focus of the offline dialogs (WAI-ARIA dialog pattern): focus enters on open, Tab
// and Shift+Tab cycle inside, focus never falls to <body> while the dialog is open (a button
// that gets disabled or replaced under the focus, e.g. Sync while it runs), and it returns to
// what opened the dialog on close. Inside a host dialog that already traps Tab (Odoo's Dialog)
// the trap is the host's; the focus is still given back here, because the host remembers the
// element focused when it mounted, which is by then inside the dialog.

import { onMounted, onWillUnmount } from "@odoo/owl";

const TABBABLE = [
    "a[href]",
    "button",
    "input",
    "select",
    "textarea",
    "[tabindex]",
    "[contenteditable='true']",
].join(",");

/**
 * The elements Tab reaches inside `root`, in order (enabled, shown, tabindex not negative).
 * @param {Element} root
 * @returns {HTMLElement[]}
 */
export function tabbableIn(root) {
    return [...root.querySelectorAll(TABBABLE)].filter((el) => {
        if (el.disabled || el.tabIndex < 0 || el.closest("[inert]")) {
            return false;
        }
        if (el.type === "hidden") {
            return false;
        }
        // Shown: has a box (display:none and closed <details> have none) and is not hidden.
        return el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
    });
}

/**
 * Moves the focus for Tab / Shift+Tab so that it cycles inside `root`.
 * @param {KeyboardEvent} ev
 * @param {Element} root
 * @returns {boolean} true when the event was handled
 */
export function cycleTab(ev, root) {
    if (ev.key !== "Tab" || ev.altKey || ev.ctrlKey || ev.metaKey) {
        return false;
    }
    const items = tabbableIn(root);
    if (!items.length) {
        ev.preventDefault();
        root.focus();
        return true;
    }
    const first = items[0];
    const last = items[items.length - 1];
    const active = root.ownerDocument.activeElement;
    const inside = root.contains(active) && items.includes(active);
    if (ev.shiftKey && (!inside || active === first)) {
        ev.preventDefault();
        last.focus();
        return true;
    }
    if (!ev.shiftKey && (!inside || active === last)) {
        ev.preventDefault();
        first.focus();
        return true;
    }
    return false;
}

/**
 * Focus handling of a dialog component.
 * @param {{el: HTMLElement|null}} ref the dialog's root element (focusable: tabindex="-1")
 * @param {object} [options]
 * @param {boolean|(() => boolean)} [options.own=true] the component is the dialog itself (it
 *   traps Tab); false inside a host's dialog that does
 * @param {(root: HTMLElement) => HTMLElement|null} [options.initial] element focused on open
 *   (default: the root)
 * @returns {{onKeydown: (ev: KeyboardEvent) => boolean, rescue: () => void}} onKeydown traps
 *   Tab (call it from the root's keydown); rescue() puts a lost focus back into the dialog
 */
export function useDialogFocus(ref, { own = true, initial = null } = {}) {
    const isOwn = () => (typeof own === "function" ? own() : own);
    let opener = null;
    let observer = null;
    let within = false;
    const doc = globalThis.document;

    const rescue = () => {
        const root = ref.el;
        if (!root || !root.isConnected) {
            return;
        }
        const active = doc.activeElement;
        if (within && (!active || active === doc.body || !active.isConnected)) {
            root.focus();
        }
    };
    const onFocusIn = () => {
        within = true;
    };
    const onFocusOut = (ev) => {
        const root = ref.el;
        // Focus leaving for an element outside (a click elsewhere, a host's own dialog): no
        // rescue. Leaving for nowhere (relatedTarget null): check once the DOM has settled.
        if (ev.relatedTarget && root && !root.contains(ev.relatedTarget)) {
            within = false;
        } else if (!ev.relatedTarget) {
            setTimeout(rescue, 0);
        }
    };

    onMounted(() => {
        const root = ref.el;
        if (!root) {
            return;
        }
        opener = doc.activeElement && doc.activeElement !== doc.body ? doc.activeElement : null;
        root.addEventListener("focusin", onFocusIn);
        root.addEventListener("focusout", onFocusOut);
        // A focused button disabled or removed by a re-render: Chrome fires no event for it.
        if (typeof MutationObserver === "function") {
            observer = new MutationObserver(rescue);
            observer.observe(root, {
                subtree: true,
                childList: true,
                attributes: true,
                attributeFilter: ["disabled", "hidden", "class"],
            });
        }
        const target = (initial && initial(root)) || root;
        if (!root.contains(doc.activeElement)) {
            target.focus();
        }
        within = root.contains(doc.activeElement);
    });

    onWillUnmount(() => {
        observer?.disconnect();
        const root = ref.el;
        root?.removeEventListener("focusin", onFocusIn);
        root?.removeEventListener("focusout", onFocusOut);
        const active = doc.activeElement;
        const lost = !active || active === doc.body || (root && root.contains(active));
        if (lost && opener && opener.isConnected) {
            opener.focus();
        }
    });

    return {
        onKeydown(ev) {
            return isOwn() && ref.el ? cycleTab(ev, ref.el) : false;
        },
        rescue,
    };
}
