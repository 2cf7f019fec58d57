"""Card figures for `make bench` (issue 3), ready for bench/run.py to call:

    from bench.card_bench import card_figures
    for name, value, unit, note in card_figures():
        report(name, value, unit, note)

- card_p50_ms: one card processed end to end (ledger claim, decrypt, PaymentMethod +
  PaymentIntent at localstripe, settle), median of sequential runs.
- card_100_speedup: 100 card orders with bounded concurrency (8 workers) against the same 100
  one at a time, same run, same localstripe; the median of 3 rounds.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# isort: off
from sandbox.card_keystore import SqliteKeyStore  # first: makes the core importable without Odoo
from sandbox.card_ledger import SqliteAttemptLedger
from pos_offline_sync.core.card_charge import CardChargeService
from pos_offline_sync.core.card_envelope import seal_card
from pos_offline_sync.core.stripe_gateway import StripeGateway
from tests.card_support import SECRET_KEY, card, localstripe
# isort: on

WORKERS = 8


def _payloads(keys, n):
    info = keys.current_public()
    public = info.load()
    return [
        {
            "v": 1,
            "config_id": 1,
            "order_uuid": str(uuid.uuid4()),
            "payment_uuid": str(uuid.uuid4()),
            "amount": 7.0,
            "currency": "USD",
            "reference": f"Bench {i}",
            "envelope": seal_card(card(), info.kid, public),
        }
        for i in range(n)
    ]


def _run(service, payloads, workers):
    start = time.perf_counter()
    if workers == 1:
        outcomes = [service.process(p) for p in payloads]
    else:
        with ThreadPoolExecutor(workers) as pool:
            outcomes = list(pool.map(service.process, payloads))
    elapsed = time.perf_counter() - start
    if any(o["status"] != "succeeded" for o in outcomes):
        raise RuntimeError("a bench card was not charged")
    return elapsed


def card_figures(rounds: int = 3):
    with localstripe() as url, tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "cards.sqlite3"
        keys = SqliteKeyStore(db)
        service = CardChargeService(
            ledger=SqliteAttemptLedger(db),
            keys=keys,
            gateway=StripeGateway(SECRET_KEY, api_base=url),
        )
        _run(service, _payloads(keys, 5), 1)  # warm up connections and key cache
        singles = []
        for p in _payloads(keys, 30):
            start = time.perf_counter()
            service.process(p)
            singles.append((time.perf_counter() - start) * 1000)
        speedups = []
        for _ in range(rounds):
            sequential = _run(service, _payloads(keys, 100), 1)
            concurrent = _run(service, _payloads(keys, 100), WORKERS)
            speedups.append(sequential / concurrent)
        return [
            ("card_p50_ms", statistics.median(singles), "ms", "one card against localstripe"),
            (
                "card_100_speedup",
                statistics.median(speedups),
                "x",
                f"100 cards, {WORKERS} workers vs one at a time (target >= 3)",
            ),
        ]


if __name__ == "__main__":
    for name, value, unit, note in card_figures():
        print(f"{name}: {value:.2f} {unit}  # {note}", flush=True)
