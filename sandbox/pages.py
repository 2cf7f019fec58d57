"""Server-rendered HTML of the sandbox: the register shell, settings and the back office.

Every value is escaped with `markupsafe.escape` (through `e`); stable ids and classes are the
tests' selectors.
"""

from __future__ import annotations

import json
from urllib.parse import quote

from markupsafe import Markup, escape

from pos_offline_sync.core.csv_schema import MAX_CSV_BYTES, MAX_CSV_ROWS

e = escape

STYLE = Markup("""
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f4f5f7;
color:#1f2933}
header{background:#714b67;color:#fff;padding:.75rem 1.5rem;display:flex;gap:1.5rem;
align-items:center}
header a{color:#fff;text-decoration:none;opacity:.9}
header a:hover{opacity:1;text-decoration:underline}
header strong{font-size:1.1rem;margin-right:1rem}
main{max-width:1100px;margin:1.5rem auto;background:#fff;padding:1.5rem;border-radius:8px;
box-shadow:0 1px 3px rgba(0,0,0,.08)}
h1{font-size:1.4rem;margin-top:0}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.5rem .6rem;border-bottom:1px solid #e4e7eb;vertical-align:top}
th{background:#f8f9fa;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:.1rem .5rem;border-radius:999px;font-size:.85rem}
.badge.paid{background:#d1f2e0;color:#146c43}.badge.unpaid{background:#fde2e1;color:#b02a37}
.note{color:#b02a37;white-space:pre-wrap}
.muted{color:#6b7280}
.flash{padding:.6rem 1rem;border-radius:6px;margin-bottom:1rem}
.flash.ok{background:#d1f2e0}.flash.error{background:#fde2e1}
label{display:block;margin:.5rem 0}
button,.button{background:#714b67;color:#fff;border:0;border-radius:6px;padding:.5rem 1rem;
cursor:pointer;font-size:1rem}
fieldset{border:1px solid #e4e7eb;border-radius:6px;margin:1rem 0}
""")

# Dates are stored as ISO 8601 UTC; the browser shows them in its own locale and time zone (the
# ISO text stays as the fallback without JavaScript, and in the title).
LOCAL_DATES = Markup("""<script>
(function () {
    var format = new Intl.DateTimeFormat(undefined, {dateStyle: "medium", timeStyle: "short"});
    document.querySelectorAll("time[data-local]").forEach(function (el) {
        var d = new Date(el.getAttribute("datetime"));
        if (!isNaN(d.getTime())) {
            el.title = el.getAttribute("datetime");
            el.textContent = format.format(d);
        }
    });
})();
</script>""")


def order_url(uuid: str) -> str:
    """The back-office page of an order; the uuid is percent-encoded whole (a `/` or `?` in
    it stays part of the id)."""
    return "/backoffice/order/" + quote(str(uuid), safe="")


def local_date(value) -> Markup:
    """A `<time>` the page's script shows in the browser's locale."""
    return Markup('<time datetime="{0}" data-local="">{0}</time>').format(value or "")


def order_title(reference) -> str:
    """ "Order 00001-0003" as it is; a bare reference ("Shop/0003") gets the word "Order"."""
    text = str(reference or "")
    return text if text.lower().startswith("order") else f"Order {text}"


