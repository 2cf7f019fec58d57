"""`python -m sandbox.server` and `python -m sandbox.demo` as real processes: loopback only, the
one SANDBOX_URL line, clean stop on SIGTERM / Ctrl-C (localstripe included for the demo)."""

import json
import os
import queue
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests import csv_support

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 30


class Proc:
    """A child process whose stdout is drained by a thread (never blocks on a full pipe)."""

    def __init__(self, *args):
        self.process = subprocess.Popen(  # noqa: S603 - fixed argv, our own modules
            [sys.executable, "-m", *args],
            cwd=ROOT,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.process.stdout:
            self.output.append(line)
            self.lines.put(line)
        self.lines.put("")

    def wait_for(self, pattern: str) -> re.Match:
        while True:
            try:
                line = self.lines.get(timeout=STARTUP_TIMEOUT_S)
            except queue.Empty:
                raise AssertionError("no match in time:\n" + "".join(self.output)) from None
            if not line:
                raise AssertionError("exited early:\n" + "".join(self.output))
            match = re.search(pattern, line)
            if match:
                return match

    def stop(self, sig=signal.SIGTERM, timeout=15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def _listening_addresses(port: int) -> set[str]:
    """The local addresses listening on `port`, read from the kernel (/proc/net/tcp{,6})."""
    found = set()
    for name, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            rows = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            address, port_hex = fields[1].split(":")
            if fields[3] == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                if width == 8:
                    found.add(socket.inet_ntop(socket.AF_INET, bytes.fromhex(address)[::-1]))
                else:
                    raw = b"".join(bytes.fromhex(address[i : i + 8])[::-1] for i in (0, 8, 16, 24))
                    found.add(socket.inet_ntop(socket.AF_INET6, raw))
    return found


def _get_json(url):
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
        return json.load(response)


def _port_closed(port):
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_server_listens_on_loopback_only_and_stops_cleanly(tmp_path):
    db = tmp_path / "server.sqlite3"
    proc = Proc("sandbox.server", "--host", "127.0.0.1", "--port", "0", "--db", str(db))
    try:
        match = proc.wait_for(r"^SANDBOX_URL=http://127\.0\.0\.1:(\d+)$")
        port = int(match.group(1))
        assert port > 0
        assert _listening_addresses(port) == {"127.0.0.1"}
        assert _get_json(f"http://127.0.0.1:{port}/ping") == {"ok": True}
        data = _get_json(f"http://127.0.0.1:{port}/api/pos_data")
        assert data["config"]["id"] == 1 and db.exists()
        assert proc.stop(signal.SIGTERM) == 0
    finally:
        proc.kill()
    assert sum("SANDBOX_URL=" in line for line in proc.output) == 1
    assert "Traceback" not in "".join(proc.output)
    assert _port_closed(port)


def test_server_stops_on_ctrl_c(tmp_path):
    proc = Proc("sandbox.server", "--port", "0", "--db", str(tmp_path / "s.sqlite3"))
    try:
        port = int(proc.wait_for(r"SANDBOX_URL=http://127\.0\.0\.1:(\d+)").group(1))
        assert proc.stop(signal.SIGINT) == 0
    finally:
        proc.kill()
    assert "Traceback" not in "".join(proc.output)
    assert _port_closed(port)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com"])
def test_server_refuses_other_hosts(tmp_path, host):
    result = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "sandbox.server", "--host", host, "--port", "0"]
        + ["--db", str(tmp_path / "x.sqlite3")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "loopback" in result.stderr
    assert "SANDBOX_URL" not in result.stdout
    assert not (tmp_path / "x.sqlite3").exists()


def test_demo_runs_localstripe_and_sandbox_on_loopback_and_stops_both(tmp_path):
    db = tmp_path / "demo.sqlite3"
    proc = Proc("sandbox.demo", "--db", str(db))
    try:
        port = int(proc.wait_for(r"^SANDBOX_URL=http://127\.0\.0\.1:(\d+)$").group(1))
        stripe_port = int(proc.wait_for(r"localstripe:\s+http://127\.0\.0\.1:(\d+)").group(1))
        proc.wait_for(r"Ctrl-C")
        text = "".join(proc.output)
        for page in ("/pos", "/settings", "/backoffice"):
            assert f"http://127.0.0.1:{port}{page}" in text
        assert _listening_addresses(port) == {"127.0.0.1"}
        assert _listening_addresses(stripe_port) == {"127.0.0.1"}
        assert _get_json(f"http://127.0.0.1:{port}/ping") == {"ok": True}
        # localstripe answers (any sk_test_ key is accepted by the test double)
        request = urllib.request.Request(
            f"http://127.0.0.1:{stripe_port}/v1/payment_intents?limit=1",
            headers={"Authorization": "Bearer sk_test_x"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            assert json.load(response)["object"] == "list"
        assert proc.stop(signal.SIGINT) == 0
    finally:
        proc.kill()
    assert "Demo stopped." in "".join(proc.output)
    assert _port_closed(port) and _port_closed(stripe_port)


def _post_csv(port: int, data: bytes, timeout=120) -> str:
    boundary = "----csv-import-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="day.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/backoffice/import",
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback
        return response.read().decode()


def _post_unanswered(port: int, data: bytes) -> None:
    """The upload whose server is killed before it answers."""
    try:
        _post_csv(port, data)
    except OSError:  # the connection dies with the server
        pass


def _counts(db) -> tuple[int, int, int, int]:
    """Orders, distinct uuids, order lines, payments: what a killed import left committed."""
    conn = sqlite3.connect(db, timeout=10)
    try:
        return tuple(
            conn.execute(sql).fetchone()[0]
            for sql in (
                "SELECT count(*) FROM orders",
                "SELECT count(DISTINCT uuid) FROM orders",
                "SELECT count(*) FROM order_lines",
                "SELECT count(*) FROM order_payments",
            )
        )
    finally:
        conn.close()


def test_csv_import_killed_mid_way_then_run_again_stores_each_order_once(tmp_path):
    """SIGKILL while the import commits its chunks: what is committed is whole orders, and the
    same file uploaded to a restarted server completes the rest, every order exactly once."""
    db = tmp_path / "killed.sqlite3"
    n = 10_000
    data = csv_support.export(n)
    first = Proc("sandbox.server", "--port", "0", "--db", str(db), "--quiet")
    try:
        port = int(first.wait_for(r"SANDBOX_URL=http://127\.0\.0\.1:(\d+)").group(1))
        threading.Thread(target=_post_unanswered, args=(port, data), daemon=True).start()
        deadline = time.monotonic() + 60
        while db.exists() is False or _counts(db)[0] < 300:
            assert time.monotonic() < deadline, "the import never got going"
            time.sleep(0.002)
        first.process.kill()  # SIGKILL: no cleanup, a chunk maybe half written
        first.process.wait(timeout=10)
    finally:
        first.kill()
    stored, distinct, lines, payments = _counts(db)
    assert 300 <= stored < n, stored  # killed mid-way
    assert stored == distinct == lines == payments  # whole orders only
    assert stored % 100 == 0  # whole chunks only

    second = Proc("sandbox.server", "--port", "0", "--db", str(db), "--quiet")
    try:
        port = int(second.wait_for(r"SANDBOX_URL=http://127\.0\.0\.1:(\d+)").group(1))
        html = _post_csv(port, data)
    finally:
        second.stop()
    assert f"{n} of {n} order(s) imported ({n - stored} new, {stored} already" in html
    assert _counts(db) == (n, n, n, n)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_demo_on_fixed_ports_as_make_demo_port_gives_them(tmp_path):
    port, stripe_port = _free_port(), _free_port()
    proc = Proc(
        "sandbox.demo",
        *("--db", str(tmp_path / "demo.sqlite3")),
        *("--port", str(port), "--stripe-port", str(stripe_port)),
    )
    try:
        proc.wait_for(rf"^SANDBOX_URL=http://127\.0\.0\.1:{port}$")
        proc.wait_for(rf"localstripe:\s+http://127\.0\.0\.1:{stripe_port} ")
        assert _listening_addresses(port) == {"127.0.0.1"}
        assert _listening_addresses(stripe_port) == {"127.0.0.1"}
        assert _get_json(f"http://127.0.0.1:{port}/ping") == {"ok": True}
        assert proc.stop(signal.SIGINT) == 0
    finally:
        proc.kill()
    assert _port_closed(port) and _port_closed(stripe_port)
    # `make demo PORT=... STRIPE_PORT=...` passes them on (dry run: nothing is started).
    dry = subprocess.run(  # noqa: S603 - fixed argv
        ["make", "-n", "demo", "PORT=8100", "STRIPE_PORT=8101"],  # noqa: S607 - make on PATH
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "-m sandbox.demo --port 8100 --stripe-port 8101" in dry.stdout, dry.stdout


def test_demo_on_a_port_in_use_says_so_and_leaves_nothing_running(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        stripe_port = _free_port()
        result = subprocess.run(  # noqa: S603 - fixed argv
            [sys.executable, "-m", "sandbox.demo", "--db", str(tmp_path / "d.sqlite3")]
            + ["--port", str(port), "--stripe-port", str(stripe_port)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"cannot listen on port {port}" in result.stderr
    assert "SANDBOX_URL" not in result.stdout
    assert _port_closed(stripe_port)
    for bad in (["--port", "70000"], ["--port", "8100", "--stripe-port", "8100"]):
        refused = subprocess.run(  # noqa: S603 - fixed argv
            [sys.executable, "-m", "sandbox.demo", "--db", str(tmp_path / "d.sqlite3"), *bad],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert refused.returncode == 2 and "port" in refused.stderr, refused.stderr
