"""sync_batch: one result per order in input order, one bad order never blocks the others,
idempotent on uuid through the sandbox's real SQLite sink, malformed payloads refused whole; a
batch is one write transaction (a savepoint per order) committed before the answer."""

import json
import sqlite3
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pytest

from pos_offline_sync.core.order_schema import OrderValidationError
from pos_offline_sync.core.sync_service import (
    INTERNAL_ERROR_REASON,
    PayloadError,
    StoredOrder,
    sync_batch,
)
from sandbox import db
from sandbox.orders import SqliteOrderSink


@pytest.fixture
def sink(conn):
    return SqliteOrderSink(None, conn, 1)


def _uuids_in_db(conn):
    return [r["uuid"] for r in conn.execute("SELECT uuid FROM orders ORDER BY id")]


def _batch(*orders, v=1, config_id=1):
    return {"v": v, "config_id": config_id, "orders": list(orders)}


def test_results_one_per_order_in_input_order(sink, conn, order_factory):
    orders = [order_factory() for _ in range(5)]
    answer = sync_batch(_batch(*orders), sink)
    assert answer["v"] == 1
    assert [r["uuid"] for r in answer["results"]] == [o["uuid"] for o in orders]
    assert all(r == {**r, "ok": True, "status": "created", "paid": True} for r in answer["results"])
    assert answer["results"][0]["reference"] == orders[0]["reference"]
    assert _uuids_in_db(conn) == [o["uuid"] for o in orders]


def test_same_batch_twice_creates_nothing_twice(sink, conn, order_factory):
    orders = [order_factory() for _ in range(3)]
    first = sync_batch(_batch(*orders), sink)["results"]
    second = sync_batch(_batch(*orders), sink)["results"]
    assert [r["status"] for r in first] == ["created"] * 3
    assert [(r["ok"], r["status"]) for r in second] == [(True, "exists")] * 3
    assert [r["reference"] for r in second] == [o["reference"] for o in orders]
    assert conn.execute("SELECT count(*) FROM orders").fetchone()[0] == 3
    assert conn.execute("SELECT count(*) FROM order_lines").fetchone()[0] == 3


def test_mixed_batch_isolates_each_bad_order(sink, conn, order_factory):
    good1, good2 = order_factory(), order_factory()
    no_uuid = order_factory()
    del no_uuid["uuid"]
    bad_qty = order_factory()
    bad_qty["lines"][0]["qty"] = "two"
    unknown_product = order_factory()
    unknown_product["lines"][0]["product_id"] = 999_999
    batch = [no_uuid, good1, bad_qty, unknown_product, good2]

    results = sync_batch(_batch(*batch), sink)["results"]

    assert [r["ok"] for r in results] == [False, True, False, False, True]
    assert results[0] == {"uuid": None, "ok": False, "status": "error", "reason": "uuid is missing"}
    assert results[2]["uuid"] == bad_qty["uuid"]
    assert results[2]["reason"] == "line 1: quantity is not a number: 'two'"
    assert results[3]["reason"] == "line 1: unknown product 999999"
    assert _uuids_in_db(conn) == [good1["uuid"], good2["uuid"]]
    # a refused order left nothing behind: no orphan lines or payments
    assert conn.execute("SELECT count(*) FROM order_lines").fetchone()[0] == 2
    assert conn.execute("SELECT count(*) FROM order_payments").fetchone()[0] == 2


def test_unknown_payment_method_is_that_orders_error(sink, order_factory):
    order = order_factory()
    order["payments"][0]["payment_method_id"] = 77
    (result,) = sync_batch(_batch(order), sink)["results"]
    assert result["reason"] == "payment 1: unknown payment method 77"


def test_order_of_another_register_is_refused(sink, conn, order_factory):
    order = order_factory(config_id=2)
    (result,) = sync_batch(_batch(order), sink)["results"]
    assert not result["ok"] and "register 2" in result["reason"]
    assert _uuids_in_db(conn) == []


