# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""One create for a group's new orders (README "Performance", one create a group).

Odoo's ``_process_order`` creates an order, its lines and its payments with one
``pos.order.create`` per order: in a landing, about half of an order's server time, most of it
the ORM's cost per call rather than per record. In a sync's group (offline_order_sink.py) the
new orders are known before the first is stored, so the first order's create makes them all,
with the values the others will be created with, and each later order's own create, on its
turn in Odoo's ``_process_order``, gets the record made for it, once its values are found to be
the very ones it was made with. Everything else about each order (its payments, its paid
state, what Odoo and other modules do around the create) runs on its own turn, as before.

What keeps it Odoo's result:
- The others' values are the first order's as Odoo's path changed them, applied to each of
  the others as sent (the same keys added, set or dropped); an order whose create is asked
  with other values stops it: the group is undone and stored again without it (CreateAheadMiss).
- It runs only while pos.order, its lines and payments and what their creation calls are
  extended by no module but Odoo's own that were read for it (CREATE_AHEAD_MODULES): another
  module's override could do per order what this does for the group at once.
- A record made ahead and still unclaimed when the group ends (its order deferred by the time
  budget) undoes the group, which is stored again order by order: nothing is kept unanswered.
- A create of the group that fails makes nothing: each order is then created on its own turn.
"""

import copy
import logging

_logger = logging.getLogger(__name__)

# The modules whose extensions of the CREATE_AHEAD_MODELS were read and do nothing per order
# that one create for several would change: Odoo's generic mixins, the POS, its online
# payments (auto-installed), product (the attributes' custom values) and this addon. Any other
# module extending them turns the create ahead off (pos.order._offline_may_create_ahead).
CREATE_AHEAD_MODULES = frozenset(
    {
        "base",
        "base_import",
        "bus",
        "html_editor",
        "mail",
        "phone_validation",
        "point_of_sale",
        "portal",
        "pos_offline_sync",
        "pos_online_payment",
        "product",
        "sms",
        "snailmail",
        "web",
    }
)
# The models the create of an order creates, or whose methods it calls per record.
CREATE_AHEAD_MODELS = (
    "pos.order",
    "pos.order.line",
    "pos.payment",
    "pos.pack.operation.lot",
    "product.attribute.custom.value",
)
# What base_automation (automated actions) patches onto a model's registry class itself, where
# no class of its method resolution order shows it.
_PATCHED_METHODS = ("create", "write", "_create", "_compute_field_value", "unlink")


class CreateAheadMiss(Exception):  # noqa: N818 - a signal, as queue_job's RetryableJobError
    """An order's create was asked with other values than the ones its record was made with
    ahead: the group is undone (the sink stores it again without the create ahead)."""


def extending_modules(env):
    """The modules whose classes make up the models the create ahead touches, and what else
    changes them unseen: methods patched on their registry class (automated actions, named
    "<patched>"), fields made in the database (Studio, custom fields: "<custom fields>")."""
    modules = set()
    for model in CREATE_AHEAD_MODELS:
        if model not in env:
            continue
        cls = type(env[model])
        for klass in cls.__mro__:
            module = getattr(klass, "_module", None)
            if module:
                modules.add(module)
        if any(name in vars(cls) for name in _PATCHED_METHODS):
            modules.add("<patched>")
        if any(getattr(field, "manual", False) for field in env[model]._fields.values()):
            modules.add("<custom fields>")
    return modules


def values_ahead(sent_first, created_first, others):
    """The values each of `others` (orders as sent, in order) will be created with, from how
    Odoo's path changed the first order's (`sent_first` as sent, `created_first` as its create
    was asked): the keys it added or set take its values, the keys it dropped are dropped.
    Only for a head of `others` sent with the very keys the first was (what Odoo does with a
    key the first did not have is not seen), and none when Odoo changed one of the first's
    lists (its lines or payments: an order's own)."""
    dropped = [key for key in sent_first if key not in created_first]
    changed = {
        key: value
        for key, value in created_first.items()
        if key not in sent_first or sent_first[key] != value
    }
    if any(isinstance(value, list | tuple) for value in changed.values()):
        return []
    ahead = []
    for sent in others:
        if sent.keys() != sent_first.keys():
            break
        vals = {key: value for key, value in sent.items() if key not in dropped}
        vals.update(copy.deepcopy(changed))
        ahead.append(vals)
    return ahead


class CreateAhead:
    """The new orders of one group (uuid -> the order's values as handed to sync_from_ui,
    copied before Odoo changes them), made by the first one's create."""

    __slots__ = ("first_uuid", "sent", "made", "started", "missed", "failed", "retryable")

    def __init__(self, sent, retryable):
        self.retryable = retryable  # what Odoo replays the request for: never swallowed here
        self.sent = {uuid: copy.deepcopy(vals) for uuid, vals in sent.items()}
        self.first_uuid = next(iter(self.sent), None)
        self.made = {}  # uuid -> (record made ahead, the values it was made with)
        self.started = False
        self.missed = False  # an order's create asked for other values than made ahead
        self.failed = False  # the group's one create failed

    def holds(self, uuid):
        """True while a record made ahead for `uuid` waits for its order's create: until then
        that order does not exist for Odoo (pos.order._get_open_order)."""
        return uuid in self.made

    def unclaimed(self):
        return list(self.made)

    def make_or_claim(self, make, vals_list, savepoint):
        """The records for `vals_list` (one order's create), or None when Odoo's create is to
        make them. `make(vals_list)` is Odoo's create; `savepoint()` a savepoint context."""
        if len(vals_list) != 1 or not isinstance(vals_list[0], dict):
            return None
        vals = vals_list[0]
        uuid = vals.get("uuid")
        if uuid in self.made:
            record, expected = self.made.pop(uuid)
            if vals != expected:
                differing = sorted(
                    key for key in set(vals) | set(expected) if vals.get(key) != expected.get(key)
                )
                self.missed = True
                raise CreateAheadMiss(f"order {uuid}: created with other values {differing}")
            return record
        if self.started or uuid != self.first_uuid or len(self.sent) < 2:
            return None
        self.started = True
        others = list(self.sent.items())[1:]
        ahead = values_ahead(self.sent[uuid], vals, [sent for _, sent in others])
        if not ahead:
            return None
        try:
            # Its own savepoint (which flushes, and runs the pre-commit hooks of the orders
            # before, as it opens): a create of the group that fails leaves the transaction as
            # it was. Copies: Odoo's create writes the numbers it draws into the values it is
            # given, and a failed try must leave the first order's to draw them again.
            with savepoint():
                records = make([copy.deepcopy(vals), *(copy.deepcopy(v) for v in ahead)])
        except self.retryable:
            raise
        except Exception as exc:  # noqa: BLE001 - each order is then created on its turn
            # The order at fault (if any) fails on its own turn, where it is reported.
            self.failed = True
            _logger.info(
                "one create for %d offline orders failed (%s); each is created on its turn",
                len(ahead) + 1,
                type(exc).__name__,
            )
            return None
        for (other_uuid, _), record, expected in zip(others, records[1:], ahead, strict=False):
            self.made[other_uuid] = (record, expected)
        return records[:1]
