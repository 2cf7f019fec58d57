"""sync_batch's store groups (core/sync_service.py), through the sandbox's real SQLite sink: up
to STORE_GROUP orders share one savepoint; when one fails (in its store or when the group is
left) the group is undone and its orders are stored again one by one, so the bad order fails
alone, the others are stored once, and nothing of the failed try is left. An order paid by card
is never in a group."""

import logging
from contextlib import contextmanager

import pytest

from pos_offline_sync.core.sync_service import (
    DEFERRED,
    INTERNAL_ERROR_REASON,
    STORE_GROUP,
    sync_batch,
)
from sandbox.orders import SqliteOrderSink
from tests.core.test_sync_budget import FakeClock
from tests.core.test_sync_service import _fail_lines_named


def _batch(*orders):
    return {"v": 1, "config_id": 1, "orders": list(orders)}


def _count(conn, table):
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 - fixed names


class RecordingSink(SqliteOrderSink):
    """The real SQLite sink, recording which orders each store() saw inside which group."""

    def __init__(self, *args, fail_group_exit=0, **kwargs):
        super().__init__(*args, **kwargs)
        self.groups = []  # one list of uuids per group entered
        self.alone = []  # uuids stored outside any group
        self.fail_group_exit = fail_group_exit  # that many groups fail as they are left

    @contextmanager
    def group(self):
        self.groups.append([])
        with super().group():
            yield
            if self.fail_group_exit:
                self.fail_group_exit -= 1
                # What Odoo's savepoint does when its flush fails on leaving: undone, raised.
                raise RuntimeError("flush failed on leaving the group")

    def store(self, order):
        (self.groups[-1] if self._grouped else self.alone).append(order["uuid"])
        return super().store(order)


def _card(order):
    order["payments"][0]["card"] = {"brand": "visa", "last4": "4242", "status": "unprocessed"}
    return order


def test_orders_in_a_row_share_groups_of_store_group(conn, order_factory):
    orders = [order_factory() for _ in range(2 * STORE_GROUP + 3)]
    sink = RecordingSink(None, conn, 1)
    results = sync_batch(_batch(*orders), sink)["results"]
    assert [r["status"] for r in results] == ["created"] * len(orders)
    uuids = [o["uuid"] for o in orders]
    assert sink.groups == [uuids[:STORE_GROUP], uuids[STORE_GROUP:-3], uuids[-3:]]
    assert sink.alone == []
    assert _count(conn, "orders") == len(orders)


def test_an_order_paid_by_card_is_stored_alone(conn, order_factory):
    orders = [order_factory() for _ in range(2)] + [_card(order_factory())]
    orders += [order_factory() for _ in range(3)] + [_card(order_factory()), order_factory()]
    sink = RecordingSink(None, conn, 1)
    results = sync_batch(_batch(*orders), sink)["results"]
    assert all(r["ok"] for r in results), results
    uuids = [o["uuid"] for o in orders]
    # A single order between two cards is no group either.
    assert sink.groups == [uuids[0:2], uuids[3:6]]
    assert sink.alone == [uuids[2], uuids[6], uuids[7]]


def test_the_orders_after_a_bad_one_go_on_in_a_group(conn, order_factory):
    orders = [order_factory() for _ in range(6)]
    orders[1]["lines"][0]["product_name"] = "BOOM"
    _fail_lines_named(conn, "BOOM")
    sink = RecordingSink(None, conn, 1)
    results = sync_batch(_batch(*orders), sink)["results"]
    assert [r["ok"] for r in results] == [True, False, True, True, True, True]
    uuids = [o["uuid"] for o in orders]
    assert sink.groups == [uuids[:2], uuids[2:]]
    assert sink.alone == [uuids[0], uuids[1]]
    assert _count(conn, "orders") == 5


