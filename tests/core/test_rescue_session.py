"""The rescue-session choice (core/rescue_session.py) and how a sync result carries it."""

import pytest

from pos_offline_sync.core import rescue_session as rs
from pos_offline_sync.core.order_schema import OrderValidationError
from pos_offline_sync.core.sync_service import StoredOrder, sync_batch
from tests.order_support import plain_order

S = rs.SessionInfo


def test_its_own_open_session_takes_the_order():
    own = S(3, 1, "opened")
    assert rs.choose_landing(own, 1, [own, S(4, 1, "opened", rescue=True)]) == rs.Landing(rs.OWN, 3)
    assert rs.choose_landing(S(3, 1, "opening_control"), 1, []).kind == rs.OWN


def test_a_closed_session_goes_to_the_newest_open_one_of_the_register():
    sessions = [S(5, 1, "opened"), S(9, 1, "opened"), S(11, 2, "opened"), S(12, 1, "opened", True)]
    for state in ("closed", "closing_control"):
        assert rs.choose_landing(S(3, 1, state), 1, sessions) == rs.Landing(rs.OPEN, 9)


def test_with_none_open_the_rescue_session_then_a_new_one():
    closed = S(3, 1, "closed")
    rescue = S(7, 1, "opened", rescue=True)
    landing = rs.choose_landing(closed, 1, [rescue, S(8, 1, "closed", True), S(9, 2, "opened")])
    assert landing == rs.Landing(rs.RESCUE, 7) and landing.rescued
    landing = rs.choose_landing(closed, 1, [S(8, 1, "closing_control", True), S(9, 2, "opened")])
    assert landing == rs.Landing(rs.NEW_RESCUE) and landing.rescued


def test_a_gone_session_lands_in_the_register_own():
    assert rs.choose_landing(None, 1, [S(4, 1, "opened")]) == rs.Landing(rs.OPEN, 4)
    assert rs.choose_landing(None, 1, []) == rs.Landing(rs.NEW_RESCUE)


def test_a_session_of_another_register_is_refused_open_or_closed():
    for state in ("opened", "closed"):
        foreign = S(20, 2, state)
        with pytest.raises(OrderValidationError, match="session 20 is not a session of this"):
            rs.choose_landing(foreign, 1, [foreign, S(4, 1, "opened")])


def test_rescue_name_follows_the_session_it_came_from():
    assert rs.rescue_name("Shop/00012") == "(RESCUE FOR Shop/00012)"
    assert rs.rescue_name(None) == "(RESCUE FOR ?)"
    assert rs.rescue_name("Shop/1", "(SECOURS POUR %(session)s)") == "(SECOURS POUR Shop/1)"


def test_the_sync_result_names_the_rescue_session_only_when_there_is_one():
    class Sink:
        def store(self, order):
            name = "Shop/00013 (RESCUE FOR Shop/00012)" if order["uuid"] == "a" else None
            return StoredOrder("created", order["reference"], True, rescue_session=name)

    payload = {
        "v": 1,
        "config_id": 1,
        "orders": [plain_order("a", reference="A"), plain_order("b", reference="B")],
    }
    first, second = sync_batch(payload, Sink())["results"]
    assert first["rescue_session"] == "Shop/00013 (RESCUE FOR Shop/00012)"
    assert "rescue_session" not in second
