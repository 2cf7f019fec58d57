// Builders of plain offline orders (CONTRACTS §1) for the node tests.

let counter = 0;

export function makeOrder(overrides = {}) {
    counter++;
    const n = String(counter).padStart(4, "0");
    const order = {
        v: 1,
        uuid: `00000000-0000-4000-8000-00000000${n}`,
        reference: `Order 00001-001-${n}`,
        created_at: new Date(Date.UTC(2026, 10, 27, 12, 0, counter)).toISOString(),
        config_id: 1,
        session_id: 3,
        cashier: { id: 2, name: "Mitchell Admin" },
        customer: { id: 7, name: "Deco Addict" },
        currency: "USD",
        lines: [
            {
                product_id: 12,
                product_name: "Desk Pad",
                qty: 2,
                price_unit: 3.5,
                discount: 0,
                price_subtotal_incl: 7.0,
            },
        ],
        payments: [
            {
                uuid: `pay-${n}`,
                payment_method_id: 1,
                payment_method_name: "Cash",
                amount: 7.0,
                card: null,
            },
        ],
        amount_total: 7.0,
        amount_tax: 0.0,
        amount_paid: 7.0,
        amount_return: 0.0,
        is_return: false,
    };
    return { ...order, ...overrides };
}

export function makeReturn(overrides = {}) {
    return makeOrder({
        lines: [
            {
                product_id: 12,
                product_name: "Desk Pad",
                qty: -1,
                price_unit: 3.5,
                discount: 0,
                price_subtotal_incl: -3.5,
            },
        ],
        payments: [
            {
                uuid: `ret-${counter}`,
                payment_method_id: 1,
                payment_method_name: "Cash",
                amount: -3.5,
                card: null,
            },
        ],
        amount_total: -3.5,
        amount_paid: -3.5,
        is_return: true,
        ...overrides,
    });
}

export function cardPayment(overrides = {}) {
    return {
        uuid: `card-${counter}`,
        payment_method_id: 4,
        payment_method_name: "Card (offline)",
        amount: 7.0,
        card: {
            brand: "visa",
            last4: "4242",
            exp_month: 12,
            exp_year: 2030,
            envelope: {
                v: 1,
                alg: "RSA-OAEP-256+A256GCM",
                kid: "k1",
                ek: "RU5WRUxPUEVLRVk=",
                iv: "SVZJVklWSVZJVklW",
                ct: "U0VDUkVUQ0lQSEVSVEVYVA==",
            },
            status: "unprocessed",
            payment_intent_id: null,
            message: null,
            decline_code: null,
        },
        ...overrides,
    };
}

/** A syntactically valid card envelope (CONTRACTS §1); its bytes open nothing. */
export const FAKE_ENVELOPE = {
    v: 1,
    alg: "RSA-OAEP-256+A256GCM",
    kid: "0123456789abcdef",
    ek: "ZWs=",
    iv: "aXY=",
    ct: "Y3Q=",
};

/** An order paid by one offline card, sealed (FAKE_ENVELOPE) and not processed yet. */
export function makeCardOrder() {
    const order = makeOrder();
    order.payments = [
        {
            uuid: `${order.uuid}-card`,
            payment_method_id: 2,
            payment_method_name: "Card (offline)",
            amount: 7,
            card: {
                brand: "visa",
                last4: "4242",
                exp_month: 12,
                exp_year: 2030,
                envelope: FAKE_ENVELOPE,
                status: "unprocessed",
                payment_intent_id: null,
                message: null,
                decline_code: null,
            },
        },
    ];
    return order;
}
