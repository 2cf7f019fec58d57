"""Fixtures of the card e2e tests: localstripe on 127.0.0.1 (in memory) and a sandbox server
wired to it, its log captured so tests can scan it for card data. The browser fixtures
(`browser`, `context`, `page`) come from tests/e2e/conftest.py."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.card_support import ROOT, SECRET_KEY, localstripe

STARTUP_TIMEOUT_S = 30


@dataclass
class CardSandbox:
    url: str
    db_path: Path
    stripe_url: str
    process: subprocess.Popen
    output: list = field(default_factory=list)

    @property
    def log(self) -> str:
        return "".join(self.output)


@pytest.fixture(scope="session")
def stripe_url():
    with localstripe() as url:
        yield url


@pytest.fixture
def card_sandbox(tmp_path, stripe_url):
    env = dict(
        os.environ,
        PYTHONUNBUFFERED="1",
        SANDBOX_STRIPE_API_BASE=stripe_url,
        SANDBOX_STRIPE_SECRET_KEY=SECRET_KEY,
    )
    db_path = tmp_path / "cards.sqlite3"
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
    server = CardSandbox("", db_path, stripe_url, process)

    def pump():
        for line in process.stdout:
            server.output.append(line)
            lines.put(line)
        lines.put("")

    threading.Thread(target=pump, daemon=True).start()
    while not server.url:
        try:
            line = lines.get(timeout=STARTUP_TIMEOUT_S)
        except queue.Empty:
            process.kill()
            raise RuntimeError("sandbox did not start:\n" + server.log) from None
        if not line:
            raise RuntimeError("sandbox exited before listening:\n" + server.log)
        match = re.search(r"SANDBOX_URL=(\S+)", line)
        if match:
            server.url = match.group(1).rstrip("/")
    yield server
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
