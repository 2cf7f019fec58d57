"""The plain order of CONTRACTS §1 as the Python tests build it (one place for its shape)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


def recent(minutes: float = 1) -> str:
    """An ISO 8601 UTC time `minutes` before now: the server refuses created_at far from its
    own clock (docs/CONTRACTS.md §6), so fixtures follow the clock."""
    when = datetime.now(timezone.utc) - timedelta(minutes=minutes)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def plain_order(uuid: str, *, reference: str, total: float = 7.0, payments=None, **overrides):
    """A valid one-line order for `total`, paid in cash unless `payments` is given; keyword
    arguments override top-level keys."""
    order = {
        "v": 1,
        "uuid": uuid,
        "reference": reference,
        "created_at": recent(),
        "config_id": 1,
        "session_id": None,
        "cashier": {"id": 1, "name": "Mitchell Admin"},
        "customer": None,
        "currency": "USD",
        "lines": [
            {
                "product_id": 1,
                "product_name": "Desk Pad",
                "qty": 1,
                "price_unit": total,
                "discount": 0,
                "price_subtotal_incl": total,
            }
        ],
        "payments": payments
        if payments is not None
        else [
            {
                "uuid": f"cash-{uuid}",
                "payment_method_id": 1,
                "payment_method_name": "Cash",
                "amount": total,
                "card": None,
            }
        ],
        "amount_total": total,
        "amount_tax": 0.0,
        "amount_paid": sum(p["amount"] for p in payments) if payments is not None else total,
        "amount_return": 0.0,
        "is_return": False,
    }
    order.update(overrides)
    return order
