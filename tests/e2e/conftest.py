"""Fixtures of the real-browser end-to-end tests: a sandbox server on a fresh SQLite file per
test and Debian's Chromium driven by Playwright (never a downloaded browser, never mocks)."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from e2e_pos import launch_options
from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 30
# Generous waits (not timings under test): `make test` may run on a busy 2-core machine.
expect.set_options(timeout=15_000)


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


@dataclass
class Sandbox:
    url: str
    db_path: Path
    process: subprocess.Popen


def _start_sandbox(db_path: Path) -> Sandbox:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(  # noqa: S603 - fixed argv, our own module
        [
            sys.executable,
            "-m",
            "sandbox.server",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--db",
            str(db_path),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    output: list[str] = []

    def pump():
        # Keep draining the pipe for the server's whole life so it never blocks on a full pipe.
        for line in process.stdout:
            output.append(line)
            lines.put(line)
        lines.put("")

    threading.Thread(target=pump, daemon=True).start()
    while True:
        try:
            line = lines.get(timeout=STARTUP_TIMEOUT_S)
        except queue.Empty:
            process.kill()
            raise RuntimeError(
                "sandbox did not print SANDBOX_URL in time:\n" + "".join(output)
            ) from None
        if not line:
            raise RuntimeError("sandbox exited before listening:\n" + "".join(output))
        match = re.search(r"SANDBOX_URL=(\S+)", line)
        if match:
            return Sandbox(match.group(1).rstrip("/"), db_path, process)


@pytest.fixture
def sandbox(tmp_path):
    server = _start_sandbox(tmp_path / "db.sqlite3")
    yield server
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)


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