def test_a_bad_order_fails_alone_and_the_group_is_stored_once(conn, order_factory, caplog):
    orders = [order_factory() for _ in range(5)]
    orders[3]["lines"][0]["product_name"] = "BOOM"
    _fail_lines_named(conn, "BOOM")
    sink = RecordingSink(None, conn, 1)
    with caplog.at_level(logging.ERROR):
        results = sync_batch(_batch(*orders), sink)["results"]
    assert [r["ok"] for r in results] == [True, True, True, False, True]
    assert results[3]["reason"] == INTERNAL_ERROR_REASON
    uuids = [o["uuid"] for o in orders]
    # Tried as a group up to the bad order and undone; the orders before it again as a group,
    # the bad one alone, then the rest (one order: alone).
    assert sink.groups == [uuids[:4], uuids[:3]]
    assert sink.alone == [uuids[3], uuids[4]]
    # Nothing of the undone try is left: each good order, its line and payment once.
    assert [r["uuid"] for r in conn.execute("SELECT uuid FROM orders ORDER BY id")] == [
        u for i, u in enumerate(uuids) if i != 3
    ]
    assert _count(conn, "order_lines") == 4 and _count(conn, "order_payments") == 4
    # The bad order is logged once (its store alone), not once more for the group's try.
    logged = [r for r in caplog.records if uuids[3] in r.getMessage()]
    assert len(logged) == 1, [r.getMessage() for r in logged]


def test_a_group_failing_as_it_is_left_is_stored_again_alone(conn, order_factory):
    orders = [order_factory() for _ in range(4)]
    sink = RecordingSink(None, conn, 1, fail_group_exit=1)
    results = sync_batch(_batch(*orders), sink)["results"]
    assert [r["status"] for r in results] == ["created"] * 4
    assert sink.alone == [o["uuid"] for o in orders]
    assert _count(conn, "orders") == 4 and _count(conn, "order_lines") == 4


def test_the_budget_spent_inside_a_group_keeps_what_it_stored(conn, order_factory):
    clock = FakeClock()

    class Slow(RecordingSink):
        def store(self, order):
            clock.now += 1.0
            return super().store(order)

    orders = [order_factory() for _ in range(6)]
    sink = Slow(None, conn, 1)
    answer = sync_batch(_batch(*orders), sink, time_budget_s=3.5, clock=clock)
    statuses = [r["status"] for r in answer["results"]]
    assert statuses == ["created"] * 3 + [DEFERRED] * 3
    assert sink.alone == []  # deferring is no failure: the group was kept, not redone
    assert _count(conn, "orders") == 3 and not conn.in_transaction


class SlowRecording(RecordingSink):
    """Each store takes 3 s on the fake clock."""

    def __init__(self, *args, clock, **kwargs):
        super().__init__(*args, **kwargs)
        self.clock = clock

    def store(self, order):
        self.clock.now += 3.0
        return super().store(order)


@pytest.mark.parametrize("budget", [0.0, 10.0])
def test_a_call_whose_group_was_undone_still_makes_progress(conn, order_factory, budget):
    """The undone try spent time, but it stored nothing: the call still stores (or refuses)
    its first order, as every call does, instead of deferring them all forever."""
    clock = FakeClock()
    orders = [order_factory() for _ in range(4)]
    bad = 0 if budget == 0 else 2
    orders[bad]["lines"][0]["product_name"] = "BOOM"
    _fail_lines_named(conn, "BOOM")
    sink = SlowRecording(None, conn, 1, clock=clock)
    for _ in range(len(orders)):  # the register sends what was deferred again, at once
        answer = sync_batch(_batch(*orders), sink, time_budget_s=budget, clock=clock)
        statuses = [r["status"] for r in answer["results"]]
        assert statuses[0] != DEFERRED, statuses
        orders = [
            o for o, r in zip(orders, answer["results"], strict=True) if r["status"] == DEFERRED
        ]
        if not orders:
            break
    assert not orders, "every order was answered within as many calls as orders"
    assert _count(conn, "orders") == 3


