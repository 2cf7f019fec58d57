"""The register of the fault suite: the browser's side of the contract (docs/CONTRACTS.md §2)
played in Python, its orders in a SQLite file of its own (the stand-in for IndexedDB).

What it keeps to, as card_processing.js and sync_engine.js do:
- an order leaves the store only in the transaction that records an `ok: true` result for its
  uuid (table `confirmed`); no answer, a 5xx, a malformed answer: nothing is removed, and no
  later batch of that sync is sent;
- a card payment is processed with `offline_process_card` before its order is sent (mode
  "process", the sync's beforeSend) or left, sealed, for the sync to process (mode "sync"); a
  final outcome (succeeded / failed) is saved on the order at once and the envelope dropped,
  anything else leaves the card unprocessed with the message;
- an order whose card has no outcome yet is not sent (mode "process").

Every call's HTTP status (0: no answer) and answer go to the table `calls`, so the harness
sees what a register killed mid-call saw before it died. Standard library only: the harness
also runs one action of it as a process of its own (`python -m tests.fault.register ...`) to
SIGKILL it mid-call; it prints `CALL <method>` just before each request.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sqlite3
import sys
import urllib.error
import urllib.request
from collections.abc import Callable

FINAL = ("succeeded", "failed")
SYNC = "offline_sync_orders"
PROCESS = "offline_process_card"

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    uuid TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    mode TEXT NOT NULL CHECK (mode IN ('process', 'sync')),
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS confirmed (uuid TEXT PRIMARY KEY, result TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY,
    tab TEXT NOT NULL,
    method TEXT NOT NULL,
    status INTEGER NOT NULL,
    answer TEXT
);
"""


class NoAnswer(Exception):
    """Nothing is known of what the server did (refused, reset, timeout, 5xx, bad answer)."""


def post(url: str, method: str, payload: dict, timeout: float) -> tuple[int, dict | None]:
    """(HTTP status, JSON body) of `POST url/rpc/method`; status 0 when there was no answer."""
    req = urllib.request.Request(
        f"{url}/rpc/{method}", data=json.dumps(payload).encode(), method="POST"
    )
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        try:
            body = json.loads(exc.read())
        except (ValueError, OSError, http.client.HTTPException):
            body = None
        return exc.code, body
    except (OSError, http.client.HTTPException, ValueError):
        # URLError, refused, reset, timeout, RemoteDisconnected, IncompleteRead, bad JSON.
        return 0, None


class Store:
    """The register's orders in SQLite (WAL: a killed process loses no committed write)."""

    def __init__(self, path):
        self.path = str(path)
        with self._conn() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)

    def _conn(self):
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.execute("PRAGMA synchronous=NORMAL")
        return _Closing(conn)

    def put(self, order: dict, mode: str) -> None:
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO orders (uuid, seq, mode, body) VALUES (?, "
                "(SELECT COALESCE(MAX(seq), 0) + 1 FROM orders), ?, ?)",
                (order["uuid"], mode, json.dumps(order)),
            )

    def records(self) -> list[tuple[str, str, dict]]:
        """(uuid, mode, order) oldest first."""
        with self._conn() as conn:
            rows = conn.execute("SELECT uuid, mode, body FROM orders ORDER BY seq").fetchall()
        return [(u, m, json.loads(b)) for u, m, b in rows]

    def get(self, uuid: str) -> dict | None:
        with self._conn() as conn:
            row = conn.execute("SELECT body FROM orders WHERE uuid = ?", (uuid,)).fetchone()
        return json.loads(row[0]) if row else None

    def update(self, uuid: str, fn: Callable[[dict], None]) -> bool:
        """Read-modify-write of one order in one transaction; False when it is gone."""
        with self._conn() as conn:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute("SELECT body FROM orders WHERE uuid = ?", (uuid,)).fetchone()
            if row is None:
                conn.execute("ROLLBACK")
                return False
            order = json.loads(row[0])
            fn(order)
            conn.execute("UPDATE orders SET body = ? WHERE uuid = ?", (json.dumps(order), uuid))
            conn.execute("COMMIT")
        return True

    def confirm(self, results: list[dict]) -> None:
        """The orders the server confirmed leave the store, with the confirmation kept."""
        with self._conn() as conn:
            conn.execute("BEGIN IMMEDIATE")
            for result in results:
                conn.execute(
                    "INSERT OR IGNORE INTO confirmed (uuid, result) VALUES (?, ?)",
                    (result["uuid"], json.dumps(result)),
                )
                conn.execute("DELETE FROM orders WHERE uuid = ?", (result["uuid"],))
            conn.execute("COMMIT")

    def log(self, tab: str, method: str, status: int, answer) -> None:
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO calls (tab, method, status, answer) VALUES (?, ?, ?, ?)",
                (tab, method, status, json.dumps(answer) if answer is not None else None),
            )

    def uuids(self) -> set[str]:
        with self._conn() as conn:
            return {r[0] for r in conn.execute("SELECT uuid FROM orders")}

    def confirmed(self) -> dict[str, dict]:
        with self._conn() as conn:
            rows = conn.execute("SELECT uuid, result FROM confirmed").fetchall()
        return {u: json.loads(r) for u, r in rows}

    def calls(self) -> list[tuple[str, str, int, object]]:
        with self._conn() as conn:
            rows = conn.execute("SELECT tab, method, status, answer FROM calls ORDER BY id")
            return [(t, m, s, json.loads(a) if a else None) for t, m, s, a in rows.fetchall()]