class _FlakySink:
    """A host whose storage breaks on one order (a bug, a lost disk): the others go on."""

    def __init__(self, inner, broken_uuid):
        self.inner = inner
        self.broken_uuid = broken_uuid

    def store(self, order):
        if order["uuid"] == self.broken_uuid:
            raise RuntimeError("disk I/O error with secret details")
        return self.inner.store(order)


def test_unexpected_sink_failure_is_reported_without_details(sink, conn, order_factory):
    a, b, c = order_factory(), order_factory(), order_factory()
    results = sync_batch(_batch(a, b, c), _FlakySink(sink, b["uuid"]))["results"]
    assert [r["ok"] for r in results] == [True, False, True]
    assert results[1] == {
        "uuid": b["uuid"],
        "ok": False,
        "status": "error",
        "reason": INTERNAL_ERROR_REASON,
    }
    assert "secret" not in json.dumps(results)
    assert _uuids_in_db(conn) == [a["uuid"], c["uuid"]]


def test_host_rejection_through_validation_error(order_factory):
    class Refusing:
        def store(self, order):
            raise OrderValidationError("no open session on this register")

    (result,) = sync_batch(_batch(order_factory()), Refusing())["results"]
    assert result["reason"] == "no open session on this register"


def test_sink_reporting_paid_and_reference(order_factory):
    class Recording:
        def store(self, order):
            return StoredOrder("created", "SRV/0001", paid=False)

    (result,) = sync_batch(_batch(order_factory()), Recording())["results"]
    assert (result["reference"], result["paid"]) == ("SRV/0001", False)


def test_unpaid_when_payments_do_not_cover_the_total(sink, conn, order_factory):
    order = order_factory()
    order["payments"][0]["amount"] = 5.0
    (result,) = sync_batch(_batch(order), sink)["results"]
    assert result["ok"] and result["paid"] is False
    assert conn.execute("SELECT state FROM orders").fetchone()[0] == "draft"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "the payload must be a JSON object"),
        ("orders", "the payload must be a JSON object"),
        ({"config_id": 1, "orders": []}, "unsupported payload version"),
        ({"v": 2, "config_id": 1, "orders": []}, "unsupported payload version"),
        ({"v": "1", "config_id": 1, "orders": []}, "unsupported payload version"),
        ({"v": 1, "orders": []}, "config_id must be the id of a register"),
        ({"v": 1, "config_id": True, "orders": []}, "config_id must be the id of a register"),
        ({"v": 1, "config_id": 2**31, "orders": []}, "ids are 1 to 2147483647"),
        ({"v": 1, "config_id": 2**80, "orders": []}, "ids are 1 to 2147483647"),
        ({"v": 1, "config_id": 1}, '"orders" must be a list'),
        ({"v": 1, "config_id": 1, "orders": {"a": 1}}, '"orders" must be a list'),
        ({"v": 1, "config_id": 1, "orders": "[]"}, '"orders" must be a list'),
    ],
)
def test_malformed_payload_raises_payload_error(sink, conn, payload, message):
    with pytest.raises(PayloadError, match=message):
        sync_batch(payload, sink)
    assert _uuids_in_db(conn) == []


def test_batch_size_is_bounded(sink, conn, order_factory):
    orders = [order_factory() for _ in range(4)]
    with pytest.raises(PayloadError, match="too many orders in one batch: 4 .at most 3."):
        sync_batch(_batch(*orders), sink, max_batch=3)
    assert _uuids_in_db(conn) == []  # refused whole, before anything is stored
    assert len(sync_batch(_batch(*orders[:3]), sink, max_batch=3)["results"]) == 3


def test_empty_batch_is_fine(sink):
    answer = sync_batch(_batch(), sink)
    assert answer["results"] == [] and answer["v"] == 1 and answer["store_ms"] >= 0


def test_the_largest_register_id_is_a_register_id(sink, order_factory):
    (result,) = sync_batch(_batch(order_factory(), config_id=2**31 - 1), sink)["results"]
    # Past the payload check: the order is judged (here: the sink's register is 1).
    assert result["reason"] == "the order belongs to register 1, not 2147483647"