def test_groups_that_always_fail_as_they_are_left_still_make_progress(conn, order_factory, caplog):
    """Leaving every group fails (a write refused only at the flush, every time): each call
    still stores its first order alone, the rest come again, and the failure is logged."""
    clock = FakeClock()
    orders = [order_factory() for _ in range(4)]
    sink = SlowRecording(None, conn, 1, clock=clock, fail_group_exit=1_000)
    calls = 0
    with caplog.at_level(logging.WARNING):
        while orders and calls < 5:
            calls += 1
            answer = sync_batch(_batch(*orders), sink, time_budget_s=0.0, clock=clock)
            assert answer["results"][0]["status"] == "created", answer["results"]
            orders = [
                o for o, r in zip(orders, answer["results"], strict=True) if r["status"] == DEFERRED
            ]
    assert not orders and calls == 4
    assert _count(conn, "orders") == 4
    assert any("could not be kept" in r.getMessage() for r in caplog.records)


def test_an_order_the_sink_keeps_out_of_groups_is_stored_alone(conn, order_factory):
    class Choosy(RecordingSink):
        def may_group(self, order):
            return order["reference"] != "keep me alone"

    orders = [order_factory() for _ in range(5)]
    orders[2]["reference"] = "keep me alone"
    sink = Choosy(None, conn, 1)
    results = sync_batch(_batch(*orders), sink)["results"]
    assert all(r["ok"] for r in results), results
    uuids = [o["uuid"] for o in orders]
    assert sink.groups == [uuids[0:2], uuids[3:5]]
    assert sink.alone == [uuids[2]]


def test_a_sink_that_cannot_tell_keeps_the_order_alone(conn, order_factory):
    class Unsure(RecordingSink):
        def may_group(self, order):
            raise RuntimeError("cannot tell")

    orders = [order_factory() for _ in range(3)]
    sink = Unsure(None, conn, 1)
    results = sync_batch(_batch(*orders), sink)["results"]
    assert [r["status"] for r in results] == ["created"] * 3
    assert sink.groups == [] and sink.alone == [o["uuid"] for o in orders]