class _Closing:
    def __init__(self, conn):
        self.conn = conn

    def __enter__(self):
        return self.conn

    def __exit__(self, *exc):
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")
        self.conn.close()


def pending_cards(order: dict) -> list[dict]:
    return [
        p
        for p in order.get("payments") or []
        if p.get("card") and p["card"]["status"] not in FINAL and p["card"].get("envelope")
    ]


def apply_outcome(card: dict, outcome: dict | None) -> None:
    """card_processing.js applyOutcome, in place."""
    status = (outcome or {}).get("status")
    if status in FINAL:
        card.update(
            status=status,
            payment_intent_id=outcome.get("payment_intent_id"),
            message=outcome.get("message"),
            decline_code=outcome.get("decline_code") if status == "failed" else None,
            brand=outcome.get("brand") or card.get("brand"),
            last4=outcome.get("last4") or card.get("last4"),
            envelope=None,
        )
    else:
        card.update(status="unprocessed", message=(outcome or {}).get("message") or "no answer")


# caller(method, payload) -> (status, body): the harness wraps `post` to inject its faults.
Caller = Callable[[str, dict], tuple[int, dict | None]]


class Register:
    def __init__(self, store: Store, caller: Caller, *, tab="tab1", batch_size=100, config_id=1):
        self.store = store
        self.caller = caller
        self.tab = tab
        self.batch_size = batch_size
        self.config_id = config_id

    def _call(self, method: str, payload: dict) -> dict:
        status, body = self.caller(method, payload)
        self.store.log(self.tab, method, status, body)
        if status != 200 or not isinstance(body, dict) or "result" not in body:
            raise NoAnswer(f"{method}: HTTP {status or 'no answer'}")
        return body["result"]

    # -- cards ---------------------------------------------------------------------------------
    def process_card(self, order_uuid: str, payment_uuid: str) -> dict | None:
        """One Process click: the outcome (None when there was no answer, or nothing to do)."""
        order = self.store.get(order_uuid)
        payment = next(
            (p for p in (order or {}).get("payments", []) if p["uuid"] == payment_uuid), None
        )
        if payment is None or not payment.get("card"):
            return None  # synced from another tab meanwhile
        card = payment["card"]
        if card["status"] in FINAL or not card.get("envelope"):
            return dict(card, v=1)
        payload = {
            "v": 1,
            "config_id": order.get("config_id"),
            "order_uuid": order_uuid,
            "payment_uuid": payment_uuid,
            "amount": payment["amount"],
            "currency": order.get("currency"),
            "reference": order.get("reference") or "",
            "envelope": card["envelope"],
        }
        try:
            outcome = self._call(PROCESS, payload)
        except NoAnswer:
            outcome = None

        def save(current):
            for p in current.get("payments") or []:
                if p["uuid"] == payment_uuid and p.get("card") and p["card"]["status"] not in FINAL:
                    apply_outcome(p["card"], outcome)

        self.store.update(order_uuid, save)
        return outcome

    # -- sync ------------------------------------------------------------------------------------
    def sync_round(self) -> list[dict]:
        """One press of Sync over every waiting order; the server's results (ok or not)."""
        ready = []
        for uuid, mode, order in self.store.records():
            if mode == "process" and pending_cards(order):
                outcomes = [self.process_card(uuid, p["uuid"]) for p in pending_cards(order)]
                if any((o or {}).get("status") not in FINAL for o in outcomes):
                    continue  # kept here, with the card's message
                order = self.store.get(uuid) or order
            ready.append(order)
        results = []
        for start in range(0, len(ready), self.batch_size):
            batch = ready[start : start + self.batch_size]
            payload = {"v": 1, "config_id": self.config_id, "orders": batch}
            try:
                answer = self._call(SYNC, payload)
            except NoAnswer:
                break  # nothing removed; later batches not sent
            got = answer.get("results") if isinstance(answer, dict) else None
            if not isinstance(got, list) or len(got) != len(batch):
                break
            if any(r.get("uuid") != o["uuid"] for r, o in zip(got, batch, strict=True)):
                break
            self.store.confirm([r for r in got if r.get("ok") is True])
            results += got
        return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="one action of the fault suite's register")
    parser.add_argument("--store", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--timeout", type=float, default=10)
    parser.add_argument("--tab", default="killable")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("action", choices=["process", "sync"])
    parser.add_argument("ids", nargs="*")
    args = parser.parse_args(argv)

    def caller(method, payload):
        print(f"CALL {method}", flush=True)
        return post(args.url, method, payload, args.timeout)

    register = Register(Store(args.store), caller, tab=args.tab, batch_size=args.batch_size)
    if args.action == "process":
        register.process_card(*args.ids)
    else:
        register.sync_round()
    print("DONE", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
