"""sync_batch under a time budget (issue 10), on a fake clock: no test sleeps. Orders are handled
in order until another one, as long as the longest so far, would end past the budget; the rest
are answered "deferred" (kept by the browser, sent again); what was stored is committed; the
first order of a call always runs. Through the sandbox's real SQLite sink."""

import pytest

from pos_offline_sync.core.csv_schema import import_in_chunks
from pos_offline_sync.core.sync_service import DEFERRED, DEFERRED_REASON, sync_batch
from sandbox import db
from sandbox.orders import SqliteOrderSink


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


class SlowSink(SqliteOrderSink):
    """The sandbox's real batch sink, each prepare/store taking `prepare_s`/`store_s` on the
    fake clock (as a slow server would: Odoo takes ~0.35 s an order)."""

    def __init__(self, conn, clock, *, store_s=0.0, prepare_s=0.0):
        super().__init__(None, conn, 1)
        self.clock, self.store_s, self.prepare_s = clock, store_s, prepare_s
        self.stored = []

    def prepare(self, order):
        self.clock.now += self.prepare_s
        super().prepare(order)

    def store(self, order):
        self.clock.now += self.store_s
        self.stored.append(order["uuid"])
        return super().store(order)


class OrderByOrderSink(SlowSink):
    """Without prepare/batch: stored order by order, as Odoo's sink in its request."""

    prepare = None
    batch = None


def _batch(orders):
    return {"v": 1, "config_id": 1, "orders": list(orders)}


def _db_uuids(db_path):
    other = db.connect(db_path)  # another connection: sees only what was committed
    try:
        return [r["uuid"] for r in other.execute("SELECT uuid FROM orders ORDER BY id")]
    finally:
        other.close()


@pytest.mark.parametrize("sink_class", [SlowSink, OrderByOrderSink])
def test_budget_spent_mid_batch_defers_the_rest(sink_class, db_path, conn, clock, order_factory):
    orders = [order_factory() for _ in range(5)]
    sink = sink_class(conn, clock, store_s=3.0)
    results = sync_batch(_batch(orders), sink, time_budget_s=10, clock=clock)["results"]
    # 3 s each: after the third (9 s) a fourth would end at 12 s, past 10.
    assert [r["status"] for r in results] == ["created"] * 3 + [DEFERRED] * 2
    assert results[3] == {
        "uuid": orders[3]["uuid"],
        "ok": False,
        "status": DEFERRED,
        "reason": DEFERRED_REASON,
    }
    assert sink.stored == [o["uuid"] for o in orders[:3]], "deferred orders never reach store()"
    assert _db_uuids(db_path) == [o["uuid"] for o in orders[:3]], "what was stored is committed"

    # The browser sends the deferred ones again, at once: stored, each once.
    again = sync_batch(_batch(orders[3:]), sink, time_budget_s=10, clock=clock)["results"]
    assert [r["status"] for r in again] == ["created", "created"]
    assert _db_uuids(db_path) == [o["uuid"] for o in orders]


def test_the_budget_counts_from_the_start_of_the_call(conn, clock, order_factory):
    # Time spent before the first store (here the sink's begin, judging the whole call) counts.
    orders = [order_factory() for _ in range(3)]
    sink = SlowSink(conn, clock, store_s=0.5)

    def slow_begin(valid, now):
        clock.now += 9.0

    sink.begin = slow_begin
    results = sync_batch(_batch(orders), sink, time_budget_s=10, clock=clock)["results"]
    # 9 s, then 9.5 s after the first store: another 0.5 s still fits, a third would not.
    assert [r["status"] for r in results] == ["created", "created", DEFERRED]
    # The next call has a budget of its own.
    again = sync_batch(_batch(orders[2:]), sink, time_budget_s=10, clock=clock)["results"]
    assert [r["status"] for r in again] == ["created"]


def test_one_order_slower_than_the_budget_still_lands(db_path, conn, clock, order_factory):
    orders = [order_factory() for _ in range(3)]
    sink = SlowSink(conn, clock, store_s=30.0)
    results = sync_batch(_batch(orders), sink, time_budget_s=10, clock=clock)["results"]
    assert [r["status"] for r in results] == ["created", DEFERRED, DEFERRED]
    assert len(_db_uuids(db_path)) == 1


