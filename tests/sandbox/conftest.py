"""Fixtures of the sandbox host's tests: a fresh SQLite file and a werkzeug test client on the
app (no server process). A test module may still define its own, which then wins."""

from __future__ import annotations

import pytest
from werkzeug.test import Client

from sandbox.app import create_app


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "sandbox.sqlite3"


@pytest.fixture
def client(db_path):
    return Client(create_app(db_path))
