"""Fixtures of the card e2e tests: localstripe on 127.0.0.1 (in memory) and a sandbox server
wired to it, its log captured so tests can scan it for card data. The browser fixtures
(`browser`, `context`, `page`) come from tests/e2e/conftest.py."""

from __future__ import annotations

import pytest

from sandbox.launcher import start_sandbox
from tests.card_support import SECRET_KEY, localstripe


@pytest.fixture(scope="session")
def stripe_url():
    with localstripe() as url:
        yield url


@pytest.fixture
def card_sandbox(tmp_path, stripe_url):
    server = start_sandbox(tmp_path / "cards.sqlite3", stripe_url=stripe_url, stripe_key=SECRET_KEY)
    yield server
    server.stop()
