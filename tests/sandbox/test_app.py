"""The sandbox host through werkzeug's test client on a real temporary SQLite file: the RPC
contract (idempotent on uuid, one result per order, 4xx never 5xx for bad input), static files
without traversal, settings, back office and the CSV import."""

import base64
import csv
import io
import json
import re
import sqlite3
import uuid as uuidlib
from pathlib import Path

import pytest
from werkzeug.test import Client

# isort: off
from tests.card_support import (
    SECRET_KEY,
    VISA_OK,
    card,
    kek_file_for,
    localstripe,
    succeeded_for_order,
)
from tests.order_support import recent
from pos_offline_sync.core.card_envelope import seal_card
from pos_offline_sync.core.card_keys import PublicKeyInfo
from pos_offline_sync.core.csv_schema import CSV_COLUMNS
from sandbox.app import create_app
# isort: on

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "pos_offline_sync/static/src/core"
JSON = {"Content-Type": "application/json"}


def _rows(db_path, sql="SELECT uuid FROM orders ORDER BY id"):
    conn = sqlite3.connect(db_path)
    try:
        return [tuple(r) if len(r) > 1 else r[0] for r in conn.execute(sql)]
    finally:
        conn.close()


def _sync(client, orders, **extra):
    payload = {"v": 1, "config_id": 1, "orders": orders, **extra}
    return client.post("/rpc/offline_sync_orders", data=json.dumps(payload), headers=JSON)


# -- register data and pages ------------------------------------------------------------------


def test_root_redirects_to_the_register(client):
    response = client.get("/")
    assert response.status_code in (301, 302, 303, 307, 308)
    assert response.headers["Location"].endswith("/pos")


def test_register_shell(client):
    response = client.get("/pos")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    importmap = re.search(r'<script type="importmap">(.*?)</script>', html, re.S).group(1)
    assert json.loads(importmap) == {"imports": {"@odoo/owl": "/owl/owl.es.js"}}
    assert '<div id="app">' in html
    assert '<script type="module" src="/sandbox-static/register.js">' in html
    assert 'href="/sandbox-static/register.css"' in html


def test_pos_data_seed_with_offline_flags_off(client):
    response = client.get("/api/pos_data")
    assert response.status_code == 200
    data = response.get_json()
    assert data["db_name"] == "sandbox"
    config = data["config"]
    assert config["id"] == 1 and config["currency"] == "USD" and config["name"]
    assert config["allow_offline_mode"] is False and config["allow_offline_auto_detect"] is False
    assert len(data["products"]) >= 8
    assert all({"id", "name", "price"} <= set(p) for p in data["products"])
    methods = {m["name"]: m for m in data["payment_methods"]}
    assert methods["Cash"]["is_cash"] is True and methods["Cash"]["offline_card"] is False
    assert methods["Card (offline)"]["offline_card"] is True
    assert len(data["cashiers"]) == 2


def test_ping(client):
    response = client.get("/ping")
    assert response.status_code == 200 and response.get_json() == {"ok": True}
    assert "no-store" in response.headers["Cache-Control"]


# -- static files -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "mime"),
    [
        ("offline_controller.js", "text/javascript"),
        ("csv_schema.js", "text/javascript"),
        ("components/sync_dialog.js", "text/javascript"),
        ("components/sync_dialog.xml", "application/xml"),
    ],
)
def test_core_files_are_served_unchanged(client, path, mime):
    response = client.get(f"/core/{path}")
    assert response.status_code == 200
    assert response.mimetype == mime
    assert response.get_data() == (CORE / path).read_bytes()


def test_owl_and_sandbox_static(client):
    owl = client.get("/owl/owl.es.js")
    assert owl.status_code == 200 and owl.mimetype == "text/javascript"
    assert b"export" in owl.get_data()
    js = client.get("/sandbox-static/register.js")
    assert js.status_code == 200 and js.mimetype == "text/javascript"
    assert js.get_data() == (ROOT / "sandbox/static/register.js").read_bytes()


@pytest.mark.parametrize(
    "path",
    [
        "/core/../offline_controller.js",
        "/core/../../../../pyproject.toml",
        "/core/..%2f..%2f..%2f..%2fpyproject.toml",
        "/core/%2e%2e/%2e%2e/%2e%2e/%2e%2e/sandbox/db.py",
        "/core/components/../../../../../sandbox/app.py",
        "/core//etc/passwd",
        "/core/%2fetc%2fpasswd",
        "/core/..\\..\\..\\..\\pyproject.toml",
        "/sandbox-static/../app.py",
        "/sandbox-static/..%2fapp.py",
        "/core/missing.js",
        "/core/",
    ],
)
def test_no_path_traversal(client, path):
    response = client.get(path)
    if response.status_code == 308:
        # werkzeug merges double slashes with a redirect: where it leads must still be a 404.
        location = response.headers["Location"]
        assert location.startswith(("/core/", "/sandbox-static/", "http://localhost/core/"))
        response = client.get(location.removeprefix("http://localhost"))
    assert response.status_code == 404, (path, response.status_code)
    body = response.get_data(as_text=True)
    for leaked in ("root:x", "[project]", "CREATE TABLE", "create_app", "OfflineController"):
        assert leaked not in body, (path, leaked)