class PreparingSink(SlowRecording):
    """Each store takes 3 s on the fake clock; prepare_group() records what it was offered
    and, when `prepares` is set, says it prepared that many (or raises when it is an error)."""

    def __init__(self, *args, prepares=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.offered = []  # (uuids of the group's orders stored before, uuids offered)
        self.prepares = prepares

    def prepare_group(self, orders):
        self.offered.append((list(self.groups[-1]), [o["uuid"] for o in orders]))
        if isinstance(self.prepares, Exception):
            raise self.prepares
        return len(orders) if self.prepares is None else self.prepares


def _uuids(orders):
    return [o["uuid"] for o in orders]


def test_prepare_group_is_offered_the_rest_of_each_group_after_its_first(conn, order_factory):
    clock = FakeClock()
    orders = [order_factory() for _ in range(STORE_GROUP + 3)]
    sink = PreparingSink(None, conn, 1, clock=clock)
    answer = sync_batch(_batch(*orders), sink, time_budget_s=None, clock=clock)
    assert [r["status"] for r in answer["results"]] == ["created"] * len(orders)
    first, second = orders[:STORE_GROUP], orders[STORE_GROUP:]
    assert sink.offered == [
        (_uuids(first[:1]), _uuids(first[1:])),
        (_uuids(second[:1]), _uuids(second[1:])),
    ]
    assert _count(conn, "orders") == len(orders)


def test_prepare_group_is_offered_what_the_budget_expects_and_those_are_stored(conn, order_factory):
    """3 s an order, 10 s: after the first, two more fit (9 s); both are offered, prepared,
    and stored; the rest are deferred as before."""
    clock = FakeClock()
    orders = [order_factory() for _ in range(5)]
    sink = PreparingSink(None, conn, 1, clock=clock)
    answer = sync_batch(_batch(*orders), sink, time_budget_s=10.0, clock=clock)
    assert [r["status"] for r in answer["results"]] == ["created"] * 3 + [DEFERRED] * 2
    assert sink.offered == [(_uuids(orders[:1]), _uuids(orders[1:3]))]


def test_orders_a_sink_prepared_together_are_stored_even_past_the_budget(conn, order_factory):
    """Admitted together on the budget's estimate, they are all stored: a sink that made them
    together never has one left unanswered. Here each takes longer than the estimate."""
    clock = FakeClock()

    class Slower(PreparingSink):
        def store(self, order):
            if len(self.groups[-1]) == 1:
                self.clock.now += 2.0  # the second takes 5 s: past the estimate of 3
            return super().store(order)

    orders = [order_factory() for _ in range(5)]
    sink = Slower(None, conn, 1, clock=clock)
    answer = sync_batch(_batch(*orders), sink, time_budget_s=10.0, clock=clock)
    # Offered 2 (after 3 s, 7 s left); stored at 8 s and 11 s. Asked of the budget at 8 s,
    # the third would have been deferred (8 + 5 > 10).
    assert sink.offered == [(_uuids(orders[:1]), _uuids(orders[1:3]))]
    assert [r["status"] for r in answer["results"]] == ["created"] * 3 + [DEFERRED] * 2


def test_only_the_orders_a_sink_says_it_prepared_are_admitted(conn, order_factory):
    clock = FakeClock()
    orders = [order_factory() for _ in range(5)]
    # Says 99: no more than it was offered are admitted (the third would end at 9 s, fits;
    # the fourth is asked of the budget: 12 s, deferred).
    sink = PreparingSink(None, conn, 1, clock=clock, prepares=99)
    answer = sync_batch(_batch(*orders), sink, time_budget_s=10.0, clock=clock)
    assert [r["status"] for r in answer["results"]] == ["created"] * 3 + [DEFERRED] * 2
    # Says none: the budget decides each, as without prepare_group.
    orders = [order_factory() for _ in range(5)]
    sink = PreparingSink(None, conn, 1, clock=clock, prepares=0)
    answer = sync_batch(_batch(*orders), sink, time_budget_s=10.0, clock=clock)
    assert [r["status"] for r in answer["results"]] == ["created"] * 3 + [DEFERRED] * 2


def test_a_prepare_group_that_raises_undoes_the_group_and_stores_each_alone(
    conn, order_factory, caplog
):
    clock = FakeClock()
    orders = [order_factory() for _ in range(4)]
    sink = PreparingSink(None, conn, 1, clock=clock, prepares=RuntimeError("prepare failed"))
    with caplog.at_level(logging.WARNING):
        answer = sync_batch(_batch(*orders), sink, time_budget_s=None, clock=clock)
    assert [r["status"] for r in answer["results"]] == ["created"] * 4
    assert sink.alone == _uuids(orders)
    assert _count(conn, "orders") == 4 and _count(conn, "order_lines") == 4
    assert any("could not be kept" in r.getMessage() for r in caplog.records)


def test_prepare_group_is_called_again_after_each_run_it_prepared(conn, order_factory):
    """A sink preparing two at a time (a head ends at an order with change, say) is offered
    the rest after each pair; one that prepares fewer than two is not asked again."""
    clock = FakeClock()
    orders = [order_factory() for _ in range(STORE_GROUP)]
    sink = PreparingSink(None, conn, 1, clock=clock, prepares=2)
    answer = sync_batch(_batch(*orders), sink, time_budget_s=None, clock=clock)
    assert [r["status"] for r in answer["results"]] == ["created"] * STORE_GROUP
    assert [len(before) for before, _ in sink.offered] == [1, 3, 5, 7]
    assert [offered for _, offered in sink.offered] == [
        _uuids(orders[start:]) for start in (1, 3, 5, 7)
    ]
    sink = PreparingSink(None, conn, 1, clock=clock, prepares=1)
    orders = [order_factory() for _ in range(STORE_GROUP)]
    sync_batch(_batch(*orders), sink, time_budget_s=None, clock=clock)
    assert len(sink.offered) == 1
