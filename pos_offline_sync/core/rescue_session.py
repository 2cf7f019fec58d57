# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Where an order lands when its own session cannot take it (issue 9).

An offline order may reach the server after its session was closed (the night's closing while a
device still held it), or name a session that is gone. Odoo 19 then
uses another open session of the register, or refuses the order ("No open session available").
Refusing strands a sale that happened: as Odoo 16 and OCA's pos_offline did, such an order
lands in a *rescue* session of its register instead, one at a time per register, reused while
open and closed like any session (its closing posts the entries).

An order naming a session that exists but belongs to another register is refused (it was
never that register's sale: a tampered or crossed payload), as every record an order names
must belong to its register.

The hosts store and lock; the choice is made here, once:
- its own session, when it is of this register and open;
- else the open session the host would choose (Odoo: its own `_get_valid_session` choice);
- else the register's open rescue session;
- else a new rescue session (the host creates it under a lock on the register, so two
  batches at once make one).
"""

from dataclasses import dataclass

from .order_schema import OrderValidationError

# States in which a session takes orders (Odoo's "not closed and not closing control").
OPEN_STATES = ("opening_control", "opened")

OWN = "own"  # the order's own session
OPEN = "open"  # another open (not rescue) session of the register
RESCUE = "rescue"  # the register's open rescue session
NEW_RESCUE = "new_rescue"  # none of those: the host makes the rescue session


@dataclass(frozen=True)
class SessionInfo:
    """What the choice needs to know of one session."""

    id: int
    config_id: int
    state: str
    rescue: bool = False

    @property
    def takes_orders(self) -> bool:
        return self.state in OPEN_STATES


@dataclass(frozen=True)
class Landing:
    """`kind` is one of OWN, OPEN, RESCUE, NEW_RESCUE; `session_id` is None for NEW_RESCUE."""

    kind: str
    session_id: int | None = None

    @property
    def rescued(self) -> bool:
        return self.kind in (RESCUE, NEW_RESCUE)


def choose_landing(own, config_id: int, sessions) -> Landing:
    """The session an order of register `config_id` lands in.

    `own`: the order's session (a SessionInfo), or None when it has none or it is gone;
    `sessions`: the register's sessions that may take orders (others are ignored), any order.
    Among several open sessions the newest (highest id) is chosen, as Odoo does.
    Raises OrderValidationError when `own` is a session of another register."""
    if own is not None and own.config_id != config_id:
        raise OrderValidationError(
            f"odoo.session_id: session {own.id} is not a session of this register"
        )
    if own is not None and own.config_id == config_id and own.takes_orders:
        return Landing(OWN, own.id)
    mine = [s for s in sessions if s.config_id == config_id and s.takes_orders]
    normal = [s for s in mine if not s.rescue]
    if normal:
        return Landing(OPEN, max(s.id for s in normal))
    rescue = [s for s in mine if s.rescue]
    if rescue:
        return Landing(RESCUE, max(s.id for s in rescue))
    return Landing(NEW_RESCUE)


def rescue_name(session_name: str | None, template: str = "(RESCUE FOR %(session)s)") -> str:
    """The rescue session's name, after the session its first order came from (Odoo 16's
    "(RESCUE FOR ...)"); `template` is the host's translation of it."""
    return template % {"session": session_name or "?"}
