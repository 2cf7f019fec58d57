"""The sync log's rules (core/sync_log.py): the payload's `sync` object read leniently (a bad
part is dropped, never a reason to refuse orders), a batch counted from its answer, the
batches of one sync added up with their reasons bounded."""

from pos_offline_sync.core import sync_log as sl

SYNC_ID = "0123456789abcdef0123456789abcdef"


def test_meta_is_read_and_bad_parts_dropped():
    meta = sl.read_meta(
        {"sync": {"id": SYNC_ID, "device_id": "f" * 32, "cashier": "  Marc \n Demo "}}
    )
    assert meta == sl.SyncMeta(SYNC_ID, "f" * 32, "Marc Demo")
    assert sl.read_meta({}) == sl.SyncMeta()
    assert sl.read_meta({"sync": "x"}) == sl.SyncMeta()
    odd = sl.read_meta({"sync": {"id": "bad id!", "device_id": 12, "cashier": "n" * 500}})
    assert odd.sync_id is None and odd.device_id is None and len(odd.cashier) == 128
    assert sl.read_meta({"sync": {"id": "a" * 65}}).sync_id is None


def test_a_batch_is_counted_from_its_answer():
    payload = {
        "orders": [
            {"uuid": "u1", "reference": "Order 1"},
            {"uuid": "u2"},
            {"uuid": "u3", "reference": "Order 3"},
            "not an order",
        ]
    }
    answer = {
        "results": [
            {"uuid": "u1", "ok": True, "status": "created"},
            {"uuid": "u2", "ok": True, "status": "exists"},
            {"uuid": "u3", "ok": False, "status": "error", "reason": "line 1:\nunknown product"},
            {"uuid": None, "ok": False, "status": "error", "reason": "the order is not an object"},
        ]
    }
    counts = sl.count_batch(payload, answer)
    assert (counts.sent, counts.created, counts.existing, counts.refused) == (4, 1, 1, 2)
    assert counts.reasons == [
        "Order 3: line 1: unknown product",
        "?: the order is not an object",
    ]


def test_batches_add_up_and_reasons_stay_bounded():
    first = sl.SyncCounts(sent=100, created=90, refused=10, reasons=[f"r{i}" for i in range(10)])
    second = sl.SyncCounts(
        sent=60, existing=5, refused=55, reasons=[f"s{i}" for i in range(50)], more_reasons=5
    )
    total = first.add(second)
    assert (total.sent, total.created, total.existing, total.refused) == (160, 90, 5, 65)
    assert len(total.reasons) == sl.MAX_REASONS
    assert total.more_reasons == 15
    assert total.reasons_text().endswith("... and 15 more")
    long = sl.count_batch(
        {"orders": [{"uuid": "u"}]},
        {"results": [{"ok": False, "reason": "x" * 1000}]},
    )
    assert len(long.reasons[0]) == sl.MAX_REASON_CHARS


def test_a_broken_answer_counts_what_was_sent():
    counts = sl.count_batch({"orders": [{"uuid": "a"}]}, None)
    assert (counts.sent, counts.created, counts.refused) == (1, 0, 0)


def test_an_order_deferred_by_the_time_budget_is_neither_sent_nor_refused_yet():
    # It is sent again in the next batch and counted there: once, as what it became.
    payload = {"orders": [{"uuid": "a", "reference": "A"}, {"uuid": "b", "reference": "B"}]}
    answer = {
        "results": [
            {"uuid": "a", "ok": True, "status": "created"},
            {"uuid": "b", "ok": False, "status": "deferred", "reason": "not processed yet"},
        ]
    }
    counts = sl.count_batch(payload, answer)
    assert (counts.sent, counts.created, counts.refused, counts.reasons) == (1, 1, 0, [])


def test_control_characters_never_reach_the_log_row():
    # PostgreSQL refuses NUL in text: a refusal quoting the payload must still be logged.
    payload = {
        "orders": [{"uuid": "a", "reference": "Order\x001"}],
        "sync": {"id": "s" * 32, "cashier": "Ada\x00 \x07Lovelace"},
    }
    answer = {"results": [{"ok": False, "reason": "note: 'x\x00y' has a control character"}]}
    counts = sl.count_batch(payload, answer)
    assert counts.reasons == ["Order?1: note: 'x?y' has a control character"]
    assert sl.read_meta(payload).cashier == "Ada? ?Lovelace"
    assert not any(ord(c) < 32 for c in counts.reasons_text())
