"""Starting the sandbox server as a subprocess on a free loopback port, and the Chromium options:
what the browser tests, the card tests and `make bench` share."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT_S = 30


CHROMIUM = "/usr/bin/chromium"
# Debian's Chromium, headless, never a downloaded browser. Without the background-networking
# flags it keeps trying hosts this machine cannot reach.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_options() -> dict:
    """Playwright launch options for Debian's Chromium."""
    if not os.path.exists(CHROMIUM):
        raise RuntimeError(f"{CHROMIUM} is missing: `make chromium` installs Debian's chromium")
    return {"executable_path": CHROMIUM, "headless": True, "args": CHROMIUM_ARGS}


@dataclass
class Sandbox:
    url: str
    db_path: Path
    process: subprocess.Popen
    output: list[str] = field(default_factory=list)
    stripe_url: str | None = None

    @property
    def log(self) -> str:
        """Everything the server printed so far (tests scan it for card data)."""
        return "".join(self.output)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def start_sandbox(
    db_path: Path,
    extra_args: list[str] | None = None,
    *,
    stripe_url: str | None = None,
    stripe_key: str | None = None,
) -> Sandbox:
    """Starts `python -m sandbox.server` on 127.0.0.1 and returns once it printed its URL.
    With `stripe_url`, card processing goes to that (local) Stripe with `stripe_key`."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if stripe_url:
        env.update(SANDBOX_STRIPE_API_BASE=stripe_url, SANDBOX_STRIPE_SECRET_KEY=stripe_key or "")
    argv = [sys.executable, "-m", "sandbox.server", "--host", "127.0.0.1", "--port", "0"]
    argv += ["--db", str(db_path), *(extra_args or [])]
    process = subprocess.Popen(  # noqa: S603 - fixed argv, our own module
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: queue.Queue[str] = queue.Queue()
    output: list[str] = []

    def pump():
        # Drain the pipe for the server's whole life so it never blocks on a full pipe.
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
            raise RuntimeError("sandbox did not start in time:\n" + "".join(output)) from None
        if not line:
            raise RuntimeError("sandbox exited before listening:\n" + "".join(output))
        match = re.search(r"SANDBOX_URL=(\S+)", line)
        if match:
            return Sandbox(match.group(1).rstrip("/"), db_path, process, output, stripe_url)
