"""An installed Odoo 19 run as a subprocess, for the real-Odoo benches (bench/odoo_*.py) and
browser tests (tests/odoo_browser): a fresh database, a server started and stopped for real (its
port then refuses every connection), and XML-RPC as the demo admin. Nothing here installs Odoo.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
import xmlrpc.client
from pathlib import Path

LOGIN, PASSWORD = "admin", "admin"  # Odoo's demo data
START_TIMEOUT_S = 180  # Odoo loads every module's code and assets on a shared 2-core machine


def odoo_environment() -> dict:
    """This process's environment without ODOO_* (but ODOO_RC): Odoo 19 reads ODOO_<OPTION>
    variables as its options, and the Makefile's ODOO_BIN, ODOO_DB or an empty
    ODOO_ADDONS_PATH (which emptied the addons path) are no options of ours."""
    return {k: v for k, v in os.environ.items() if not k.startswith("ODOO_") or k == "ODOO_RC"}


class OdooServer:
    def __init__(
        self,
        *,
        odoo_bin: str,
        odoo_python: str,
        db: str,
        port: int,
        config: str | None = None,
        addons_path: str | None = None,
        server_args: list[str] | tuple[str, ...] = (),
        gevent_port: int | None = None,
        numbered_logs: bool = False,
    ):
        self.base = [odoo_python, odoo_bin]
        self.config = ["-c", config] if config else []
        self.addons = [f"--addons-path={addons_path}"] if addons_path else []
        self.db = db
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.server_args = list(server_args)  # e.g. --workers 2 and its limits; none: threaded
        self.gevent_port = gevent_port
        self.numbered_logs = numbered_logs  # each start its own log: name.1.log, name.2.log
        self.process = None
        self.output = None
        self.starts = 0

    @classmethod
    def from_args(cls, args, server_args=()) -> OdooServer:
        """From a bench's --odoo-bin, --odoo-python, --odoo-config, --addons-path, --db and
        --port (http; the next port is gevent's)."""
        return cls(
            odoo_bin=args.odoo_bin,
            odoo_python=args.odoo_python,
            config=args.odoo_config,
            addons_path=args.addons_path,
            db=args.db,
            port=args.port,
            server_args=server_args,
            gevent_port=args.port + 1,
        )

    def run(self, *extra: str, log: Path) -> None:
        """One Odoo command on the database (an install), its output in `log`."""
        cmd = [*self.base, *self.config, *self.addons, "-d", self.db, *extra]
        with log.open("w") as out:
            done = subprocess.run(  # noqa: S603 - our argv
                cmd, env=odoo_environment(), stdout=out, stderr=subprocess.STDOUT, check=False
            )
        if done.returncode:
            raise RuntimeError(f"Odoo failed ({done.returncode}); see {log}")

    def fresh_db(self, log: Path, modules: str = "pos_offline_sync") -> None:
        """The database dropped (a missing one is fine) and made again with `modules`."""
        subprocess.run(  # noqa: S603 - our argv
            [*self.base, "db", *self.config, "drop", self.db],
            env=odoo_environment(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        print(f"installing {modules} in a fresh {self.db} ...", flush=True)
        self.run("-i", modules, "--with-demo", "--stop-after-init", "--no-http", log=log)

    def start(self, logfile: Path) -> Path:
        """Starts the server and waits until it answers; returns the log it writes."""
        self.starts += 1
        if self.numbered_logs:
            logfile = logfile.with_suffix(f".{self.starts}.log")
        cmd = [
            *self.base,
            *self.config,
            *self.addons,
            "-d",
            self.db,
            f"--db-filter=^{re.escape(self.db)}$",
            *self.server_args,
            f"--http-port={self.port}",
            *([f"--gevent-port={self.gevent_port}"] if self.gevent_port else []),
            f"--logfile={logfile}",
            "--log-level=info",
        ]
        # What Odoo prints outside its log (the gevent process's start) goes beside the log.
        self.output = open(logfile.with_suffix(".stderr"), "a")  # noqa: SIM115 - closed in stop
        # A session of its own: stopping it stops this Odoo and its workers, nothing else.
        self.process = subprocess.Popen(  # noqa: S603 - our argv
            cmd,
            env=odoo_environment(),
            start_new_session=True,
            stdout=self.output,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"Odoo exited at start; see {logfile}")
            if not self.refuses():
                return logfile
            time.sleep(1)
        self.stop()
        raise RuntimeError(f"Odoo did not answer on {self.url} in {START_TIMEOUT_S} s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        self.process = None
        if self.output:
            self.output.close()
            self.output = None

    def refuses(self) -> bool:
        """True when nothing answers on the port."""
        try:
            with urllib.request.urlopen(f"{self.url}/web/login", timeout=5):  # noqa: S310
                return False
        except urllib.error.HTTPError:
            return False  # it answered, with an error
        except OSError:
            return True


class Rpc:
    """XML-RPC on the database as the demo admin: rpc(model, method, *args, **kwargs)."""

    def __init__(self, url: str, db: str):
        self.db = db
        self.uid = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common").authenticate(
            db, LOGIN, PASSWORD, {}
        )
        if not self.uid:
            raise RuntimeError(f"cannot log into {db} as {LOGIN}")
        self.proxy = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/object", allow_none=True)

    def __call__(self, model, method, *args, **kwargs):
        return self.proxy.execute_kw(self.db, self.uid, PASSWORD, model, method, list(args), kwargs)