# -- RPC --------------------------------------------------------------------------------------


def test_same_batch_twice_creates_nothing_twice(client, db_path, order_factory):
    orders = [order_factory() for _ in range(3)]
    first = _sync(client, orders)
    assert first.status_code == 200
    results = first.get_json()["result"]["results"]
    assert [(r["uuid"], r["ok"], r["status"]) for r in results] == [
        (o["uuid"], True, "created") for o in orders
    ]
    again = _sync(client, orders).get_json()["result"]["results"]
    assert [(r["uuid"], r["ok"], r["status"]) for r in again] == [
        (o["uuid"], True, "exists") for o in orders
    ]
    assert _rows(db_path) == [o["uuid"] for o in orders]
    assert _rows(db_path, "SELECT count(*) FROM order_lines") == [3]


def test_mixed_batch_two_created_three_errors(client, db_path, order_factory):
    good1, good2 = order_factory(), order_factory()
    missing_uuid = order_factory()
    del missing_uuid["uuid"]
    bad_qty = order_factory()
    bad_qty["lines"][0]["qty"] = "two"
    unknown_product = order_factory()
    unknown_product["lines"][0]["product_id"] = 424242
    response = _sync(client, [missing_uuid, good1, bad_qty, unknown_product, good2])
    assert response.status_code == 200
    results = response.get_json()["result"]["results"]
    assert [r["ok"] for r in results] == [False, True, False, False, True]
    assert [r["status"] for r in results] == ["error", "created", "error", "error", "created"]
    assert results[0]["uuid"] is None and "uuid" in results[0]["reason"]
    assert results[2]["uuid"] == bad_qty["uuid"]
    assert "line 1" in results[2]["reason"] and "quantity" in results[2]["reason"]
    assert results[3]["uuid"] == unknown_product["uuid"]
    assert "product" in results[3]["reason"] and "424242" in results[3]["reason"]
    assert _rows(db_path) == [good1["uuid"], good2["uuid"]]


def test_unpaid_order_and_its_detail_page(client, order_factory):
    order = order_factory(customer={"id": None, "name": "Deco Addict"})
    order["payments"][0]["amount"] = 2.0
    (result,) = _sync(client, [order]).get_json()["result"]["results"]
    assert result["ok"] and result["paid"] is False
    page = client.get(f"/backoffice/order/{order['uuid']}").get_data(as_text=True)
    assert 'id="order-status">Unpaid' in page
    assert "Desk Pad" in page and "Cash" in page and "Deco Addict" in page


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "",
        "   ",
        "[1, 2",
        '"just a string"',
        "[]",
        "null",
        "42",
        '{"v": 1, "config_id": 1, "orders": NaN}',
        '{"v": 1, "config_id": 1, "orders": [{"amount_total": Infinity}]}',
        '{"v": 2, "config_id": 1, "orders": []}',
        '{"v": 1, "config_id": 1, "orders": {}}',
        '{"v": 1, "config_id": "1", "orders": []}',
        '{"v": 1, "orders": []}',
    ],
)
def test_malformed_requests_get_a_clear_400(client, db_path, body):
    response = client.post("/rpc/offline_sync_orders", data=body, headers=JSON)
    assert response.status_code == 400, (body, response.status_code, response.get_data())
    error = response.get_json()["error"]
    assert error["code"] == "bad_request"
    assert isinstance(error["message"], str) and len(error["message"]) > 10
    assert _rows(db_path) == []


def test_hostile_input_never_gets_a_500(client, db_path, order_factory):
    """Input a client should never send still gets an answer that says what is wrong."""
    deep = "[" * 100_000 + "]" * 100_000
    for body in (deep, '{"v": 1, "config_id": 1, "orders": [' + deep + "]}"):
        response = client.post("/rpc/offline_sync_orders", data=body, headers=JSON)
        assert response.status_code == 400
        assert "nested too deeply" in response.get_json()["error"]["message"]
    huge = client.post(
        "/rpc/offline_sync_orders",
        data='{"v": 1, "config_id": 99999999999999999999999, "orders": []}',
        headers=JSON,
    )
    assert huge.status_code == 400
    assert "ids are 1 to 2147483647" in huge.get_json()["error"]["message"]
    mutations = [
        lambda o: o.update(customer={"id": None, "name": "\ud800x"}),
        lambda o: o.update(customer={"id": 2**70, "name": "x"}),
        lambda o: o.update(session_id=2**70),
        lambda o: o["lines"][0].update(product_id=10**25),
        lambda o: o["lines"][0].update(qty=1e308, price_unit=1e308),
        lambda o: o["payments"][0].update(uuid="\udfff"),
        lambda o: o["payments"][0].update(card={"status": "failed", "brand": {"x": 1}}),
        lambda o: o.update(currency="\ud800"),
    ]
    orders = []
    for mutate in mutations:
        order = order_factory()
        mutate(order)
        orders.append(order)
    response = _sync(client, orders)
    assert response.status_code == 200
    results = response.get_json()["result"]["results"]
    assert [r["ok"] for r in results] == [False] * len(mutations)
    # each one a reason naming the field, not the catch-all "internal error"
    assert all("internal error" not in r["reason"] for r in results), results
    assert _rows(db_path) == []