# -- the server trusts no amount (issue 8) ----------------------------------------------------
class _JudgingSink(SqliteOrderSink):
    """The real SQLite sink with a `begin` that records what it was shown (or breaks)."""

    def __init__(self, conn, broken=False, rounding=0.01):
        super().__init__(None, conn, 1)
        self.broken, self.rounding, self.seen = broken, rounding, []

    def begin(self, orders, now):
        self.seen.append(([o["uuid"] for o in orders], now))
        if self.broken:
            raise RuntimeError("ledger unreachable")


def test_begin_sees_every_valid_order_once_with_the_server_time(conn, order_factory):
    sink = _JudgingSink(conn)
    good, bad = order_factory(), order_factory(amount_total="x")
    before = datetime.now(timezone.utc)
    results = sync_batch(_batch(good, bad), sink)["results"]
    assert [r["ok"] for r in results] == [True, False]
    ((uuids, now),) = sink.seen
    assert uuids == [good["uuid"]] and before <= now <= datetime.now(timezone.utc)


def test_a_failing_begin_stores_nothing(conn, order_factory):
    sink = _JudgingSink(conn, broken=True)
    good, bad = order_factory(), order_factory(amount_total="x")
    results = sync_batch(_batch(good, bad), sink)["results"]
    assert results[0] == {
        "uuid": good["uuid"],
        "ok": False,
        "status": "error",
        "reason": INTERNAL_ERROR_REASON,
    }
    assert results[1]["reason"] == "amount_total is not a number: 'x'"
    assert _uuids_in_db(conn) == []


def test_the_sinks_rounding_judges_the_totals(conn, order_factory):
    order = order_factory(amount_total=7.4)
    order["payments"][0]["amount"] = 7.4
    (refused,) = sync_batch(_batch(order), SqliteOrderSink(None, conn, 1))["results"]
    assert refused["reason"] == "amount_total 7.40 is not the sum of the lines (7.00)"
    (kept,) = sync_batch(_batch(order), _JudgingSink(conn, rounding=1))["results"]
    assert kept["ok"], kept


def test_a_future_order_is_refused_on_the_server_clock(sink, conn, order_factory):
    soon = datetime.now(timezone.utc) + timedelta(minutes=9)
    late = datetime.now(timezone.utc) + timedelta(minutes=11)
    ok, refused = (order_factory(created_at=t.isoformat()) for t in (soon, late))
    results = sync_batch(_batch(ok, refused), sink)["results"]
    assert results[0]["ok"] and "check the register's clock" in results[1]["reason"]
    assert _uuids_in_db(conn) == [ok["uuid"]]


@pytest.mark.parametrize(("line_total", "ok"), [(7.0, True), (7.004, True), (6.99, False)])
def test_a_sandbox_line_is_its_quantity_times_its_price(sink, conn, order_factory, line_total, ok):
    order = order_factory(amount_total=line_total)
    order["lines"][0]["price_subtotal_incl"] = line_total
    order["payments"][0]["amount"] = line_total
    (result,) = sync_batch(_batch(order), sink)["results"]
    assert result["ok"] is ok, result
    if not ok:
        assert result["reason"] == (
            "line 1: line total 6.99 is not quantity x unit price less discount (7.00)"
        )


@pytest.mark.parametrize(("paid", "state"), [(7.0, "paid"), (6.996, "paid"), (6.99, "draft")])
def test_paid_only_when_the_payments_cover_the_total(sink, conn, order_factory, paid, state):
    order = order_factory()
    order["payments"][0]["amount"] = paid
    order["amount_paid"] = 7.0  # the browser's claim is not what decides
    (result,) = sync_batch(_batch(order), sink)["results"]
    assert result["ok"] and result["paid"] is (state == "paid")
    assert tuple(conn.execute("SELECT state, amount_paid FROM orders").fetchone()) == (state, paid)


