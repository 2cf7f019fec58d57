"""Starting the sandbox server as a subprocess on a free loopback port, and the Chromium options:
what the browser tests, the card tests and `make bench` share."""

from __future__ import annotations

import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from pos_offline_sync.core.card_keys import write_kek_file

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
    kek_file: Path | None = None  # the card KEK the server was given (outside db_path)
    owned_kek_dir: Path | None = None  # a temp dir start_sandbox made for it, removed on stop

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
        _remove(self.owned_kek_dir)


def _remove(folder: Path | None) -> None:
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def new_kek_file() -> tuple[Path, Path]:
    """A fresh card KEK in its own temp dir (apart from any database): (file, dir)."""
    folder = Path(tempfile.mkdtemp(prefix="pos-offline-kek-"))
    path = folder / "card.kek"
    write_kek_file(path)
    return path, folder


def start_sandbox(
    db_path: Path,
    extra_args: list[str] | None = None,
    *,
    stripe_url: str | None = None,
    stripe_key: str | None = None,
    kek_file: Path | bool = True,
    port: int = 0,
) -> Sandbox:
    """Starts `python -m sandbox.server` on 127.0.0.1 and returns once it printed its URL.
    With `stripe_url`, card processing goes to that (local) Stripe with `stripe_key`.
    `kek_file`: the card KEK file to use; True (default) makes a fresh one in its own temp dir,
    never beside the database file; False starts without one (cards refused). `port`: 0 (a
    free one) or the port of a sandbox stopped before (the same origin, for the browser)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("SANDBOX_CARD_KEK_FILE", None)
    if stripe_url:
        env.update(SANDBOX_STRIPE_API_BASE=stripe_url, SANDBOX_STRIPE_SECRET_KEY=stripe_key or "")
    owned = None
    if kek_file is True:
        kek_file, owned = new_kek_file()
    argv = [sys.executable, "-m", "sandbox.server", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--db", str(db_path)]
    if kek_file:
        argv += ["--card-kek-file", str(kek_file)]
    argv += extra_args or []
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
            _remove(owned)
            raise RuntimeError("sandbox did not start in time:\n" + "".join(output)) from None
        if not line:
            _remove(owned)
            raise RuntimeError("sandbox exited before listening:\n" + "".join(output))
        match = re.search(r"SANDBOX_URL=(\S+)", line)
        if match:
            return Sandbox(
                match.group(1).rstrip("/"),
                db_path,
                process,
                output,
                stripe_url,
                kek_file=Path(kek_file) if kek_file else None,
                owned_kek_dir=owned,
            )