def test_not_utf8_and_no_content_type(client, order_factory):
    bad = client.post("/rpc/offline_sync_orders", data=b"\xff\xfe{", headers=JSON)
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "bad_request"
    # A client that sends no Content-Type (a plain fetch, curl) is still understood.
    payload = json.dumps({"v": 1, "config_id": 1, "orders": [order_factory()]})
    assert client.post("/rpc/offline_sync_orders", data=payload).status_code == 200


def test_odd_orders_inside_a_good_envelope_are_per_order_errors(client, db_path, order_factory):
    good = order_factory()
    response = _sync(client, [None, 1, "x", [], {}, {"uuid": "u"}, good])
    assert response.status_code == 200
    results = response.get_json()["result"]["results"]
    assert len(results) == 7
    assert [r["ok"] for r in results] == [False] * 6 + [True]
    assert all(r["reason"] for r in results[:6])
    assert _rows(db_path) == [good["uuid"]]


def test_batch_over_the_limit_is_refused_whole(client, db_path, order_factory):
    response = _sync(client, [order_factory() for _ in range(501)])
    assert response.status_code == 400
    assert "at most 500" in response.get_json()["error"]["message"]
    assert _rows(db_path) == []


def test_unknown_method_and_wrong_verb(client):
    response = client.post("/rpc/no_such_method", data="{}", headers=JSON)
    assert response.status_code == 404
    assert response.get_json()["error"]["message"]
    get = client.get("/rpc/offline_sync_orders")
    assert get.status_code == 405 and get.get_json()["error"]


def test_unknown_register_is_refused(client, db_path, order_factory):
    response = _sync(client, [order_factory()], config_id=99)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    assert _rows(db_path) == []


def test_cross_origin_post_is_refused(client, db_path, order_factory):
    payload = json.dumps({"v": 1, "config_id": 1, "orders": [order_factory()]})
    headers = {**JSON, "Origin": "http://evil.example"}
    response = client.post("/rpc/offline_sync_orders", data=payload, headers=headers)
    assert response.status_code == 403
    assert _rows(db_path) == []
    same = {**JSON, "Origin": "http://localhost"}
    assert client.post("/rpc/offline_sync_orders", data=payload, headers=same).status_code == 200


def test_non_loopback_host_header_is_refused(client):
    # DNS rebinding: a page of another site resolving its name to 127.0.0.1.
    response = client.get("/api/pos_data", headers={"Host": "evil.example"})
    assert response.status_code == 403


# -- settings ---------------------------------------------------------------------------------


def _settings(client, **form):
    return client.post("/settings", data=form, headers={"Origin": "http://localhost"})


def test_settings_form_and_save(client):
    page = client.get("/settings").get_data(as_text=True)
    assert "Allow Offline Mode" in page and "Allow Auto-Detect Online-Offline" in page
    # auto-detect hidden and disabled while offline mode is off
    assert re.search(r'id="allow_offline_auto_detect"[^>]*disabled', page)

    assert (
        _settings(client, allow_offline_mode="1", allow_offline_auto_detect="1").status_code == 200
    )
    config = client.get("/api/pos_data").get_json()["config"]
    assert config["allow_offline_mode"] is True and config["allow_offline_auto_detect"] is True
    page = client.get("/settings").get_data(as_text=True)
    assert not re.search(r'id="allow_offline_auto_detect"[^>]*disabled', page)

    _settings(client, allow_offline_auto_detect="1")  # offline mode unticked
    config = client.get("/api/pos_data").get_json()["config"]
    assert config["allow_offline_mode"] is False and config["allow_offline_auto_detect"] is False


def test_settings_cross_origin_post_changes_nothing(client):
    response = client.post(
        "/settings", data={"allow_offline_mode": "1"}, headers={"Origin": "http://evil.example"}
    )
    assert response.status_code == 403
    assert client.get("/api/pos_data").get_json()["config"]["allow_offline_mode"] is False


# -- back office ------------------------------------------------------------------------------