def test_an_offline_card_payment_without_a_card_never_pays(sink, conn, order_factory):
    order = order_factory()
    order["payments"][0].update(payment_method_id=2, payment_method_name="Visa (claimed)")
    (result,) = sync_batch(_batch(order), sink)["results"]
    assert result["ok"] and result["paid"] is False
    row = conn.execute("SELECT state, amount_paid, card_failed, note FROM orders").fetchone()
    assert tuple(row) == (
        "draft",
        0.0,
        1,
        "Card payment of 7.00 USD on Card (offline) has no card charged: take the payment again.",
    )
    assert conn.execute("SELECT count(*) FROM order_payments").fetchone()[0] == 0


def test_unknown_keys_never_reach_the_database(sink, conn, order_factory):
    order = order_factory(state="paid", note="\x00")
    order["lines"][0]["cost"] = 0
    sync_batch(_batch(order), sink)
    stored = json.loads(conn.execute("SELECT payload FROM orders").fetchone()[0])
    assert "state" not in stored and "note" not in stored and "cost" not in stored["lines"][0]


def test_card_envelope_is_not_kept_at_rest(sink, conn, order_factory):
    order = order_factory()
    order["payments"][0]["card"] = {
        "brand": "visa",
        "last4": "4242",
        "status": "unprocessed",
        "envelope": {"v": 1, "kid": "k1", "ek": "EKSECRET", "iv": "IV", "ct": "CTSECRET"},
    }
    sync_batch(_batch(order), sink)
    payload = conn.execute("SELECT payload FROM orders").fetchone()[0]
    assert "CTSECRET" not in payload and "EKSECRET" not in payload
    assert json.loads(payload)["payments"][0]["card"]["last4"] == "4242"


def test_concurrent_sends_of_one_order_create_it_once(db_path, order_factory):
    """Two connections racing on the same uuids: the UNIQUE insert decides, never a pre-check."""
    orders = [order_factory() for _ in range(20)]
    barrier = threading.Barrier(4)
    results = []
    lock = threading.Lock()

    def worker():
        connection = db.connect(db_path)
        try:
            worker_sink = SqliteOrderSink(None, connection, 1)
            barrier.wait()
            answer = sync_batch(_batch(*orders), worker_sink)["results"]
            with lock:
                results.append(answer)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4
    for i, order in enumerate(orders):
        statuses = sorted(r[i]["status"] for r in results)
        assert all(r[i]["ok"] for r in results)
        assert statuses == ["created", "exists", "exists", "exists"], order["uuid"]
    check = db.connect(db_path)
    try:
        assert check.execute("SELECT count(*) FROM orders").fetchone()[0] == 20
        assert check.execute("SELECT count(*) FROM order_lines").fetchone()[0] == 20
    finally:
        check.close()


# -- one write transaction per batch, a savepoint per order -----------------------------------


def _fail_lines_named(conn, name):
    """A real SQLite failure in the middle of an order's writes (after its orders row)."""
    conn.execute(
        f"""CREATE TRIGGER refuse_line BEFORE INSERT ON order_lines
            WHEN NEW.product_name = '{name}' BEGIN SELECT RAISE(ABORT, 'line refused'); END"""
    )


def test_failing_order_mid_batch_rolls_back_alone(db_path, conn, sink, order_factory):
    orders = [order_factory() for _ in range(5)]
    orders[2]["lines"][0]["product_name"] = "BOOM"
    _fail_lines_named(conn, "BOOM")

    results = sync_batch(_batch(*orders), sink)["results"]

    assert [r["ok"] for r in results] == [True, True, False, True, True]
    assert results[2]["reason"] == INTERNAL_ERROR_REASON
    assert not conn.in_transaction  # committed, before the answer was returned
    # Seen from another connection as soon as the answer exists: the batch is committed, and
    # the failed order left no orders row (its savepoint undid what it had written).
    other = db.connect(db_path)
    try:
        assert _uuids_in_db(other) == [o["uuid"] for i, o in enumerate(orders) if i != 2]
        assert other.execute("SELECT count(*) FROM order_lines").fetchone()[0] == 4
        assert other.execute("SELECT count(*) FROM order_payments").fetchone()[0] == 4
    finally:
        other.close()
    # Sent again, the failed order alone is created; the others are "exists".
    conn.execute("DROP TRIGGER refuse_line")
    again = sync_batch(_batch(*orders), sink)["results"]
    assert [r["status"] for r in again] == ["exists", "exists", "created", "exists", "exists"]


