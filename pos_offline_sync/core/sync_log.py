"""The sync log (issue 11): one entry per sync a register runs, whatever number of batches it
takes: the device, the cashier, when, how many orders were sent, stored (new or already
there) and refused, and the refusal reasons.

The register names its sync in each batch's payload with an optional `sync` object
(CONTRACTS §2): `{"id": "<random>", "device_id": "<device id>", "cashier": "<name>"}`. It is
bookkeeping: a malformed one is ignored (the batch is logged without it), never a reason to
refuse orders. Batches of one sync add up in one entry; a batch sent again (a lost answer)
counts again, as it was sent again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .sync_service import DEFERRED

ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MAX_CASHIER_CHARS = 128
MAX_REASONS = 50  # per entry: the first ones, then a count of the others
MAX_REASON_CHARS = 300


@dataclass(frozen=True)
class SyncMeta:
    sync_id: str | None = None
    device_id: str | None = None
    cashier: str | None = None


@dataclass
class SyncCounts:
    """What one batch (or, added up, one sync) did."""

    sent: int = 0
    created: int = 0
    existing: int = 0
    refused: int = 0
    reasons: list[str] = field(default_factory=list)
    more_reasons: int = 0  # refusals past MAX_REASONS, counted only

    def add(self, other: SyncCounts) -> SyncCounts:
        room = max(0, MAX_REASONS - len(self.reasons))
        return SyncCounts(
            sent=self.sent + other.sent,
            created=self.created + other.created,
            existing=self.existing + other.existing,
            refused=self.refused + other.refused,
            reasons=self.reasons + other.reasons[:room],
            more_reasons=self.more_reasons + other.more_reasons + len(other.reasons[room:]),
        )

    def reasons_text(self) -> str:
        lines = list(self.reasons)
        if self.more_reasons:
            lines.append(f"... and {self.more_reasons} more")
        return "\n".join(lines)


def _clean_id(value) -> str | None:
    return value if isinstance(value, str) and ID_RE.match(value) else None


def read_meta(payload) -> SyncMeta:
    """The payload's `sync` object, each part dropped when malformed."""
    meta = payload.get("sync") if isinstance(payload, dict) else None
    if not isinstance(meta, dict):
        return SyncMeta()
    cashier = meta.get("cashier")
    if isinstance(cashier, str):
        cashier = _one_line(cashier)[:MAX_CASHIER_CHARS] or None
    else:
        cashier = None
    return SyncMeta(_clean_id(meta.get("id")), _clean_id(meta.get("device_id")), cashier)


# Control characters (NUL above all: PostgreSQL refuses it in text) come from the payload
# itself, e.g. a reference a refusal quotes: shown as "?" so the log row is still written.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _one_line(text) -> str:
    return " ".join(_CONTROL.sub("?", " ".join(str(text).split())).split())


def _label(order) -> str:
    if isinstance(order, dict):
        for key in ("reference", "uuid"):
            if isinstance(order.get(key), str) and order[key]:
                return _one_line(order[key][:80])
    return "?"


def count_batch(payload, answer) -> SyncCounts:
    """The counts of one `offline_sync_orders` call from its payload and its answer."""
    orders = payload.get("orders") if isinstance(payload, dict) else None
    orders = orders if isinstance(orders, list) else []
    results = answer.get("results") if isinstance(answer, dict) else None
    results = results if isinstance(results, list) else []
    counts = SyncCounts(sent=len(orders))
    reasons = []
    for order, result in zip(orders, results, strict=False):
        if result.get("status") == DEFERRED:
            # Not processed yet (the server's time budget): it is sent again, and counted then.
            counts.sent -= 1
            continue
        if result.get("ok"):
            if result.get("status") == "exists":
                counts.existing += 1
            else:
                counts.created += 1
            continue
        counts.refused += 1
        reason = _one_line(result.get("reason") or "refused")
        reasons.append(f"{_label(order)}: {reason}"[:MAX_REASON_CHARS])
    counts.reasons = reasons[:MAX_REASONS]
    counts.more_reasons = len(reasons[MAX_REASONS:])
    return counts
