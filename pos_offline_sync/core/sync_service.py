"""The server side of `offline_sync_orders` (docs/CONTRACTS.md §2), for any host.

The host (Odoo models, the sandbox) supplies an `OrderSink` that stores one validated order.
`sync_batch` checks the envelope of the payload, then handles each order on its own: one bad
order gets its own error result and never stops the others; results come back in the order of
the input so the browser can match them by position.

A sink may also be a `BatchOrderSink`: `prepare(order)` for every order first (slow work such
as card processing, with no write transaction open), then every `store()` inside one
`batch()` that commits once, so a batch costs one durable commit instead of one per order.
The browser deletes what we confirm, so the answer is built only after that commit.

Every order is validated on the server's terms first (docs/CONTRACTS.md §6): the currency's
`rounding` is the sink's, the time is the server's, taken once per call. A sink with `begin`
sees all the valid orders of the call before any is stored, for judgments over the whole call
(the offline card risk limits).

A host may give the call a time budget (`time_budget_s`): the orders are handled in order until
another one, as long as the longest so far, would end past the budget; the rest are answered
`deferred` (not processed, not refused: the browser sends them again at once, CONTRACTS §2).
What was stored is committed as usual. The first valid order of a call is always handled, so
every call makes progress however slow an order is. Production Odoo kills a request past its
worker limits and rolls it back whole: without a budget, a batch too large for the server would
be sent, killed and sent again forever.

A sink with `group()` stores up to `STORE_GROUP` orders in a row together, in one unit that is
undone whole (a savepoint), rather than one savepoint each: in Odoo each savepoint flushes,
runs the precommit hooks and opens a subtransaction, about a tenth of an order's time. When
one order of a group fails, the group is undone; the orders before it are stored again as a
group, the failed one alone, the rest as a new group: a bad order still fails alone and the
others' results are those of a store that was kept. An order paid by card is always stored
alone (its card work is never done in a group that may be undone), and so is an order the
sink's `may_group` keeps out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol

from .order_schema import DEFAULT_ROUNDING, MAX_ID, OrderValidationError, validate_order

_logger = logging.getLogger(__name__)

MAX_BATCH = 500
# Orders stored together in one sink group (see the module's doc). Small enough that a bad
# order costs little to redo, large enough that the per-savepoint cost nearly vanishes.
STORE_GROUP = 10
INTERNAL_ERROR_REASON = "the server could not store this order (internal error); it was kept"
DEFAULT_TIME_BUDGET_S = 10.0
DEFERRED = "deferred"
DEFERRED_REASON = (
    "not processed yet: the server's time for this request ran out before this order; "
    "it is kept, send it again"
)


class PayloadError(ValueError):
    """The batch as a whole is malformed (not one bad order): the host answers 400."""


@dataclass(frozen=True)
class StoredOrder:
    """What a sink reports for one order: "created" now or already there ("exists").
    `rescue_session`: the name of the rescue session it is in, when its own session could not
    take it (core/rescue_session.py); the cashier is told where it went."""

    status: str
    reference: str | None = None
    paid: bool = False
    rescue_session: str | None = None


class OrderSink(Protocol):
    """`rounding` (optional attribute): the currency's rounding, 0.01 when absent.
    `rounded_total(order)` (optional): the order's total as the register's cash rounding makes
    it (the change is given from it); the total itself when absent.
    `begin(orders, now)` (optional): called once with every valid order of the call, before
    any `prepare`/`store`, with the server time the orders were judged at.
    `end()` (optional): called once after the call's last `store`, in the same transaction
    (work a host does once per call rather than once per order); not called when storing
    raised.
    `is_retryable(exc)` (optional): True for a host error that the host replays the whole call
    for (a database serialization failure, a lock taken by another register's call): such an
    error leaves `sync_batch` as it is, instead of failing its order, so nothing of the call
    is kept and the host's replay stores every order once.
    `group()` (optional): a context manager around several `store()` calls that undoes all of
    their writes when left by an exception; inside it `store` needs no unit of its own. A
    failure of one of those calls (or of leaving the group) makes `sync_batch` undo the group
    and store its orders again (the failed one alone, in its own unit).
    `may_group(order)` (optional, with `group`): False keeps that order out of groups (an
    order whose storing has effects outside the transaction, done again if its group were
    undone).
    `prepare_group(orders)` (optional, with `group`): called inside `group()` once its first
    order is stored, with the next ones the time budget expects to store, in order; returns
    how many of them, from the first, it prepared to do some of their work together. Those
    are stored whatever the budget says by then (admitted together, on the budget's
    estimate); after them it is called again with the next ones, until it prepares fewer
    than two. Raising undoes the group, whose orders are then stored one by one; each order
    must be stored as `store()` alone would."""

    def store(self, order: dict) -> StoredOrder:
        """Stores one validated order, idempotently on its uuid.

        Raises `OrderValidationError` for host-level rejections (unknown product, ...)."""


class BatchOrderSink(OrderSink, Protocol):
    """Optional batch steps; `sync_batch` uses them when a sink has both (duck typing)."""

    def prepare(self, order: dict) -> None:
        """Called for each valid order before `batch()` opens: host checks and the payment
        state (which may call Stripe) are decided here, never under a write lock. Raises
        `OrderValidationError` to refuse that order."""

    def batch(self) -> AbstractContextManager:
        """The write transaction around the batch's `store()` calls. `store` undoes a failing
        order alone (a savepoint); leaving the block commits durably, or raises when the
        commit failed (then nothing of the batch was stored)."""


class TimeBudget:
    """Seconds one call may spend on its orders, from its start, on an injectable monotonic
    `clock` (tests advance a fake one); `None` seconds: no budget."""

    def __init__(self, seconds: float | None, clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self.clock = clock
        self.start = clock()

    def steps(self) -> _Steps:
        """One pass over the orders (prepare, then store) under this budget."""
        return _Steps(self)


class _Steps:
    """One pass over the valid orders under the call's budget: the first order of the pass
    always runs (every call makes progress); a later one only while another step as long as
    the longest of this pass so far would end within the budget, and none after one did not.
    Each pass has its own longest step: slow card work in `prepare` does not make the quick
    stores of the orders it prepared look slow."""

    def __init__(self, budget: TimeBudget):
        self.budget = budget
        self.ran = 0
        self.longest = 0.0
        self.spent = False

    def allows_another(self) -> bool:
        if not self.ran or self.budget.seconds is None:
            return True
        if not self.spent:
            elapsed = self.budget.clock() - self.budget.start
            self.spent = elapsed + self.longest > self.budget.seconds
        return not self.spent

    def room(self, count: int) -> int:
        """How many of `count` more steps are expected to run, by the rule of allows_another
        with the longest step so far for each (all of them before any step was measured)."""
        if not self.allows_another():
            return 0
        if not self.ran or self.budget.seconds is None or self.longest <= 0:
            return count
        left = self.budget.seconds - (self.budget.clock() - self.budget.start)
        return max(1, min(count, int(left // self.longest)))

    def run(self, order: dict, fn, *, pair: bool = False, admitted: bool = False):
        """`fn(order)`'s result, or the order's deferred result (as a pair for `prepare`);
        `admitted`: run whatever the budget says (admitted with others by room())."""
        if not admitted and not self.allows_another():
            deferred = _deferred(order["uuid"])
            return (None, deferred) if pair else deferred
        self.ran += 1
        began = self.budget.clock()
        try:
            return fn(order)
        finally:
            self.longest = max(self.longest, self.budget.clock() - began)


def _deferred(uuid) -> dict:
    return {"uuid": uuid, "ok": False, "status": DEFERRED, "reason": DEFERRED_REASON}


def check_payload(payload, max_batch: int = MAX_BATCH) -> list:
    """Returns the orders of a version 1 payload or raises `PayloadError` saying what is wrong."""
    if not isinstance(payload, dict):
        raise PayloadError("the payload must be a JSON object")
    if payload.get("v") != 1:
        raise PayloadError('unsupported payload version: expected "v": 1')
    config_id = payload.get("config_id")
    if isinstance(config_id, bool) or not isinstance(config_id, int) or config_id <= 0:
        raise PayloadError("config_id must be the id of a register")
    if config_id > MAX_ID:
        raise PayloadError(f"config_id is not the id of a register: ids are 1 to {MAX_ID}")
    orders = payload.get("orders")
    if not isinstance(orders, list):
        raise PayloadError('"orders" must be a list of orders')
    if len(orders) > max_batch:
        raise PayloadError(
            f"too many orders in one batch: {len(orders)} (at most {max_batch}); "
            "send smaller batches"
        )
    return orders


def _uuid_of(raw):
    uuid = raw.get("uuid") if isinstance(raw, dict) else None
    return uuid if isinstance(uuid, str) and uuid else None


def _error(uuid, reason: str) -> dict:
    return {"uuid": uuid, "ok": False, "status": "error", "reason": reason}


def _internal_error(uuid, what: str) -> dict:
    # Type and traceback only: the order's uuid is safe to log, its content is not needed.
    _logger.exception("offline order %s could not be %s", uuid, what)
    return _error(uuid, INTERNAL_ERROR_REASON)


def _validate_one(
    raw, config_id: int, rounding, now, rounded_total=None
) -> tuple[dict | None, dict | None]:
    """(validated order, None) or (None, error result); never raises."""
    uuid = _uuid_of(raw)
    try:
        order = validate_order(raw, rounding=rounding, now=now, rounded_total=rounded_total)
        if order.get("config_id") not in (None, config_id):
            raise OrderValidationError(
                f"the order belongs to register {order['config_id']}, not {config_id}"
            )
    except OrderValidationError as exc:
        return None, _error(uuid, exc.reason)
    except Exception:  # noqa: BLE001 - one order's trouble must not fail the batch
        return None, _internal_error(uuid, "validated")
    return order, None


def _retryable(sink, exc: Exception) -> bool:
    check = getattr(sink, "is_retryable", None)
    return bool(check and check(exc))


def _prepare_one(order: dict, prepare, sink=None) -> tuple[dict | None, dict | None]:
    try:
        prepare(order)
    except OrderValidationError as exc:
        return None, _error(order["uuid"], exc.reason)
    except Exception as exc:  # noqa: BLE001 - one order's trouble must not fail the batch
        if _retryable(sink, exc):
            raise
        return None, _internal_error(order["uuid"], "prepared")
    return order, None


def _store_one(order: dict, sink: OrderSink, *, grouped: bool = False) -> dict:
    """Stores one validated order; always returns a result, never raises. `grouped`: inside a
    sink group, where a failure is not logged (the order is stored again alone, and logged
    then)."""
    try:
        stored = sink.store(order)
    except OrderValidationError as exc:
        return _error(order["uuid"], exc.reason)
    except Exception as exc:  # noqa: BLE001 - one order's trouble must not fail the batch
        if _retryable(sink, exc):
            raise  # another call holds what this order needs: the host replays this call
        if grouped:
            return _error(order["uuid"], INTERNAL_ERROR_REASON)
        return _internal_error(order["uuid"], "stored")
    result = {
        "uuid": order["uuid"],
        "ok": True,
        "status": stored.status,
        "reference": stored.reference or order.get("reference"),
        "paid": bool(stored.paid),
    }
    if stored.rescue_session:
        result["rescue_session"] = stored.rescue_session
    return result


def sync_batch(
    payload,
    sink: OrderSink,
    max_batch: int = MAX_BATCH,
    *,
    time_budget_s: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> dict:
    """Stores each order of a version 1 payload through `sink`; one result per order, in order.

    With `time_budget_s`, the orders not reached within it are answered `deferred` (see the
    module's doc); `clock` is the monotonic clock it is measured on.
    Raises `PayloadError` only when the payload itself is malformed."""
    budget = TimeBudget(time_budget_s, clock)
    orders = check_payload(payload, max_batch)
    config_id = payload["config_id"]
    now = datetime.now(timezone.utc)
    rounding = getattr(sink, "rounding", None) or DEFAULT_ROUNDING
    rounded_total = getattr(sink, "rounded_total", None)
    checked = [_validate_one(raw, config_id, rounding, now, rounded_total) for raw in orders]
    valid = [order for order, _ in checked if order is not None]
    begin = getattr(sink, "begin", None)
    if begin is not None and valid:
        try:
            begin(valid, now)
        except Exception as exc:  # noqa: BLE001 - nothing stored: the browser keeps every order
            if _retryable(sink, exc):
                raise
            _logger.exception("a batch of %d offline orders could not be judged", len(orders))
            return {
                "v": 1,
                "results": [
                    error or _error(order["uuid"], INTERNAL_ERROR_REASON)
                    for order, error in checked
                ],
            }
    prepare, batch = getattr(sink, "prepare", None), getattr(sink, "batch", None)
    if prepare is None or batch is None:
        results = [error for _, error in checked]
        _store_all(checked, results, sink, budget.steps())
        _end(sink)
        return _answer(results, budget, len(orders))
    step = budget.steps()
    checked = [
        (order, error)
        if error
        else step.run(order, lambda o: _prepare_one(o, prepare, sink), pair=True)
        for order, error in checked
    ]
    results = [error for _, error in checked]
    if not any(order is not None for order, _ in checked):
        return _answer(results, budget, len(orders))  # nothing to write: no transaction at all
    step = budget.steps()
    try:
        with batch():
            _store_all(checked, results, sink, step)
            _end(sink)
    except Exception as exc:  # noqa: BLE001 - no commit: nothing of this batch is stored
        if _retryable(sink, exc):
            raise
        _logger.exception("a batch of %d offline orders could not be committed", len(orders))
        for index, (order, _) in enumerate(checked):
            # Nothing confirmed: the browser keeps these orders, and sending them again is safe.
            if order is not None and (results[index] is None or results[index]["ok"]):
                results[index] = _error(order["uuid"], INTERNAL_ERROR_REASON)
    return _answer(results, budget, len(orders))


class _GroupFailed(Exception):
    """The order at `position` in the group failed: the group is undone."""

    def __init__(self, position: int):
        super().__init__(position)
        self.position = position


def _groupable(order: dict, sink) -> bool:
    """An order paid by card is never grouped (its card work is never done in a try that is
    undone), nor one the sink keeps out of groups (`may_group`)."""
    if any(isinstance(p, dict) and p.get("card") for p in order.get("payments") or ()):
        return False
    may_group = getattr(sink, "may_group", None)
    if may_group is None:
        return True
    try:
        return bool(may_group(order))
    except Exception:  # noqa: BLE001 - a doubt keeps it alone, it does not fail the call
        _logger.exception(
            "offline order %s: could not tell whether it may be grouped", order["uuid"]
        )
        return False


def _store_all(checked: list, results: list, sink, step: _Steps) -> None:
    """Stores every valid order of `checked` ((order, None) pairs; (None, error) are skipped)
    into `results` at its index, in order: in groups of up to STORE_GROUP when the sink has
    `group()` (see _groupable), else one by one."""
    group = getattr(sink, "group", None)
    run: list = []  # (index, order) of groupable orders in a row

    def flush_run():
        _store_run(list(run), results, sink, step, group)
        run.clear()

    for index, (order, _) in enumerate(checked):
        if order is None:
            continue
        if group is not None and _groupable(order, sink):
            run.append((index, order))
            if len(run) >= STORE_GROUP:
                flush_run()
            continue
        flush_run()
        _store_alone(index, order, results, sink, step)
    flush_run()


def _store_alone(index: int, order: dict, results: list, sink, step: _Steps) -> None:
    results[index] = step.run(order, lambda o: _store_one(o, sink))


def _store_run(run: list, results: list, sink, step: _Steps, group) -> None:
    """Stores `run` ((index, order) pairs, groupable, in a row) in one group. When the order
    at position k fails, the group is undone; the orders before it (stored without error) are
    stored again as a group, the failed one alone, and the rest go on as a new group. When
    leaving the group fails, each of its orders is stored alone."""
    while run:
        if len(run) < 2:
            for index, order in run:
                _store_alone(index, order, results, sink, step)
            return
        failed_at = _store_group(run, results, sink, step, group)
        if failed_at is None:
            return
        if failed_at >= len(run):  # leaving the group failed: no order to blame
            for index, order in run:
                _store_alone(index, order, results, sink, step)
            return
        _store_run(run[:failed_at], results, sink, step, group)
        _store_alone(*run[failed_at], results, sink, step)
        run = run[failed_at + 1 :]


def _store_group(run: list, results: list, sink, step: _Steps, group) -> int | None:
    """Stores `run`'s orders inside one `group()`: None when it was kept (each order got its
    result; the ones past the budget deferred), else the position of the order that failed
    (len(run) when leaving the group failed) and the group was undone: nothing of it kept, no
    result given, and the budget's count of orders run is as before the group, so that a call
    whose first orders were undone still stores one (every call makes progress)."""
    got = []
    ran_before = step.ran
    prepare_group = getattr(sink, "prepare_group", None)
    # After the first order (the budget has measured one of this call), then after each run
    # of orders the sink prepared, while it prepares some.
    next_prepare = 1 if prepare_group is not None else None
    admitted_until = 0  # the orders before this position were admitted together
    try:
        with group():
            for position, (index, order) in enumerate(run):
                if position == next_prepare:
                    room = step.room(len(run) - position)
                    nexts = [o for _, o in run[position : position + room]]
                    count = min(int(prepare_group(nexts) or 0), room) if room > 1 else 0
                    admitted_until = position + count
                    next_prepare = admitted_until if count > 1 else None
                result = step.run(
                    order,
                    lambda o: _store_one(o, sink, grouped=True),
                    admitted=position < admitted_until,
                )
                if not result["ok"] and result["status"] != DEFERRED:
                    raise _GroupFailed(position)
                got.append((index, result))
    except _GroupFailed as failed:
        step.ran = ran_before
        return failed.position
    except Exception as exc:  # noqa: BLE001 - leaving the group failed (its flush): redone alone
        if _retryable(sink, exc):
            raise
        # No order of it is to blame yet (each is stored again alone, and logged if it fails);
        # said once here, or a write failing only at a group's flush would cost every group
        # twice unseen.
        _logger.warning(
            "a group of %d offline orders could not be kept; storing them one by one",
            len(run),
            exc_info=True,
        )
        step.ran = ran_before
        return len(run)
    for index, result in got:
        results[index] = result
    return None


def _end(sink) -> None:
    end = getattr(sink, "end", None)
    if end is not None:
        end()


def _answer(results: list, budget: TimeBudget, received: int) -> dict:
    deferred = sum(1 for r in results if r["status"] == DEFERRED)
    if deferred:
        _logger.info(
            "offline sync: time budget of %ss spent, %d of %d orders deferred",
            budget.seconds,
            deferred,
            received,
        )
    # The call's own time, from its start: the browser sizes its next batch from it, not from
    # the request's wall time, which also holds a wait for the register's turn (pos_order.py).
    store_ms = round((budget.clock() - budget.start) * 1000, 1)
    return {"v": 1, "results": results, "store_ms": max(store_ms, 0.0)}
