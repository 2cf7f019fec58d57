/** @odoo-module */
// Card capture for offline payments: validation (Luhn, brand, expiry, CVC) and encryption at
// once with WebCrypto. Each card gets a fresh AES-256-GCM key and 12-byte IV; the AES key is
// wrapped with the server's RSA-OAEP-SHA256 public key. Only the envelope, brand, last 4 digits
// and expiry are kept (CONTRACTS §1); the plaintext never leaves `sealCard`'s scope, is never
// stored, logged or put in an error message.

import { _t } from "./i18n.js";

/** Envelope algorithm id (CONTRACTS §1). */
export const ENVELOPE_ALG = "RSA-OAEP-256+A256GCM";

/** RPC of the public key (CONTRACTS §2). */
export const PUBLIC_KEY_METHOD = "offline_card_public_key";

// English source (msgid); shown through _t(NO_KEY_MESSAGE).
export const NO_KEY_MESSAGE = _t(
    "Cards cannot be taken offline on this register yet: it must be online once to load the card key."
);

/** Prefix of the error when the server refused to hand out a key (its reason follows). */
export const UNAVAILABLE_MESSAGE = "Card capture is unavailable:";

/**
 * The server's refusal to hand out a key (`{v, unavailable: {code, message}}`, CONTRACTS §2),
 * or null when `answer` is not one.
 */
export function unavailableReason(answer) {
    const reason = answer && typeof answer === "object" ? answer.unavailable : null;
    if (!reason || typeof reason !== "object") {
        return null;
    }
    return {
        code: typeof reason.code === "string" ? reason.code : "unavailable",
        message: typeof reason.message === "string" ? reason.message : "",
    };
}

const BRANDS = [
    ["amex", /^3[47]/],
    ["diners", /^3(0[0-5]|[689])/],
    ["discover", /^6(011|5|4[4-9])/],
    ["jcb", /^35(2[89]|[3-8])/],
    ["mastercard", /^(5[1-5]|2(2[2-9]|[3-6]|7[01]|720))/],
    ["visa", /^4/],
];

/** Digits only (spaces and dashes typed by the cashier are dropped). */
export function normalizeNumber(value) {
    return String(value ?? "").replace(/[\s-]/g, "");
}

export function luhnOk(number) {
    if (!/^\d+$/.test(number)) {
        return false;
    }
    let total = 0;
    for (let i = 0; i < number.length; i++) {
        let d = Number(number[number.length - 1 - i]);
        if (i % 2) {
            d = d > 4 ? d * 2 - 9 : d * 2;
        }
        total += d;
    }
    return total % 10 === 0;
}

/** Brand from the number's prefix (same table as core/card_envelope.py). */
export function detectBrand(number) {
    const digits = normalizeNumber(number);
    for (const [brand, pattern] of BRANDS) {
        if (pattern.test(digits)) {
            return brand;
        }
    }
    return "unknown";
}

/** "MM/YY", "MM/YYYY", "MMYY" -> {month, year} or null. */
export function parseExpiry(value) {
    const match = /^\s*(\d{1,2})\s*\/?\s*(\d{2}|\d{4})\s*$/.exec(String(value ?? ""));
    if (!match) {
        return null;
    }
    const month = Number(match[1]);
    let year = Number(match[2]);
    if (year < 100) {
        year += 2000;
    }
    return month >= 1 && month <= 12 ? { month, year } : null;
}

/**
 * Checks what the cashier typed. Error texts name the field, never echo its value.
 * @param {{number, expiry?, exp_month?, exp_year?, cvc, name}} input
 * @param {Date} [now]
 * @returns {{ok: boolean, errors: object, card: object|null}} card = normalised plaintext
 */
