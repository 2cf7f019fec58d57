"""Fixtures of the core tests that store through the sandbox's real SQLite sink."""

import pytest

from sandbox import db


@pytest.fixture
def db_path(tmp_path):
    """A fresh sandbox database."""
    path = tmp_path / "sync.sqlite3"
    db.init_db(path)
    return path


@pytest.fixture
def conn(db_path):
    connection = db.connect(db_path)
    yield connection
    connection.close()
