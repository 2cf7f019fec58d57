"""Starts the sandbox server as a subprocess on a free loopback port (bench and tests)."""

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


@dataclass
class Sandbox:
    url: str
    db_path: Path
    process: subprocess.Popen
    output: list[str] = field(default_factory=list)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def start_sandbox(db_path: Path, extra_args: list[str] | None = None) -> Sandbox:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
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
            return Sandbox(match.group(1).rstrip("/"), db_path, process, output)
