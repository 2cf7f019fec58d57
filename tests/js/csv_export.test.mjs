import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
    csvCell,
    CSV_BOM,
    csvBlob,
    csvFilename,
    formatNumber,
    neutraliseCell,
    ordersToCsv,
} from "../../pos_offline_sync/static/src/core/csv_export.js";
import { CSV_COLUMNS } from "../../pos_offline_sync/static/src/core/csv_schema.js";
import { parseCsv } from "./helpers/csv_parse.mjs";
import { cardPayment, makeOrder, makeReturn } from "./helpers/orders.mjs";

function rowsOf(csv) {
    const [header, ...rows] = parseCsv(csv);
    return {
        header,
        rows: rows.map((row) => Object.fromEntries(header.map((h, i) => [h, row[i]]))),
    };
}

describe("neutraliseCell", () => {
    it("prefixes a quote to text a spreadsheet would run as a formula", () => {
        for (const start of ["=", "+", "-", "@", "\t", "\r"]) {
            assert.equal(neutraliseCell(`${start}1+2`), `'${start}1+2`);
        }
        assert.equal(neutraliseCell('=HYPERLINK("http://x","y")'), `'=HYPERLINK("http://x","y")`);
    });

    it("escapes a leading quote so stripping one quote on import is lossless", () => {
        assert.equal(neutraliseCell("'Tis"), "''Tis");
    });

    it("leaves plain text and numbers alone", () => {
        assert.equal(neutraliseCell("Deco Addict"), "Deco Addict");
        assert.equal(neutraliseCell("a=b"), "a=b");
        assert.equal(neutraliseCell(-3.5), -3.5);
        assert.equal(neutraliseCell(""), "");
    });
});

describe("csvCell", () => {
    it("quotes commas, quotes and line breaks and doubles the quotes", () => {
        assert.equal(csvCell("a,b"), '"a,b"');
        assert.equal(csvCell('say "hi"'), '"say ""hi"""');
        assert.equal(csvCell("two\nlines"), '"two\nlines"');
        assert.equal(csvCell("cr\r\nlf"), '"cr\r\nlf"');
        assert.equal(csvCell(null), "");
        assert.equal(csvCell(undefined), "");
    });

    it("writes numbers without float noise and negative numbers untouched", () => {
        assert.equal(csvCell(0.1 + 0.2), "0.3");
        assert.equal(csvCell(-7), "-7");
        assert.equal(formatNumber(Number.NaN), "");
        assert.equal(formatNumber(1234567.891), "1234567.891");
    });
});