def test_backoffice_lists_synced_orders_escaped(client, order_factory):
    hostile = order_factory(customer={"id": None, "name": "<script>alert(1)</script>"})
    plain = order_factory()
    _sync(client, [hostile, plain])
    html = client.get("/backoffice").get_data(as_text=True)
    assert '<table id="orders">' in html
    assert sorted(re.findall(r'<tr data-uuid="([^"]+)"', html)) == sorted(
        [hostile["uuid"], plain["uuid"]]
    )
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert hostile["reference"] in html and "Paid" in html
    detail = client.get(f"/backoffice/order/{hostile['uuid']}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in detail


def test_backoffice_unknown_order_is_404(client):
    response = client.get("/backoffice/order/nope")
    assert response.status_code == 404


# -- CSV import -------------------------------------------------------------------------------


def _csv_text(orders, *, bad_qty_line_of=None) -> str:
    """A CSV as the register exports it (CONTRACTS §5), built row by row."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for order in orders:
        head = {
            "order_uuid": order["uuid"],
            "order_reference": order["reference"],
            "created_at": order["created_at"],
            "cashier": order["cashier"]["name"],
            "customer": (order["customer"] or {}).get("name", ""),
            "currency": order["currency"],
            "order_total": order["amount_total"],
        }
        for line in order["lines"]:
            qty = "lots" if order is bad_qty_line_of else line["qty"]
            writer.writerow(
                {
                    **head,
                    "record_type": "line",
                    "product_id": line["product_id"],
                    "product_name": line["product_name"],
                    "quantity": qty,
                    "unit_price": line["price_unit"],
                    "discount_percent": line["discount"],
                    "line_total": line["price_subtotal_incl"],
                }
            )
        for payment in order["payments"]:
            writer.writerow(
                {
                    **head,
                    "record_type": "payment",
                    "payment_uuid": payment["uuid"],
                    "payment_method_id": payment["payment_method_id"],
                    "payment_method": payment["payment_method_name"],
                    "payment_amount": payment["amount"],
                }
            )
    return out.getvalue()


def _upload(client, text, filename="orders.csv"):
    data = text.encode() if isinstance(text, str) else text
    return client.post(
        "/backoffice/import",
        data={"file": (io.BytesIO(data), filename)},
        headers={"Origin": "http://localhost"},
        content_type="multipart/form-data",
    )


def test_import_page_has_an_upload_form(client):
    html = client.get("/backoffice/import").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in html and 'type="file"' in html


def test_csv_import_twice_creates_nothing_twice(client, db_path, order_factory):
    orders = [order_factory(customer={"id": None, "name": '=HYPERLINK("http://x","y")'})]
    orders += [order_factory() for _ in range(2)]
    text = _csv_text(orders).replace('"=HYPERLINK', "\"'=HYPERLINK")  # neutralised export
    first = _upload(client, text)
    assert first.status_code == 200
    html = first.get_data(as_text=True)
    assert "3 of 3 order(s) imported (3 new, 0 already in the back office)" in html
    assert _rows(db_path) == [o["uuid"] for o in orders]
    assert _rows(db_path, "SELECT customer FROM orders ORDER BY id")[0] == (
        '=HYPERLINK("http://x","y")'
    )
    assert set(_rows(db_path, "SELECT origin FROM orders")) == {"csv"}

    second = _upload(client, text).get_data(as_text=True)
    assert "3 of 3 order(s) imported (0 new, 3 already in the back office)" in second
    assert _rows(db_path) == [o["uuid"] for o in orders]


def test_csv_of_orders_synced_since_creates_nothing(client, db_path, order_factory):
    orders = [order_factory() for _ in range(2)]
    _sync(client, orders[:1])
    html = _upload(client, _csv_text(orders)).get_data(as_text=True)
    assert "2 of 2 order(s) imported (1 new, 1 already in the back office)" in html
    assert _rows(db_path) == [o["uuid"] for o in orders]


def test_csv_import_lists_bad_lines_and_imports_the_rest(client, db_path, order_factory):
    good, bad = order_factory(), order_factory()
    unknown = order_factory()
    unknown["lines"][0]["product_id"] = 999
    html = _upload(client, _csv_text([good, bad, unknown], bad_qty_line_of=bad)).get_data(
        as_text=True
    )
    assert _rows(db_path) == [good["uuid"]]
    # bad's line row is line 4 of the file (header 1, good's two rows 2-3)
    assert re.search(r'<li data-line="4">Line 4: quantity is not a number', html)
    assert re.search(rf'<tr data-uuid="{unknown["uuid"]}" data-status="error">', html)
    assert "unknown product 999" in html
    assert "1 of 2 order(s) imported (1 new, 0 already in the back office)" in html


def _card_csv(orders) -> str:
    """A CSV of one-line orders, each paid by the given payments: (method id, amount, status)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for uuid, payments in orders:
        head = {
            "order_uuid": uuid,
            "order_reference": f"Order {uuid}",
            "created_at": recent(),
            "cashier": "Mitchell Admin",
            "currency": "USD",
            "order_total": "7",
        }
        line = {"product_id": 1, "product_name": "Desk Pad", "quantity": 2, "unit_price": 3.5}
        writer.writerow({**head, **line, "record_type": "line", "line_total": 7})
        for index, (method, amount, status) in enumerate(payments, start=1):
            card = {"card_brand": "visa", "card_last4": "4242", "card_status": status}
            writer.writerow(
                {
                    **head,
                    "record_type": "payment",
                    "payment_uuid": f"pay-{uuid}-{index}",
                    "payment_method_id": method,
                    "payment_method": "Card (offline)" if status else "Cash",
                    "payment_amount": amount,
                    **(card if status else {}),
                }
            )
    return out.getvalue()


UNPROCESSED_NOTE = (
    "Card payment not processed at the register (imported from CSV): take the payment again."
)


def test_csv_unprocessed_card_is_imported_unpaid_without_that_payment(client, db_path):
    """CONTRACTS §5, as the very first request of a fresh database (the cards module's tables
    must exist by then): a card still unprocessed in the CSV can never be charged from there
    (no card data), so its order comes in unpaid, without that payment, listed with the failed
    cards, with "Charge new card" for the amount due. Nothing is charged."""
    text = _card_csv(
        [
            ("card-1", [(2, 7, "unprocessed")]),
            ("card-2", [(1, 2, ""), (2, 5, "unprocessed")]),
        ]
    )
    html = _upload(client, text).get_data(as_text=True)
    assert "internal error" not in html
    assert re.search(r'<tr data-uuid="card-1" data-status="created">', html)
    assert re.search(r'<tr data-uuid="card-2" data-status="created">', html)
    assert "2 of 2 order(s) imported (2 new" in html
    assert _rows(
        db_path,
        "SELECT uuid, state, amount_paid, card_failed, note, origin FROM orders ORDER BY id",
    ) == [
        ("card-1", "draft", 0.0, 1, UNPROCESSED_NOTE, "csv"),
        ("card-2", "draft", 2.0, 1, UNPROCESSED_NOTE, "csv"),
    ]
    # Only the cash payment is stored; the unprocessed card payment line is dropped.
    assert _rows(
        db_path,
        "SELECT o.uuid, p.payment_method_name, p.amount, p.card_status FROM order_payments p "
        "JOIN orders o ON o.id = p.order_id ORDER BY p.id",
    ) == [("card-2", "Cash", 2.0, None)]
    # Nothing was sent for processing: no attempt in the ledger.
    assert _rows(db_path, "SELECT count(*) FROM card_attempts") == [0]
    # The back office lists them as unpaid with the note, and offers "Charge new card".
    for uuid, due in (("card-1", "7.00"), ("card-2", "5.00")):
        page = client.get(f"/backoffice/order/{uuid}").get_data(as_text=True)
        assert UNPROCESSED_NOTE in page
        form = re.search(r'<form id="charge-new-card"[^>]*data-amount="([^"]+)"', page)
        assert form and form.group(1) == due
    # Imported again: nothing twice.
    again = _upload(client, text).get_data(as_text=True)
    assert "2 of 2 order(s) imported (0 new, 2 already in the back office)" in again
    assert _rows(db_path, "SELECT count(*) FROM orders") == [2]


def test_charge_new_card_pays_an_imported_unprocessed_card(db_path):
    """The manager's "Charge new card" on such an order, against a real localstripe."""
    with localstripe() as stripe_url:
        stripe = {"api_base": stripe_url, "secret_key": SECRET_KEY}
        client = Client(create_app(db_path, stripe=stripe, card_kek_file=kek_file_for(db_path)))
        _upload(client, _card_csv([("card-4", [(2, 7, "unprocessed")])]))
        page = client.get("/backoffice/order/card-4").get_data(as_text=True)
        form = dict(
            re.findall(
                r'data-(\w+)="([^"]*)"',
                re.search(r'<form id="charge-new-card"(.*?)>', page, re.S).group(1),
            )
        )
        key = client.post("/rpc/offline_card_public_key", json={"v": 1, "config_id": 1})
        key = key.get_json()["result"]
        info = PublicKeyInfo(key["kid"], base64.b64decode(key["spki"]))
        body = {
            "payment_uuid": form["payment"],
            "token": form["token"],
            "envelope": seal_card(card(VISA_OK), info.kid, info.load()),
        }
        answer = client.post("/backoffice/order/card-4/charge", json=body).get_json()
        assert answer["result"]["status"] == "succeeded"
        assert _rows(db_path, "SELECT state, amount_paid FROM orders") == [("paid", 7.0)]
        assert len(succeeded_for_order(stripe_url, "card-4")) == 1


def test_csv_card_claimed_succeeded_without_the_ledger_is_refused(client, db_path):
    """A CSV's "succeeded" is not believed without the server's ledger: refused with its
    reason (the order stays in the register's file), never stored as paid."""
    html = _upload(client, _card_csv([("card-3", [(2, 7, "succeeded")])])).get_data(as_text=True)
    assert re.search(r'<tr data-uuid="card-3" data-status="error">', html)
    assert "never processed" in html and "internal error" not in html
    assert _rows(db_path) == []


def test_rpc_sync_of_an_unprocessed_card_without_its_data_is_refused(
    client, db_path, order_factory
):
    """Only the CSV import takes the unpaid path: the register's sync has the envelope, and a
    sync without it is refused so the order stays in the browser."""
    order = order_factory()
    order["payments"][0].update(
        payment_method_id=2,
        card={"brand": "visa", "last4": "4242", "status": "unprocessed", "envelope": None},
    )
    (result,) = _sync(client, [order]).get_json()["result"]["results"]
    assert not result["ok"] and "never processed" in result["reason"]
    assert _rows(db_path) == []


def test_csv_import_refuses_bad_files_clearly(client, db_path):
    not_utf8 = _upload(client, b"\xff\xfe\x00bad")
    assert not_utf8.status_code == 400 and "UTF-8" in not_utf8.get_data(as_text=True)
    no_file = client.post(
        "/backoffice/import",
        data={},
        headers={"Origin": "http://localhost"},
        content_type="multipart/form-data",
    )
    assert no_file.status_code == 400
    garbage = _upload(client, "hello,world\r\n1,2\r\n")
    assert garbage.status_code == 200
    assert "the header lacks the columns" in garbage.get_data(as_text=True)
    assert _rows(db_path) == []


CARD_MISSING_NOTE = (
    "Card payment of 7.00 USD on Card (offline) has no card charged: take the payment again."
)


def test_csv_offline_card_method_without_card_columns_is_imported_unpaid(client, db_path):
    """Numbered case 5: a CSV row paying with the offline-card payment method but with empty
    card columns was imported as Paid (no charge, no transaction). A payment on that method
    without a successful charge in the ledger never pays: unpaid, with a note, "Charge new
    card" offered for the amount due, nothing charged."""
    html = _upload(client, _card_csv([("card-5", [(2, 7, "")])])).get_data(as_text=True)
    assert re.search(r'<tr data-uuid="card-5" data-status="created">', html)
    assert _rows(db_path, "SELECT uuid, state, amount_paid, card_failed, note FROM orders") == [
        ("card-5", "draft", 0.0, 1, CARD_MISSING_NOTE)
    ]
    assert _rows(db_path, "SELECT count(*) FROM order_payments") == [0]
    assert _rows(db_path, "SELECT count(*) FROM card_attempts") == [0]
    page = client.get("/backoffice/order/card-5").get_data(as_text=True)
    form = re.search(r'<form id="charge-new-card"[^>]*data-amount="([^"]+)"', page)
    assert form and form.group(1) == "7.00"


def test_sync_offline_card_method_without_a_card_is_stored_unpaid(client, db_path, order_factory):
    """The register's sync, same rule as the CSV: the method takes cards offline, the payment
    has no card, so nothing was charged for it."""
    order = order_factory()
    order["payments"][0].update(payment_method_id=2, payment_method_name="Card (offline)")
    (result,) = _sync(client, [order]).get_json()["result"]["results"]
    assert result["ok"] and result["paid"] is False
    assert _rows(db_path, "SELECT state, amount_paid, card_failed, note FROM orders") == [
        ("draft", 0.0, 1, CARD_MISSING_NOTE)
    ]


# -- the server trusts no amount (issue 8) ------------------------------------------------------
@pytest.mark.parametrize(
    ("config_id", "status", "message"),
    [
        (2**80, 400, "config_id is not the id of a register: ids are 1 to 2147483647"),
        (2**63, 400, "ids are 1 to 2147483647"),
        (2**31, 400, "ids are 1 to 2147483647"),
        (2**31 - 1, 403, "You have no access to this Point of Sale."),
    ],
)
def test_register_id_past_its_bound_is_a_400_with_the_reason(client, config_id, status, message):
    response = client.post(
        "/rpc/offline_sync_orders",
        data=json.dumps({"v": 1, "config_id": config_id, "orders": []}),
        headers=JSON,
    )
    assert response.status_code == status
    assert message in response.get_json()["error"]["message"]


def _set_lines(order, total, qty=2, price=3.5):
    order["lines"][0].update(qty=qty, price_unit=price, price_subtotal_incl=total)
    order["amount_total"] = total
    order["payments"][0]["amount"] = total


REFUSED_ORDERS = [
    (lambda o: o.update(amount_total=1e26), "amount_total is too large: 1e+26 (at most 1e+12)"),
    (lambda o: o["payments"][0].update(amount=1e26), "payment 1: amount is too large: 1e+26"),
    (lambda o: o["lines"][0].update(qty=1e6 + 1), "line 1: quantity is too large: 1e+06"),
    (lambda o: o.update(session_id=2**31), "session_id is not a record id: 2147483648"),
    (lambda o: o.update(config_id=2**80), "config_id is not a record id: 1208925819614629"),
    (lambda o: o.update(amount_total=6.0), "amount_total 6.00 is not the sum of the lines (7.00)"),
    (
        lambda o: _set_lines(o, 1.0),
        "line 1: line total 1.00 is not quantity x unit price less discount (7.00)",
    ),
    (
        lambda o: _set_lines(o, -7.0, qty=-2),
        "amount_total is negative (-7.00) but the order is not a return (is_return)",
    ),
    (
        lambda o: o.update(amount_return=5.0),
        "amount_return 5.00 is more than the payments exceed the total by (0.00)",
    ),
    (
        lambda o: o.update(customer={"id": None, "name": "Ann\x00"}),
        "customer name contains a control character (U+0000)",
    ),
    (
        lambda o: o["lines"][0].update(product_name="Pad\x1b[2J"),
        "line 1: product_name contains a control character (U+001B)",
    ),
    (lambda o: o.update(reference="Order\n7"), "reference contains a control character (U+000A)"),
    (
        lambda o: o.update(odoo={"session_id": 2**31}),
        "odoo.session_id is out of range: 2147483648",
    ),
    (
        lambda o: o.update(created_at="2999-01-01T00:00:00Z"),
        "created_at '2999-01-01T00:00:00Z' is more than 10 minutes after the server's time",
    ),
]


def test_orders_past_a_bound_get_their_reason_never_a_500(client, db_path, order_factory):
    orders = []
    for mutate, _ in REFUSED_ORDERS:
        order = order_factory()
        mutate(order)
        orders.append(order)
    response = _sync(client, orders)
    assert response.status_code == 200
    results = response.get_json()["result"]["results"]
    for (_, reason), result in zip(REFUSED_ORDERS, results, strict=True):
        assert (result["ok"], result["status"]) == (False, "error")
        assert result["reason"].startswith(reason), (reason, result["reason"])
    assert _rows(db_path) == []


def test_orders_at_each_bound_are_stored(client, db_path, order_factory):
    at_bounds = [
        order_factory(session_id=2**31 - 1),
        order_factory(amount_total=7.004),  # under half a cent from its lines
        order_factory(amount_return=3.0),
        order_factory(created_at=recent(-9)),  # 9 minutes ahead of the server
        order_factory(odoo={"session_id": 2**31 - 1, "general_customer_note": "a\nb"}),
    ]
    at_bounds[2]["payments"][0]["amount"] = 10.0
    big = order_factory()
    _set_lines(big, 1e12, qty=1e6, price=1e6)
    at_bounds.append(big)
    ret = order_factory(is_return=True)
    _set_lines(ret, -7.0, qty=-2)
    at_bounds.append(ret)
    results = _sync(client, at_bounds).get_json()["result"]["results"]
    assert [r["ok"] for r in results] == [True] * len(at_bounds), results
    assert [r["paid"] for r in results] == [True] * len(at_bounds)


def test_unknown_keys_are_dropped_before_storing(client, db_path, order_factory):
    order = order_factory(state="paid", amount_paid=100.0)
    order["payments"][0]["amount"] = 5.0
    order["lines"][0]["discount_reason"] = "x"
    (result,) = _sync(client, [order]).get_json()["result"]["results"]
    # Paid is the server's decision: 5.00 does not cover 7.00, whatever the browser says.
    assert result["ok"] and result["paid"] is False
    stored = json.loads(_rows(db_path, "SELECT payload FROM orders")[0])
    assert "state" not in stored and "discount_reason" not in stored["lines"][0]
    assert stored["amount_paid"] == 5.0
    assert _rows(db_path, "SELECT amount_paid FROM orders") == [5.0]


# -- the offline card risk limits at sync -------------------------------------------------------
@pytest.fixture(scope="module")
def stripe_url():
    with localstripe() as url:
        yield url


@pytest.fixture
def card_client(db_path, stripe_url):
    return Client(
        create_app(
            db_path,
            stripe={"api_base": stripe_url, "secret_key": SECRET_KEY},
            card_kek_file=kek_file_for(db_path),
        )
    )


def _limits(client, amount=0, total=0, hours=0):
    response = client.post(
        "/settings",
        data={
            "allow_offline_mode": "1",
            "offline_card_max_amount": str(amount),
            "offline_card_max_total": str(total),
            "offline_card_max_age_hours": str(hours),
        },
    )
    assert response.status_code == 200


def _sealed_card_order(client, order_factory, amount, minutes_ago=1):
    key = client.post("/rpc/offline_card_public_key", json={"v": 1, "config_id": 1})
    key = key.get_json()["result"]
    info = PublicKeyInfo(key["kid"], base64.b64decode(key["spki"]))
    # A uuid of its own: localstripe lives for the module, PaymentIntents are found by uuid.
    order = order_factory(created_at=recent(minutes_ago), uuid=str(uuidlib.uuid4()))
    _set_lines(order, amount, qty=1, price=amount)
    order["payments"][0].update(
        payment_method_id=2,
        payment_method_name="Card (offline)",
        card={
            "brand": "visa",
            "last4": "4242",
            "status": "unprocessed",
            "envelope": seal_card(card(VISA_OK), info.kid, info.load()),
        },
    )
    return order


def _card_rows(db_path):
    return _rows(db_path, "SELECT uuid, state, card_failed FROM orders ORDER BY id")


def test_sync_holds_a_card_over_the_per_payment_limit(
    card_client, db_path, stripe_url, order_factory
):
    _limits(card_client, amount=7)
    at = _sealed_card_order(card_client, order_factory, 7.0)
    over = _sealed_card_order(card_client, order_factory, 7.01)
    results = _sync(card_client, [at, over]).get_json()["result"]["results"]
    assert [(r["ok"], r["paid"]) for r in results] == [(True, True), (True, False)]
    assert len(succeeded_for_order(stripe_url, at["uuid"])) == 1
    assert succeeded_for_order(stripe_url, over["uuid"]) == []
    note = _rows(db_path, f"SELECT note FROM orders WHERE uuid = '{over['uuid']}'")[0]
    assert note.startswith("Card payment of 7.01 USD (VISA **** 4242) not charged: This card")
    # Not charged, and the sealed card is not kept anywhere.
    payload = _rows(db_path, f"SELECT payload FROM orders WHERE uuid = '{over['uuid']}'")[0]
    assert '"ct"' not in payload and "envelope" not in payload


def test_sync_holds_cards_past_the_unprocessed_total(
    card_client, db_path, stripe_url, order_factory
):
    _limits(card_client, total=11)
    first = _sealed_card_order(card_client, order_factory, 6.0, minutes_ago=10)
    second = _sealed_card_order(card_client, order_factory, 5.0, minutes_ago=5)
    third = _sealed_card_order(card_client, order_factory, 0.01, minutes_ago=2)
    # Sent newest first: judged in the order the register took them.
    results = _sync(card_client, [third, second, first]).get_json()["result"]["results"]
    assert [r["paid"] for r in results] == [False, True, True]  # 6 + 5 = 11, then 11.01
    assert succeeded_for_order(stripe_url, third["uuid"]) == []
    note = _rows(db_path, f"SELECT note FROM orders WHERE uuid = '{third['uuid']}'")[0]
    assert "would reach 11.01 USD" in note


def test_sync_holds_a_card_that_waited_past_the_age_limit(
    card_client, db_path, stripe_url, order_factory
):
    _limits(card_client, hours=1)
    young = _sealed_card_order(card_client, order_factory, 7.0, minutes_ago=59)
    old = _sealed_card_order(card_client, order_factory, 7.0, minutes_ago=61)
    results = _sync(card_client, [young, old]).get_json()["result"]["results"]
    assert [(r["ok"], r["paid"]) for r in results] == [(True, True), (True, False)]
    assert succeeded_for_order(stripe_url, old["uuid"]) == []
    note = _rows(db_path, f"SELECT note FROM orders WHERE uuid = '{old['uuid']}'")[0]
    assert "waited 1 h 01 min unprocessed, over this POS's limit of 1 hours" in note
    # The back office offers "Charge new card" for it.
    page = card_client.get(f"/backoffice/order/{old['uuid']}").get_data(as_text=True)
    assert 'id="charge-new-card"' in page


def test_a_card_processed_before_the_sync_is_not_judged_again(
    card_client, db_path, stripe_url, order_factory
):
    # Processed by the register while within the limits: its outcome is the ledger's.
    order = _sealed_card_order(card_client, order_factory, 7.0, minutes_ago=30)
    payment = order["payments"][0]
    outcome = card_client.post(
        "/rpc/offline_process_card",
        json={
            "v": 1,
            "config_id": 1,
            "order_uuid": order["uuid"],
            "payment_uuid": payment["uuid"],
            "amount": 7.0,
            "currency": "USD",
            "reference": order["reference"],
            "envelope": payment["card"]["envelope"],
        },
    ).get_json()["result"]
    assert outcome["status"] == "succeeded"
    _limits(card_client, amount=1, total=1, hours=0.1)
    (result,) = _sync(card_client, [order]).get_json()["result"]["results"]
    assert result["ok"] and result["paid"]
    assert len(succeeded_for_order(stripe_url, order["uuid"])) == 1


@pytest.mark.parametrize("method", ["offline_process_card", "offline_card_public_key"])
@pytest.mark.parametrize("config_id", [2**31, 2**80])
def test_card_methods_answer_a_huge_register_id_with_a_400(client, method, config_id):
    """They queried SQLite with it: OverflowError, a 500."""
    response = client.post(f"/rpc/{method}", json={"v": 1, "config_id": config_id})
    assert response.status_code == 400
    assert "ids are 1 to 2147483647" in response.get_json()["error"]["message"]
    at_bound = client.post(f"/rpc/{method}", json={"v": 1, "config_id": 2**31 - 1})
    assert at_bound.status_code == 403
