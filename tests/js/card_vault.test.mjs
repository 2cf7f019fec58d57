// card_vault.js: validation, and real WebCrypto sealing opened by the Python core
// (cryptography) in a child process: the browser and the server agree on the envelope.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

import {
    CardVault,
    NO_KEY_MESSAGE,
    UNAVAILABLE_MESSAGE,
    capturedCard,
    detectBrand,
    kidOf,
    luhnOk,
    parseExpiry,
    sealCard,
    validateCard,
} from "../../pos_offline_sync/static/src/core/card_vault.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const VENV_PY = join(ROOT, ".venv/bin/python");
const PYTHON = existsSync(VENV_PY) ? VENV_PY : "python3";
const NOW = new Date(Date.UTC(2026, 10, 27));

// Python side: make a key pair (private PEM in a temp dir), and open an envelope with it.
const PY = String.raw`
import json, sys
sys.path.insert(0, sys.argv[1])
import tests.card_support
from pos_offline_sync.core import card_keys, card_envelope
pem_path = sys.argv[3]
if sys.argv[2] == "gen":
    key = card_keys.generate_private_key(2048)
    open(pem_path, "wb").write(card_keys.private_to_pem(key))
    print(json.dumps(card_keys.public_info(key).as_rpc()))
else:
    key = card_keys.private_from_pem(open(pem_path, "rb").read())
    kid = card_keys.public_info(key).kid
    try:
        card = card_envelope.open_envelope(json.loads(sys.stdin.read()), {kid: key}.get)
    except card_envelope.EnvelopeError as exc:
        print(json.dumps({"error": str(exc)}))
    else:
        print(json.dumps({"number": card.number, "cvc": card.cvc, "exp_month": card.exp_month,
                          "exp_year": card.exp_year, "name": card.name, "brand": card.brand}))
`;

function python(mode, pemPath, input = "") {
    return JSON.parse(
        execFileSync(PYTHON, ["-c", PY, ROOT, mode, pemPath], { input, cwd: ROOT, encoding: "utf8" })
    );
}

class MemoryStorage {
    constructor() {
        this.items = new Map();
    }
    getItem(key) {
        return this.items.has(key) ? this.items.get(key) : null;
    }
    setItem(key, value) {
        this.items.set(key, String(value));
    }
    removeItem(key) {
        this.items.delete(key);
    }
}

const GOOD = { number: "4242 4242 4242 4242", expiry: "12/30", cvc: "123", name: "Ada Lovelace" };

describe("card validation", () => {
    it("accepts a good card and normalises it", () => {
        const { ok, errors, card } = validateCard(GOOD, NOW);
        assert.equal(ok, true);
        assert.deepEqual(errors, {});
        assert.deepEqual(card, {
            number: "4242424242424242",
            exp_month: 12,
            exp_year: 2030,
            cvc: "123",
            name: "Ada Lovelace",
        });
    });

    it("reports each bad field without echoing it", () => {
        const { ok, errors, card } = validateCard(
            { number: "4242 4242 4242 4241", expiry: "13/30", cvc: "12", name: " " },
            NOW
        );
        assert.equal(ok, false);
        assert.equal(card, null);
        assert.deepEqual(Object.keys(errors).sort(), ["cvc", "expiry", "name", "number"]);
        assert.equal(errors.number, "This card number is not valid: check the digits.");
        assert.ok(!JSON.stringify(errors).includes("4241"));
    });

    it("refuses an expired card, accepts this month", () => {
        assert.equal(validateCard({ ...GOOD, expiry: "10/26" }, NOW).errors.expiry, "This card has expired.");
        assert.equal(validateCard({ ...GOOD, expiry: "11/26" }, NOW).ok, true);
    });

    it("wants 4 CVC digits for amex", () => {
        const amex = { ...GOOD, number: "378282246310005", cvc: "123" };
        assert.match(validateCard(amex, NOW).errors.cvc, /4-digit/);
        assert.equal(validateCard({ ...amex, cvc: "1234" }, NOW).ok, true);
    });

    it("Luhn, brands and expiry parsing", () => {
        assert.ok(luhnOk("4000000000000341"));
        assert.ok(!luhnOk("4000000000000342"));
        assert.equal(detectBrand("5555 5555 5555 4444"), "mastercard");
        assert.equal(detectBrand("2223003122003222"), "mastercard");
        assert.equal(detectBrand("378282246310005"), "amex");
        assert.equal(detectBrand("6011111111111117"), "discover");
        assert.equal(detectBrand("9999"), "unknown");
        assert.deepEqual(parseExpiry("0731"), { month: 7, year: 2031 });
        assert.deepEqual(parseExpiry("7/2031"), { month: 7, year: 2031 });
        assert.equal(parseExpiry("00/31"), null);
    });
});