export function validateCard(input, now = new Date()) {
    const errors = {};
    const number = normalizeNumber(input.number);
    if (!number) {
        errors.number = _t("Enter the card number.");
    } else if (!/^\d{12,19}$/.test(number) || !luhnOk(number)) {
        errors.number = _t("This card number is not valid: check the digits.");
    }
    const expiry =
        input.expiry !== undefined
            ? parseExpiry(input.expiry)
            : parseExpiry(`${input.exp_month ?? ""}/${input.exp_year ?? ""}`);
    if (!expiry) {
        errors.expiry = _t("Enter the expiry date as MM/YY.");
    } else {
        const nowMonth = now.getUTCFullYear() * 12 + now.getUTCMonth();
        if (expiry.year * 12 + expiry.month - 1 < nowMonth) {
            errors.expiry = _t("This card has expired.");
        } else if (expiry.year > now.getUTCFullYear() + 25) {
            errors.expiry = _t("Enter the expiry date as MM/YY.");
        }
    }
    const cvc = String(input.cvc ?? "").trim();
    const cvcLength = detectBrand(number) === "amex" ? 4 : 3;
    if (!new RegExp(`^\\d{${cvcLength}}$`).test(cvc)) {
        errors.cvc = _t("Enter the %(digits)s-digit security code (CVC).", { digits: cvcLength });
    }
    const name = String(input.name ?? "").trim();
    if (!name) {
        errors.name = _t("Enter the cardholder's name.");
    } else if (name.length > 200) {
        errors.name = _t("The cardholder's name is too long.");
    }
    const ok = Object.keys(errors).length === 0;
    return {
        ok,
        errors,
        card: ok ? { number, exp_month: expiry.month, exp_year: expiry.year, cvc, name } : null,
    };
}

function toBase64(bytes) {
    let binary = "";
    const view = new Uint8Array(bytes);
    for (let i = 0; i < view.length; i++) {
        binary += String.fromCharCode(view[i]);
    }
    return btoa(binary);
}

function fromBase64(text) {
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) {
        bytes[i] = binary.charCodeAt(i);
    }
    return bytes;
}

