"""Fixtures of the real-browser end-to-end tests: a sandbox server on a fresh SQLite file per
test and Debian's Chromium driven by Playwright (never a downloaded browser, never mocks)."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_pos import launch_options
from playwright.sync_api import expect, sync_playwright

from sandbox.launcher import start_sandbox

# Generous waits (not timings under test): `make test` may run on a busy 2-core machine.
expect.set_options(timeout=15_000)


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def sandbox(tmp_path):
    server = start_sandbox(tmp_path / "db.sqlite3")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def playwright_session():
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright_session):
    browser = playwright_session.chromium.launch(**launch_options())
    yield browser
    browser.close()


@pytest.fixture
def context(browser):
    # A fresh context is a fresh profile: its own, empty IndexedDB.
    ctx = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 800})
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    yield page
    assert not errors, f"uncaught errors in the page: {errors}"