class _CommitFailingSink(SqliteOrderSink):
    """Foreign keys checked at COMMIT (SQLite's defer_foreign_keys): a product deleted after
    the sink's checks makes the batch's real COMMIT fail."""

    @contextmanager
    def batch(self):
        with super().batch():
            self.conn.execute("PRAGMA defer_foreign_keys = ON")  # reset by the COMMIT
            yield self


def test_failed_commit_confirms_nothing(db_path, conn, order_factory):
    failing = _CommitFailingSink(None, conn, 1)
    conn.execute("DELETE FROM products WHERE id = 2")  # after the sink read its product list
    orders = [order_factory() for _ in range(3)]
    orders[1]["lines"][0]["product_id"] = 2
    bad_qty = order_factory()
    bad_qty["lines"][0]["qty"] = "x"

    results = sync_batch(_batch(*orders, bad_qty), failing)["results"]

    # No order is confirmed (the browser keeps them all); the invalid one keeps its own reason.
    assert [r["ok"] for r in results] == [False] * 4
    assert [r["reason"] for r in results[:3]] == [INTERNAL_ERROR_REASON] * 3
    assert results[3]["reason"].startswith("line 1: quantity is not a number")
    assert _uuids_in_db(conn) == [] and not conn.in_transaction
    assert conn.execute("SELECT count(*) FROM order_lines").fetchone()[0] == 0
    # The connection is usable again: the good orders go through on the next send.
    good = [orders[0], orders[2]]
    assert [r["status"] for r in sync_batch(_batch(*good), failing)["results"]] == ["created"] * 2


def test_same_uuid_twice_in_one_batch_is_created_once(sink, conn, order_factory):
    order = order_factory()
    results = sync_batch(_batch(order, dict(order)), sink)["results"]
    assert [(r["ok"], r["status"]) for r in results] == [(True, "created"), (True, "exists")]
    assert conn.execute("SELECT count(*) FROM orders").fetchone()[0] == 1


def test_store_in_a_batch_without_prepare_is_refused(sink, conn, order_factory):
    """Preparing decides card outcomes (Stripe) outside the write lock; skipping it is a bug."""
    with sink.batch():
        with pytest.raises(RuntimeError, match="prepare"):
            sink.store(order_factory())
    assert _uuids_in_db(conn) == []


def test_batches_write_in_one_transaction(db_path, sink, order_factory):
    """While a batch stores its orders, another connection sees none of them; afterwards all."""
    orders = [order_factory() for _ in range(4)]
    seen_during = []
    other = db.connect(db_path)

    class _Watching(SqliteOrderSink):
        def store(self, order):
            seen_during.append(other.execute("SELECT count(*) FROM orders").fetchone()[0])
            return super().store(order)

    try:
        watching = _Watching(None, sink.conn, 1)
        results = sync_batch(_batch(*orders), watching)["results"]
        assert all(r["status"] == "created" for r in results)
        assert seen_during == [0, 0, 0, 0]
        assert other.execute("SELECT count(*) FROM orders").fetchone()[0] == 4
    finally:
        other.close()


def test_payment_state_is_decided_with_no_write_lock_held(db_path, conn, order_factory):
    """Card outcomes (which may call Stripe) are decided before the batch's write transaction:
    another connection can take SQLite's write lock at that moment."""
    probe = db.connect(db_path)
    probe.execute("PRAGMA busy_timeout = 0")  # fail at once instead of waiting for the lock
    lock_free = []

    class _Probing(SqliteOrderSink):
        def _payment_state(self, order):
            try:
                probe.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:
                lock_free.append(False)
            else:
                probe.execute("ROLLBACK")
                lock_free.append(True)
            return super()._payment_state(order)

    try:
        results = sync_batch(_batch(*[order_factory() for _ in range(3)]), _Probing(None, conn, 1))
        assert [r["status"] for r in results["results"]] == ["created"] * 3
        assert lock_free == [True, True, True]
    finally:
        probe.close()