describe("sealing with WebCrypto, opened by Python", () => {
    let dir;
    let pem;
    let publicKey;
    before(() => {
        dir = mkdtempSync(join(tmpdir(), "card-vault-"));
        pem = join(dir, "key.pem");
        publicKey = python("gen", pem);
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it("round trips: Python reads exactly what the browser sealed", async () => {
        const { card } = validateCard(GOOD, NOW);
        const envelope = await sealCard(card, publicKey);
        assert.deepEqual(Object.keys(envelope), ["v", "alg", "kid", "ek", "iv", "ct"]);
        assert.equal(envelope.alg, "RSA-OAEP-256+A256GCM");
        assert.equal(envelope.kid, publicKey.kid);
        assert.equal(atob(envelope.iv).length, 12);
        const text = JSON.stringify(envelope);
        assert.ok(!text.includes("4242424242424242") && !text.includes('"123"'));
        const opened = python("open", pem, JSON.stringify(envelope));
        assert.deepEqual(opened, {
            number: "4242424242424242",
            cvc: "123",
            exp_month: 12,
            exp_year: 2030,
            name: "Ada Lovelace",
            brand: "visa",
        });
    });

    it("a flipped ciphertext bit is refused by Python", async () => {
        const envelope = await sealCard(validateCard(GOOD, NOW).card, publicKey);
        const ct = Uint8Array.from(atob(envelope.ct), (c) => c.charCodeAt(0));
        ct[0] ^= 1;
        envelope.ct = btoa(String.fromCharCode(...ct));
        assert.deepEqual(python("open", pem, JSON.stringify(envelope)), {
            error: "card data could not be decrypted (unknown key id / tampered)",
        });
    });

    it("every seal has its own AES key and IV", async () => {
        const { card } = validateCard(GOOD, NOW);
        const a = await sealCard(card, publicKey);
        const b = await sealCard(card, publicKey);
        assert.notEqual(a.iv, b.iv);
        assert.notEqual(a.ek, b.ek);
        assert.notEqual(a.ct, b.ct);
    });

    it("the kid is computed like the server's and a mismatching key is refused", async () => {
        const der = Uint8Array.from(atob(publicKey.spki), (c) => c.charCodeAt(0));
        assert.equal(await kidOf(der), publicKey.kid);
        await assert.rejects(
            sealCard(validateCard(GOOD, NOW).card, { ...publicKey, kid: "0000000000000000" }),
            /damaged/
        );
    });

    it("capturedCard keeps only the envelope, brand, last 4 and expiry", async () => {
        const captured = await capturedCard(validateCard(GOOD, NOW).card, publicKey);
        assert.deepEqual(Object.keys(captured).sort(), [
            "brand",
            "decline_code",
            "envelope",
            "exp_month",
            "exp_year",
            "last4",
            "message",
            "payment_intent_id",
            "status",
        ]);
        assert.equal(captured.status, "unprocessed");
        assert.equal(captured.last4, "4242");
        assert.ok(!JSON.stringify(captured).includes("4242424242424242"));
    });

    it("CardVault caches the key for offline use and refuses without one", async () => {
        const storage = new MemoryStorage();
        let online = true;
        const calls = [];
        const transport = {
            call: async (method, payload) => {
                calls.push([method, payload]);
                if (!online) {
                    throw new Error("offline");
                }
                return { v: 1, ...publicKey };
            },
        };
        const empty = new CardVault({ transport: { call: async () => Promise.reject(new Error("x")) }, configId: 1, storage: new MemoryStorage() });
        assert.equal(await empty.refresh(), null);
        assert.equal(empty.ready, false);
        await assert.rejects(empty.capture(validateCard(GOOD, NOW).card), { message: NO_KEY_MESSAGE });

        const vault = new CardVault({ transport, configId: 1, dbName: "db", storage });
        assert.deepEqual(await vault.refresh(), { kid: publicKey.kid, spki: publicKey.spki });
        assert.deepEqual(calls[0], ["offline_card_public_key", { v: 1, config_id: 1 }]);
        // A new page while offline: the cached key still seals.
        online = false;
        const later = new CardVault({ transport, configId: 1, dbName: "db", storage });
        assert.deepEqual(await later.refresh(), { kid: publicKey.kid, spki: publicKey.spki });
        assert.equal(later.ready, true);
        const captured = await later.capture(validateCard(GOOD, NOW).card);
        assert.equal(python("open", pem, JSON.stringify(captured.envelope)).number, "4242424242424242");
        assert.ok(![...storage.items.values()].join().includes("4242424242424242"));
    });

    it("CardVault drops its cached key when the server refuses one (no KEK) and says why", async () => {
        const storage = new MemoryStorage();
        const reason = "No key-encryption key (KEK) is configured on the server.";
        let answer = { v: 1, ...publicKey };
        const transport = { call: async () => answer };
        const vault = new CardVault({ transport, configId: 1, dbName: "db", storage });
        await vault.refresh();
        assert.equal(vault.ready, true);
        assert.equal(storage.items.size, 1);

        // The server lost its KEK: it hands out no key, and the stale cached one is not used.
        answer = { v: 1, unavailable: { code: "no_kek", message: reason } };
        assert.equal(await vault.refresh(), null);
        assert.equal(vault.ready, false);
        assert.deepEqual(vault.unavailable, { code: "no_kek", message: reason });
        assert.equal(storage.items.size, 0);
        await assert.rejects(vault.capture(validateCard(GOOD, NOW).card), {
            message: `${UNAVAILABLE_MESSAGE} ${reason}`,
        });
        // A page opened offline afterwards has nothing cached to seal with.
        const later = new CardVault({ transport: { call: async () => Promise.reject(new Error("offline")) }, configId: 1, dbName: "db", storage });
        assert.equal(await later.refresh(), null);
        assert.equal(later.ready, false);
        // The same refusal delivered with the POS data does the same.
        const fromData = new CardVault({ transport, configId: 1, dbName: "db", storage });
        assert.equal(await fromData.remember(answer), null);
        assert.equal(fromData.ready, false);

        // The KEK is back: a key comes again and seals.
        answer = { v: 1, ...publicKey };
        await vault.refresh();
        assert.equal(vault.ready, true);
        assert.equal(vault.unavailable, null);
        const captured = await vault.capture(validateCard(GOOD, NOW).card);
        assert.equal(python("open", pem, JSON.stringify(captured.envelope)).number, "4242424242424242");
    });
});
