"""Shared fixtures of the pytest suite (core, sandbox, e2e). Keep it small: e2e fixtures live in
tests/e2e/conftest.py.

Importing `sandbox` first registers `pos_offline_sync` as a bare namespace when Odoo is absent,
so the framework-free `pos_offline_sync.core` imports without the addon's Odoo models.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sandbox  # noqa: E402, F401 - first: makes the core importable without Odoo
from tests.order_support import plain_order  # noqa: E402


@pytest.fixture
def order_factory():
    """Builds a valid plain order (CONTRACTS §1); keyword arguments override top-level keys."""
    counter = iter(range(1, 1_000_000))

    def make(**overrides):
        n = next(counter)
        order = plain_order(
            f"00000000-0000-4000-8000-{n:012d}",
            reference=f"Order 00001-{n:04d}",
            lines=[
                {
                    "product_id": 1,
                    "product_name": "Desk Pad",
                    "qty": 2,
                    "price_unit": 3.5,
                    "discount": 0,
                    "price_subtotal_incl": 7.0,
                }
            ],
            payments=[
                {
                    "uuid": f"10000000-0000-4000-8000-{n:012d}",
                    "payment_method_id": 1,
                    "payment_method_name": "Cash",
                    "amount": 7.0,
                    "card": None,
                }
            ],
        )
        order.update(overrides)
        return order

    return make