class _Busy(Exception):
    """Stands for a host's lock or serialization conflict with another register's call."""


class _ContendedSink(SqliteOrderSink):
    """The real SQLite sink whose store meets another call's lock on one order, once."""

    def __init__(self, *args, busy_uuid, busy_in="store", always=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.busy_uuid, self.busy_in, self.busy, self.always = busy_uuid, busy_in, True, always

    @staticmethod
    def is_retryable(exc):
        return isinstance(exc, _Busy)

    def _maybe_busy(self, order, step):
        if self.busy and step == self.busy_in and order["uuid"] == self.busy_uuid:
            self.busy = self.always
            raise _Busy("could not obtain lock on row in relation ir_sequence")

    def prepare(self, order):
        self._maybe_busy(order, "prepare")
        return super().prepare(order)

    def store(self, order):
        self._maybe_busy(order, "store")
        return super().store(order)


@pytest.mark.parametrize("busy_in", ["store", "prepare"])
def test_a_retryable_conflict_leaves_the_call_whole_for_the_hosts_replay(
    conn, order_factory, busy_in
):
    """No order of the call fails at the cashier's for another register's lock: the conflict
    leaves sync_batch, nothing of the call is kept, and the host's replay of the same call
    stores every order once."""
    orders = [order_factory() for _ in range(3)]
    sink = _ContendedSink(None, conn, 1, busy_uuid=orders[1]["uuid"], busy_in=busy_in)
    with pytest.raises(_Busy):
        sync_batch(_batch(*orders), sink)
    assert _uuids_in_db(conn) == [] and not conn.in_transaction
    replay = sync_batch(_batch(*orders), sink)["results"]
    assert [r["status"] for r in replay] == ["created"] * 3
    assert _uuids_in_db(conn) == [o["uuid"] for o in orders]


def test_a_conflict_the_host_does_not_replay_stays_that_orders_error(conn, order_factory):
    orders = [order_factory() for _ in range(3)]
    # Busy at every try: stored again alone after its group was undone, it fails there too.
    sink = _ContendedSink(None, conn, 1, busy_uuid=orders[1]["uuid"], always=True)
    sink.is_retryable = lambda exc: False
    results = sync_batch(_batch(*orders), sink)["results"]
    assert [r["ok"] for r in results] == [True, False, True]
    assert results[1]["reason"] == INTERNAL_ERROR_REASON


# -- work a host does once per call (the Odoo sink triggers its pickings' cron) ---------------
class _EndingSink(SqliteOrderSink):
    """The real SQLite sink, with an `end` that records what the call's transaction holds."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ended = []

    def end(self):
        self.ended.append((_uuids_in_db(self.conn), self.conn.in_transaction))


class _StoreOnly:
    """A sink with no batch steps (as the Odoo one): store and end only."""

    def __init__(self, inner):
        self.inner, self.ended = inner, 0

    def store(self, order):
        return self.inner.store(order)

    def end(self):
        self.ended += 1


def test_end_comes_once_after_the_last_store_inside_the_calls_transaction(conn, order_factory):
    orders = [order_factory() for _ in range(3)]
    sink = _EndingSink(None, conn, 1)
    results = sync_batch(_batch(*orders, order_factory(amount_total="x")), sink)["results"]
    assert [r["ok"] for r in results] == [True, True, True, False]
    assert sink.ended == [([o["uuid"] for o in orders], True)]


def test_end_comes_once_for_a_sink_without_batch_steps(sink, order_factory):
    only = _StoreOnly(sink)
    sync_batch(_batch(order_factory(), order_factory()), only)
    assert only.ended == 1


def test_no_end_when_a_conflict_leaves_the_call_for_the_hosts_replay(conn, order_factory):
    orders = [order_factory() for _ in range(3)]
    sink = _ContendedSink(None, conn, 1, busy_uuid=orders[1]["uuid"])
    ended = []
    sink.end = lambda: ended.append(True)
    with pytest.raises(_Busy):
        sync_batch(_batch(*orders), sink)
    assert ended == []
