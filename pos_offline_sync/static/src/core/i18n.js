/** @odoo-module */
// Translation of the messages the browser core builds, without depending on Odoo: the host
// gives its translate function once (Odoo: its `_t`, transpiled with this module's context;
// the sandbox: none, so the English source is shown). Odoo's `i18n export` collects every
// `_t("...")` literal of the static/src JS files, so the strings below are called `_t` too.

let translateFn = null;

/**
 * Sets the function that translates a source string (`null` or no argument: English).
 * @param {((source: string) => string)|null} [fn]
 */
export function setTranslate(fn = null) {
    translateFn = typeof fn === "function" ? fn : null;
}

/**
 * Replaces `%(name)s` by `values.name` (placeholders without a value are left as they are).
 * @param {string} text
 * @param {object} values
 * @returns {string}
 */
export function interpolate(text, values) {
    return text.replace(/%\((\w+)\)s/g, (match, key) =>
        Object.prototype.hasOwnProperty.call(values, key) ? String(values[key] ?? "") : match
    );
}

/**
 * The translation of `source`, with `%(name)s` placeholders filled from `values`. Never throws:
 * a translate function that fails (Odoo's before its terms are loaded) gives the source.
 * @param {string} source English text, also the msgid of the .po files
 * @param {object} [values]
 * @returns {string}
 */
export function _t(source, values) {
    let text = source;
    if (translateFn) {
        try {
            const out = translateFn(source);
            // Odoo answers a (lazy) String object: read it now, as plain text.
            text = out === null || out === undefined ? source : String(out);
        } catch {
            text = source;
        }
    }
    return values ? interpolate(text, values) : text;
}

/**
 * `one` when count is 1, else `many`; both get `%(count)s` and `values`. (Plural forms with
 * more than two cases are not handled: the .po files give the "many" form for them.)
 * @param {number} count
 * @param {string} one
 * @param {string} many
 * @param {object} [values]
 * @returns {string}
 */
export function plural(count, one, many, values = {}) {
    return interpolate(count === 1 ? one : many, { count, ...values });
}
