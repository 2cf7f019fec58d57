"""Whether an order sent again is the order already stored under its uuid, and if not, the
uuid it is stored under instead (CONTRACTS §1, order identity).

A uuid names one sale: sent twice, the second is "exists" (a lost answer, a replay). But a
register can hand one uuid to two sales: Odoo 19 keeps its orders in IndexedDB with a
debounced write, and a page reloaded within it restores an order already paid and synced as
an empty draft, into which the cashier rings the next sale (bench/odoo_browser_bench.py: 1 sale
in 70). Answered "exists", that second sale, paid, would be dropped by the browser and never
reach the back office.

What tells the two apart are the uuids the register gives each line and payment when it is
rung up: a resend carries the same ones; another sale rung into a reused order has its own.
Without line uuids on one side (a CSV row has none) the goods and the total decide, so a host
whose orders carry no line uuids (the sandbox) tells apart only sales of other goods or total.
Another sale is stored under a uuid derived from its uuid and its own payment and line uuids
(else its goods): every resend of it finds it there.
"""

from __future__ import annotations

import uuid as uuidlib
from collections import Counter
from dataclasses import dataclass, field

# Any fixed namespace: the derived uuid only has to be the same for the same sale.
REUSED_UUID_NAMESPACE = uuidlib.UUID("6f1f3c9e-2b7a-4d64-9a57-3f0c1d2e8b41")
QTY_DIGITS = 3


@dataclass(frozen=True)
class SaleIdentity:
    """What identifies one sale: its payments' and lines' uuids (empty when unknown), its
    goods as (product id, quantity) and its total."""

    payment_uuids: frozenset[str] = field(default_factory=frozenset)
    line_uuids: frozenset[str] = field(default_factory=frozenset)
    goods: tuple[tuple[int, float], ...] = ()
    total: float = 0.0

    @classmethod
    def of(cls, payment_uuids=(), line_uuids=(), lines=(), total=0.0) -> SaleIdentity:
        """`lines`: (product id, quantity) pairs."""
        counted = Counter((int(p), round(float(q), QTY_DIGITS)) for p, q in lines)
        return cls(
            frozenset(u for u in payment_uuids if u),
            frozenset(u for u in line_uuids if u),
            tuple(sorted(counted.elements())),
            float(total or 0.0),
        )


def same_sale(stored: SaleIdentity, sent: SaleIdentity, rounding: float = 0.01) -> bool:
    """True when `sent` is the sale `stored` holds (a resend), False when it is another sale
    sent under the same uuid. A payment in common: the same sale (a tip added since changes
    its goods, not its payments). Lines in common: the same sale if its goods are too (the back
    office may have replaced the payments since; a stale copy of an order with another sale's
    lines added is not it). The register's own line uuids on both sides and none in common:
    another sale. Else (a CSV row has no line uuids) the goods and total decide."""
    if stored.payment_uuids & sent.payment_uuids:
        return True
    if stored.line_uuids & sent.line_uuids:
        return stored.goods == sent.goods
    if stored.line_uuids and sent.line_uuids:
        return False
    return stored.goods == sent.goods and abs(stored.total - sent.total) < rounding / 2 + 1e-9


def reused_uuid(order_uuid: str, sent: SaleIdentity) -> str:
    """The uuid another sale sent under `order_uuid` is stored under, the same for every
    resend of it."""
    if sent.payment_uuids or sent.line_uuids:
        key = sorted(sent.payment_uuids) + sorted(sent.line_uuids)
    else:
        key = [repr(sent.goods), f"{sent.total:.6f}"]
    return str(uuidlib.uuid5(REUSED_UUID_NAMESPACE, "|".join([order_uuid, *key])))


def identity_of(order: dict) -> SaleIdentity:
    """The identity of an offline order (CONTRACTS §1): its payments' uuids, its lines' uuids
    when Odoo's UI data came with it (`odoo`), its goods and total."""
    odoo_lines = [
        command[2]
        for command in (order.get("odoo") or {}).get("lines") or []
        if isinstance(command, (list, tuple)) and len(command) > 2 and isinstance(command[2], dict)
    ]
    return SaleIdentity.of(
        payment_uuids=[p.get("uuid") for p in order.get("payments") or [] if isinstance(p, dict)],
        line_uuids=[line.get("uuid") for line in odoo_lines],
        lines=[(line["product_id"], line["qty"]) for line in order.get("lines") or []],
        total=order.get("amount_total") or 0.0,
    )
