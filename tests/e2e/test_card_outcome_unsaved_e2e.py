"""A card charged by the server whose outcome this browser cannot save (its store was closed
under it: another tab's upgrade, storage cleared) must still show as charged. Showing it ready to
process again would let the cashier take a second card. Real IndexedDB in Chromium; the server
is a scripted transport (the real ledger and localstripe run in tests/e2e/cards)."""


def test_server_outcome_is_shown_even_when_the_store_cannot_save_it(sandbox, page):
    # /pos: its import map resolves @odoo/owl for card_processing.js.
    page.goto(sandbox.url + "/pos")
    out = page.evaluate(
        """async () => {
        const { OfflineStore } = await import("/core/offline_store.js");
        const { CardProcessor } = await import("/core/card_processing.js");
        const opts = {dbName: "cardunsaved", configId: 1};
        await OfflineStore.deleteDatabase(opts);
        const store = await OfflineStore.open(opts);
        const uuid = crypto.randomUUID();
        const pay = crypto.randomUUID();
        await store.put({
            v: 1, uuid, reference: "Order 1", created_at: new Date().toISOString(),
            config_id: 1, session_id: 1, cashier: {id: 1, name: "C"}, customer: null,
            currency: "USD",
            lines: [{product_id: 1, product_name: "Pad", qty: 1, price_unit: 7, discount: 0,
                     price_subtotal_incl: 7}],
            payments: [{uuid: pay, payment_method_id: 2, payment_method_name: "Card", amount: 7,
                        card: {brand: "visa", last4: "4242", exp_month: 12, exp_year: 2030,
                               envelope: {v: 1, alg: "RSA-OAEP-256+A256GCM", kid: "k", ek: "ZQ==",
                                          iv: "aQ==", ct: "Yw=="},
                               status: "unprocessed", payment_intent_id: null, message: null,
                               decline_code: null}}],
            amount_total: 7, amount_tax: 0, amount_paid: 7, amount_return: 0, is_return: false,
        });
        const transport = {call: async () => {
            store.close();  // the store goes away while the server charges the card
            return {v: 1, status: "succeeded", payment_intent_id: "pi_1", message: "Approved",
                    brand: "visa", last4: "4242"};
        }};
        const processor = new CardProcessor({transport, store});
        const outcome = await processor.processPayment(uuid, pay);
        const reopened = await OfflineStore.open(opts);
        const card = (await reopened.get(uuid)).order.payments[0].card;
        reopened.close();
        return {status: outcome.status, shown: processor.outcomes[pay].status,
                message: outcome.message, stored: card.status};
    }"""
    )
    # The server's answer is what happened to the card, saved or not.
    assert out["status"] == "succeeded"
    assert out["shown"] == "succeeded"
    # Not saved here: the card stays unprocessed in the store (a later Process or sync gets the
    # same stored outcome from the server's ledger, never a second charge), and the cashier is
    # told why.
    assert out["stored"] == "unprocessed"
    assert "could not be saved" in out["message"]