/** The key id of an SPKI: first 16 hex digits of its SHA-256 (same as core/card_keys.py). */
export async function kidOf(spkiBytes, crypto = globalThis.crypto) {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", spkiBytes));
    return Array.from(digest.slice(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Imports the server's public key, checking it matches its kid.
 * @param {{kid: string, spki: string}} publicKey as `offline_card_public_key` returns it
 * @returns {Promise<CryptoKey>}
 */
export async function importPublicKey(publicKey, crypto = globalThis.crypto) {
    if (!publicKey || typeof publicKey.spki !== "string" || typeof publicKey.kid !== "string") {
        throw new Error(_t(NO_KEY_MESSAGE));
    }
    const der = fromBase64(publicKey.spki);
    if ((await kidOf(der, crypto)) !== publicKey.kid) {
        throw new Error(_t("The card key of this register is damaged: go online to reload it."));
    }
    return crypto.subtle.importKey("spki", der, { name: "RSA-OAEP", hash: "SHA-256" }, false, [
        "wrapKey",
    ]);
}

/**
 * Encrypts a validated card into an envelope (CONTRACTS §1). The plaintext JSON buffer is
 * zeroed once encrypted.
 * @param {{number, exp_month, exp_year, cvc, name}} card from validateCard().card
 * @param {{kid: string, spki: string}} publicKey
 * @returns {Promise<object>} {v, alg, kid, ek, iv, ct}
 */
export async function sealCard(card, publicKey, crypto = globalThis.crypto) {
    const rsaKey = await importPublicKey(publicKey, crypto);
    const aesKey = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, true, [
        "encrypt",
    ]);
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const plaintext = new TextEncoder().encode(
        JSON.stringify({
            number: card.number,
            exp_month: card.exp_month,
            exp_year: card.exp_year,
            cvc: card.cvc,
            name: card.name || "",
        })
    );
    try {
        const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, aesKey, plaintext);
        const ek = await crypto.subtle.wrapKey("raw", aesKey, rsaKey, { name: "RSA-OAEP" });
        return {
            v: 1,
            alg: ENVELOPE_ALG,
            kid: publicKey.kid,
            ek: toBase64(ek),
            iv: toBase64(iv),
            ct: toBase64(ct),
        };
    } finally {
        plaintext.fill(0);
    }
}

/**
 * The payment's `card` object (CONTRACTS §1) for a validated card: the envelope plus what may
 * be shown (brand, last 4, expiry).
 */
export async function capturedCard(card, publicKey, crypto = globalThis.crypto) {
    const envelope = await sealCard(card, publicKey, crypto);
    return {
        brand: detectBrand(card.number),
        last4: card.number.slice(-4),
        exp_month: card.exp_month,
        exp_year: card.exp_year,
        envelope,
        status: "unprocessed",
        payment_intent_id: null,
        message: null,
        decline_code: null,
    };
}

/**
 * The register's card key: fetched when online, cached in Web Storage so the card form works
 * offline after one online load. The public key is not a secret; the private key never comes here.
 */
export class CardVault {
    /**
     * @param {object} options
     * @param {{call: Function}} options.transport
     * @param {number|string} options.configId
     * @param {string} [options.dbName=""]
     * @param {Storage} [options.storage=globalThis.localStorage]
     * @param {Crypto} [options.crypto=globalThis.crypto]
     */
    constructor({ transport, configId, dbName = "", storage, crypto } = {}) {
        this.transport = transport;
        this.configId = configId;
        this.storageKey = `pos_offline_sync.card_key.${dbName}.${configId}`;
        this.storage = storage === undefined ? globalThis.localStorage : storage;
        this.crypto = crypto || globalThis.crypto;
        this._key = null;
        /** The server's refusal ({code, message}) while it hands out no key, else null. */
        this.unavailable = null;
    }

    /**
     * Keeps a key delivered with the POS data (no extra request); checked against its kid.
     * A refusal from the server (`{unavailable: {code, message}}`: it holds no key whose
     * private half it can protect) drops the cached key: no card is sealed until a key comes.
     * @param {{kid, spki}|{unavailable: object}|null} key
     */
    async remember(key) {
        const refused = unavailableReason(key);
        if (refused) {
            this.forget();
            this.unavailable = refused;
            return null;
        }
        if (!key || typeof key.kid !== "string" || typeof key.spki !== "string") {
            return this.cachedKey();
        }
        await importPublicKey(key, this.crypto);
        this.unavailable = null;
        try {
            this.storage?.setItem(this.storageKey, JSON.stringify({ kid: key.kid, spki: key.spki }));
        } catch {
            // Storage full or disabled: the key still works for this page.
        }
        this._key = { kid: key.kid, spki: key.spki };
        return this._key;
    }

    /** Drops the key of this register (memory and storage). */
    forget() {
        this._key = null;
        try {
            this.storage?.removeItem(this.storageKey);
        } catch {
            // Storage disabled: nothing was cached.
        }
    }

    /** The cached key, or null. */
    cachedKey() {
        if (this.unavailable) {
            return null;
        }
        try {
            const raw = this.storage?.getItem(this.storageKey);
            const key = raw ? JSON.parse(raw) : null;
            return key && typeof key.kid === "string" && typeof key.spki === "string" ? key : null;
        } catch {
            return null;
        }
    }

    /**
     * Fetches the current key (online) and caches it. Keeps the cached key if the server
     * cannot be reached.
     * @returns {Promise<{kid, spki}|null>}
     */
    async refresh() {
        let key;
        try {
            key = await this.transport.call(PUBLIC_KEY_METHOD, { v: 1, config_id: this.configId });
        } catch {
            return this.cachedKey();
        }
        return this.remember(key);
    }

    /** True when a card can be sealed now (a key is known and the server did not refuse). */
    get ready() {
        return !this.unavailable && Boolean(this._key || this.cachedKey());
    }

    /**
     * Validated card -> the payment's `card` object.
     * @throws {Error} the server's reason when it refused a key, NO_KEY_MESSAGE when no key
     *     was ever loaded
     */
    async capture(card) {
        if (this.unavailable) {
            throw new Error(`${UNAVAILABLE_MESSAGE} ${this.unavailable.message}`.trim());
        }
        const key = this._key || this.cachedKey();
        if (!key) {
            throw new Error(_t(NO_KEY_MESSAGE));
        }
        return capturedCard(card, key, this.crypto);
    }
}