POS_SHELL = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sandbox POS</title>
<link rel="icon" href="data:,">
<script type="importmap">{importmap}</script>
<link rel="stylesheet" href="/sandbox-static/register.css">
<script type="module" src="/sandbox-static/register.js"></script>
</head>
<body>
<div id="app"></div>
</body>
</html>
"""


def pos_shell() -> str:
    importmap = json.dumps({"imports": {"@odoo/owl": "/owl/owl.es.js"}})
    return POS_SHELL.replace("{importmap}", importmap)


def layout(title: str, body: Markup, *, flash=None, flash_kind="ok") -> str:
    notice = (
        Markup('<div class="flash {}" id="flash" role="status">{}</div>').format(flash_kind, flash)
        if flash
        else ""
    )
    return str(
        Markup(
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            # No favicon request (a 404 in every console).
            '<title>{title} · Sandbox</title><link rel="icon" href="data:,">'
            "<style>{style}</style></head><body>"
            '<header><strong>Sandbox</strong><a href="/pos">Register</a>'
            '<a href="/settings">Settings</a><a href="/backoffice">Orders</a>'
            '<a href="/backoffice/import">Import CSV</a><a href="/backoffice/devices">Devices</a>'
            '<a href="/backoffice/sync-log">Sync log</a>'
            '<a href="/backoffice/sessions">Sessions</a></header>'
            "<main><h1>{title}</h1>{notice}{body}</main>{dates}</body></html>"
        ).format(title=title, style=STYLE, notice=notice, body=body, dates=LOCAL_DATES)
    )


def money(amount, currency) -> str:
    return f"{amount:,.2f} {currency or ''}".strip()


def settings_page(config, extra_sections: list[str], *, flash=None, flash_kind="ok") -> str:
    offline = bool(config["allow_offline_mode"])
    auto = bool(config["allow_offline_auto_detect"])
    auto_sync = bool(config["offline_auto_sync"])
    # The auto-detect box only makes sense with offline mode: hidden and disabled without it
    # (a tiny script shows it as soon as the first box is ticked, before saving).
    body = Markup(
        '<form method="post" action="/settings" id="settings-form">'
        "<fieldset><legend>{name}</legend>"
        '<label for="allow_offline_mode"><input type="checkbox" id="allow_offline_mode" '
        'name="allow_offline_mode" value="1"{checked_offline}> Allow Offline Mode</label>'
        '<div id="auto-detect-row"{hidden}>'
        '<label for="allow_offline_auto_detect"><input type="checkbox" '
        'id="allow_offline_auto_detect" name="allow_offline_auto_detect" value="1"'
        "{checked_auto}{disabled}> Allow Auto-Detect Online-Offline</label>"
        '<label for="offline_auto_sync"><input type="checkbox" id="offline_auto_sync" '
        'name="offline_auto_sync" value="1"{checked_sync}{disabled}> '
        "Sync automatically when back online</label></div>"
        "</fieldset>{extra}"
        '<button type="submit" id="save">Save</button></form>'
        "<script>(function(){{var o=document.getElementById('allow_offline_mode'),"
        "r=document.getElementById('auto-detect-row'),"
        "a=document.getElementById('allow_offline_auto_detect'),"
        "y=document.getElementById('offline_auto_sync');"
        "function s(){{r.hidden=!o.checked;a.disabled=!o.checked;y.disabled=!o.checked;}}"
        "o.addEventListener('change',s);s();}})();</script>"
    ).format(
        name=config["name"],
        checked_offline=Markup(" checked") if offline else "",
        checked_auto=Markup(" checked") if auto else "",
        checked_sync=Markup(" checked") if auto_sync else "",
        hidden=Markup("") if offline else Markup(" hidden"),
        disabled=Markup("") if offline else Markup(" disabled"),
        extra=Markup("").join(extra_sections),
    )
    return layout("Point of Sale settings", body, flash=flash, flash_kind=flash_kind)


def backoffice_page(orders) -> str:
    if not orders:
        rows = Markup('<tr class="empty"><td colspan="6" class="muted">No orders yet.</td></tr>')
    else:
        rows = Markup("").join(
            Markup(
                '<tr data-uuid="{uuid}" data-state="{state}">'
                '<td class="reference"><a href="{href}">{reference}</a></td>'
                '<td class="date">{date}</td><td class="customer">{customer}</td>'
                '<td class="total num">{total}</td>'
                '<td class="status"><span class="badge {cls}">{label}</span></td>'
                '<td class="note">{note}</td></tr>'
            ).format(
                uuid=o["uuid"],
                href=order_url(o["uuid"]),
                state=o["state"],
                reference=o["reference"],
                date=local_date(o["created_at"]),
                customer=o["customer"] or "",
                total=money(o["amount_total"], o["currency"]),
                cls="paid" if o["state"] == "paid" else "unpaid",
                label="Paid" if o["state"] == "paid" else "Unpaid",
                note=o["note"],
            )
            for o in orders
        )
    body = Markup(
        '<table id="orders"><thead><tr><th>Reference</th><th>Date</th><th>Customer</th>'
        '<th class="num">Total</th><th>Status</th><th>Note</th></tr></thead>'
        "<tbody>{rows}</tbody></table>"
    ).format(rows=rows)
    return layout("Orders", body)


def order_page(order, lines, payments, extra_sections: list[str]) -> str:
    line_rows = Markup("").join(
        Markup(
            '<tr class="order-line"><td>{name}</td><td class="num">{qty:g}</td>'
            '<td class="num">{price}</td><td class="num">{discount:g}%</td>'
            '<td class="num">{total}</td></tr>'
        ).format(
            name=line["product_name"],
            qty=line["qty"],
            price=money(line["price_unit"], ""),
            discount=line["discount"],
            total=money(line["price_subtotal_incl"], order["currency"]),
        )
        for line in lines
    )
    payment_rows = Markup("").join(
        Markup(
            '<tr class="order-payment" data-uuid="{uuid}"><td>{method}</td>'
            '<td class="num">{amount}</td><td>{card}</td><td>{tx}</td></tr>'
        ).format(
            uuid=p["uuid"] or "",
            method=p["payment_method_name"],
            amount=money(p["amount"], order["currency"]),
            card=(f"{(p['card_brand'] or 'card').upper()} **** {p['card_last4']}")
            if p["card_last4"]
            else "",
            tx=p["transaction_id"] or "",
        )
        for p in payments
    )
    paid = order["state"] == "paid"
    body = Markup(
        '<div id="order" data-uuid="{uuid}" data-state="{state}">'
        '<p><span class="badge {cls}" id="order-status">{label}</span> '
        '<span class="muted">{date} · {customer} · cashier {cashier} · via {origin}</span></p>'
        '<h2>Lines</h2><table id="order-lines"><thead><tr><th>Product</th>'
        '<th class="num">Qty</th><th class="num">Unit price</th><th class="num">Discount</th>'
        '<th class="num">Total</th></tr></thead><tbody>{lines}</tbody>'
        '<tfoot><tr><th colspan="4">Total</th><th class="num" id="order-total">{total}</th></tr>'
        "</tfoot></table>"
        '<h2>Payments</h2><table id="order-payments"><thead><tr><th>Method</th>'
        '<th class="num">Amount</th><th>Card</th><th>Transaction</th></tr></thead>'
        "<tbody>{payments}</tbody></table>"
        '<h2>Note</h2><p class="note" id="order-note">{note}</p>{extra}</div>'
    ).format(
        uuid=order["uuid"],
        state=order["state"],
        cls="paid" if paid else "unpaid",
        label="Paid" if paid else "Unpaid",
        date=local_date(order["created_at"]),
        customer=order["customer"] or "no customer",
        cashier=order["cashier"] or "?",
        origin=order["origin"],
        lines=line_rows,
        total=money(order["amount_total"], order["currency"]),
        payments=payment_rows or Markup('<tr><td colspan="4" class="muted">None</td></tr>'),
        note=order["note"] or "",
        extra=Markup("").join(extra_sections),
    )
    return layout(order_title(order["reference"]), body)


def import_page(
    results=None, errors=None, *, flash=None, flash_kind="ok", line_of=None, counts=None
) -> str:
    form = Markup(
        '<form method="post" action="/backoffice/import" enctype="multipart/form-data" '
        'id="import-form"><label for="csv-file">CSV exported by the register (at most '
        "{bytes} MB and {rows} rows)</label>"
        '<input type="file" id="csv-file" name="file" accept=".csv,text/csv" required> '
        '<button type="submit" id="import">Import</button></form>'
    ).format(bytes=f"{MAX_CSV_BYTES / 1e6:g}", rows=f"{MAX_CSV_ROWS:,}")
    parts = [form]
    if counts is not None:
        parts.append(
            Markup(
                '<p id="import-progress" data-done="{done}" data-total="{total}">'
                "{done} of {total} order(s) imported</p>"
            ).format(done=counts.done, total=counts.total)
        )
    line_of = line_of or {}
    if results:
        rows = Markup("").join(
            Markup(
                '<tr data-uuid="{uuid}" data-status="{status}"><td class="line">{line}</td>'
                "<td>{reference}</td><td>{label}</td><td>{reason}</td></tr>"
            ).format(
                uuid=r.get("uuid") or "",
                status=r["status"],
                line=line_of.get(r.get("uuid"), ""),
                reference=r.get("reference") or r.get("uuid") or "",
                label={"created": "Imported", "exists": "Already in the back office"}.get(
                    r["status"], "Error"
                ),
                reason=r.get("reason") or _import_detail(r),
            )
            for r in results
        )
        parts.append(
            Markup(
                '<h2>Orders</h2><table id="import-results"><thead><tr><th>Line</th><th>Order</th>'
                "<th>Result</th><th>Detail</th></tr></thead><tbody>{}</tbody></table>"
            ).format(rows)
        )
    if errors:
        items = Markup("").join(
            Markup('<li data-line="{line}">Line {line}: {reason}</li>').format(
                line=err.line, reason=err.reason
            )
            for err in errors
        )
        parts.append(
            Markup('<h2>Lines not imported</h2><ul id="import-errors">{}</ul>').format(items)
        )
    return layout(
        "Import offline orders (CSV)",
        Markup("").join(parts),
        flash=flash,
        flash_kind=flash_kind,
    )


def _import_detail(result) -> str:
    detail = "Paid" if result.get("paid") else "Unpaid"
    if result.get("rescue_session"):
        # As Odoo's wizard says it: where an order whose session was closed went.
        detail += f", in the rescue session {result['rescue_session']} (its session was closed)"
    return detail


def error_page(status: int, message: str) -> str:
    return layout(f"Error {status}", Markup('<p id="error">{}</p>').format(message))