def test_bad_orders_get_their_reason_past_the_budget(conn, clock, order_factory):
    orders = [order_factory() for _ in range(4)]
    orders[3]["lines"][0]["qty"] = "two"
    sink = SlowSink(conn, clock, store_s=6.0)
    results = sync_batch(_batch(orders), sink, time_budget_s=10, clock=clock)["results"]
    # Checked before anything is stored: a refusal is final, never deferred.
    assert [r["status"] for r in results] == ["created", DEFERRED, DEFERRED, "error"]
    assert "line 1" in results[3]["reason"]


def test_no_budget_defers_nothing(db_path, conn, clock, order_factory):
    orders = [order_factory() for _ in range(4)]
    sink = SlowSink(conn, clock, store_s=3600.0)
    results = sync_batch(_batch(orders), sink, clock=clock)["results"]
    assert all(r["status"] == "created" for r in results)


def test_the_projection_uses_the_longest_order_so_far(db_path, conn, clock, order_factory):
    orders = [order_factory() for _ in range(6)]
    times = iter([1.0, 4.0, 1.0, 1.0, 1.0, 1.0])
    sink = SlowSink(conn, clock)
    store = sink.store

    def uneven(order):
        clock.now += next(times)
        return store(order)

    sink.store = uneven
    results = sync_batch(_batch(orders), sink, time_budget_s=10, clock=clock)["results"]
    # 1 + 4 = 5 s, 6 s, 7 s; then 7 + 4 (the longest) = 11 > 10: stop, though 1 s would fit.
    assert [r["status"] for r in results] == ["created"] * 4 + [DEFERRED] * 2


def test_slow_card_work_in_prepare_defers_the_orders_not_prepared(
    db_path, conn, clock, order_factory
):
    orders = [order_factory() for _ in range(5)]
    sink = SlowSink(conn, clock, prepare_s=4.0, store_s=0.01)
    results = sync_batch(_batch(orders), sink, time_budget_s=10, clock=clock)["results"]
    # Prepared: 4 s, 8 s, then 8 + 4 > 10. The two prepared are both stored: their stores are
    # quick, judged on their own pass, not on the prepare's 4 s.
    assert [r["status"] for r in results] == ["created", "created"] + [DEFERRED] * 3
    assert len(_db_uuids(db_path)) == 2


def test_csv_import_sends_the_deferred_orders_first_in_the_next_chunk(
    db_path, conn, clock, order_factory
):
    orders = [order_factory() for _ in range(250)]
    sink = SlowSink(conn, clock, store_s=0.25)
    sizes, progress = [], []

    def store_chunk(payload):
        sizes.append(len(payload["orders"]))
        return sync_batch(payload, sink, time_budget_s=10, clock=clock)["results"]

    results = import_in_chunks(
        orders, 1, store_chunk, on_chunk=lambda done, total: progress.append(done)
    )
    # 40 orders of 0.25 s fill 10 s: each chunk of 100 stores 40, the 60 deferred go first next.
    assert sizes == [100, 100, 100, 100, 90, 50, 10]
    assert progress == [40, 80, 120, 160, 200, 240, 250]
    assert [r["uuid"] for r in results] == [o["uuid"] for o in orders]
    assert {r["status"] for r in results} == {"created"}
    assert sink.stored == [o["uuid"] for o in orders], "each order stored once, in order"
    assert _db_uuids(db_path) == [o["uuid"] for o in orders]


def test_csv_import_stopped_with_orders_deferred_imports_the_rest_next_time(
    db_path, conn, clock, order_factory
):
    orders = [order_factory() for _ in range(150)]
    sink = SlowSink(conn, clock, store_s=0.25)

    def store_chunk(payload):
        return sync_batch(payload, sink, time_budget_s=10, clock=clock)["results"]

    calls = []
    results = import_in_chunks(orders, 1, store_chunk, stop=lambda: calls.append(1) or True)
    assert len(results) == 40, "only what the first chunk stored: the 60 deferred are left"
    again = import_in_chunks(orders, 1, store_chunk)
    statuses = [r["status"] for r in again]
    assert statuses == ["exists"] * 40 + ["created"] * 110
    assert len(_db_uuids(db_path)) == 150 == len(set(_db_uuids(db_path)))


def test_csv_import_ends_when_a_chunk_stores_nothing(order_factory):
    orders = [order_factory() for _ in range(5)]

    def nothing_stored(payload):
        return [
            {"uuid": o["uuid"], "ok": False, "status": DEFERRED, "reason": DEFERRED_REASON}
            for o in payload["orders"]
        ]

    assert import_in_chunks(orders, 1, nothing_stored) == []