describe("ordersToCsv", () => {
    it("starts with the CSV_COLUMNS header and ends every row with CRLF", () => {
        const { csv } = ordersToCsv([makeOrder()]);
        assert.ok(csv.startsWith(`${CSV_COLUMNS.join(",")}\r\n`));
        assert.ok(csv.endsWith("\r\n"));
        assert.ok(!csv.startsWith("\uFEFF"), "the text has no BOM: the file adds it");
        const { header } = rowsOf(csv);
        assert.deepEqual(header, CSV_COLUMNS);
    });

    it("writes one line row per line and one payment row per payment, order columns repeated", () => {
        const order = makeOrder({
            lines: [
                {
                    product_id: 1,
                    product_name: "A",
                    qty: 1,
                    price_unit: 2,
                    discount: 0,
                    price_subtotal_incl: 2,
                },
                {
                    product_id: 2,
                    product_name: "B",
                    qty: 3,
                    price_unit: 1,
                    discount: 10,
                    price_subtotal_incl: 2.7,
                },
            ],
            amount_total: 4.7,
            amount_paid: 4.7,
        });
        order.payments[0].amount = 4.7;
        const { csv, exported } = ordersToCsv([order]);
        const { rows } = rowsOf(csv);
        assert.equal(exported, 1);
        assert.deepEqual(
            rows.map((r) => r.record_type),
            ["line", "line", "payment"]
        );
        assert.ok(rows.every((r) => r.order_uuid === order.uuid && r.order_total === "4.7"));
        assert.equal(rows[1].product_name, "B");
        assert.equal(rows[1].quantity, "3");
        assert.equal(rows[1].discount_percent, "10");
        assert.equal(rows[1].line_total, "2.7");
        assert.equal(rows[1].payment_method, "");
        assert.equal(rows[2].payment_method, "Cash");
        assert.equal(rows[2].payment_amount, "4.7");
        assert.equal(rows[2].product_id, "");
        assert.equal(rows[0].customer, "Deco Addict");
        assert.equal(rows[0].cashier, "Mitchell Admin");
    });

    it("leaves returns out and counts them", () => {
        const sale = makeOrder();
        const flagged = makeReturn();
        const negative = makeReturn({ is_return: false }); // negative total is a return too
        const { csv, exported, skippedReturns } = ordersToCsv([sale, flagged, negative]);
        assert.equal(exported, 1);
        assert.equal(skippedReturns, 2);
        const { rows } = rowsOf(csv);
        assert.ok(rows.every((r) => r.order_uuid === sale.uuid));
    });

    it("neutralises a customer named =HYPERLINK(...) and keeps it readable", () => {
        const order = makeOrder({ customer: { id: 9, name: '=HYPERLINK("http://x","y")' } });
        const { csv } = ordersToCsv([order]);
        assert.ok(!csv.includes(",=HYPERLINK"), "never a bare formula cell");
        const { rows } = rowsOf(csv);
        assert.equal(rows[0].customer, `'=HYPERLINK("http://x","y")`);
    });

    it("round-trips commas, quotes and newlines in text", () => {
        const name = 'Smith, "Jo"\r\nsecond line';
        const order = makeOrder({ customer: { id: 1, name } });
        order.lines[0].product_name = "Pad, large";
        const { rows } = rowsOf(ordersToCsv([order]).csv);
        assert.equal(rows[0].customer, name);
        assert.equal(rows[0].product_name, "Pad, large");
    });

    it("writes brand, last 4 and status of a card, never the envelope", () => {
        const order = makeOrder();
        order.payments = [cardPayment()];
        const { csv } = ordersToCsv([order]);
        const payment = rowsOf(csv).rows.find((r) => r.record_type === "payment");
        assert.equal(payment.card_brand, "visa");
        assert.equal(payment.card_last4, "4242");
        assert.equal(payment.card_status, "unprocessed");
        const envelope = order.payments[0].card.envelope;
        for (const secret of [envelope.ek, envelope.iv, envelope.ct, "2030"]) {
            assert.ok(!csv.includes(secret), `the CSV must not hold ${secret}`);
        }
    });

    it("accepts store records as well as orders", () => {
        const order = makeOrder();
        const { exported } = ordersToCsv([{ uuid: order.uuid, order, is_return: false }]);
        assert.equal(exported, 1);
    });

    it("exports 10,000 orders into one string", () => {
        const orders = Array.from({ length: 10000 }, () => makeOrder());
        const { csv, exported } = ordersToCsv(orders);
        assert.equal(exported, 10000);
        assert.equal(csv.split("\r\n").length, 1 + 20000 + 1);
    });
});

describe("csvBlob", () => {
    it("the file starts with the UTF-8 BOM, then the text byte for byte", async () => {
        const order = makeOrder({ customer: { id: 1, name: "Zoë Ünal مريم 👩🏽‍💻" } });
        const { csv } = ordersToCsv([order]);
        const bytes = new Uint8Array(await csvBlob(csv).arrayBuffer());
        assert.deepEqual([...bytes.slice(0, 3)], [0xef, 0xbb, 0xbf]);
        assert.equal(CSV_BOM, "\uFEFF");
        assert.deepEqual(bytes.slice(3), new TextEncoder().encode(csv));
        assert.equal(new TextDecoder("utf-8", { ignoreBOM: false }).decode(bytes), csv);
    });
});

describe("csvFilename", () => {
    it("names the file after the config and the local date and time", () => {
        assert.equal(
            csvFilename(3, new Date(2026, 10, 7, 9, 5)),
            "offline-orders-3-20261107-0905.csv"
        );
    });
});
