"""An installed Odoo 19 started as a subprocess on a database where pos_offline_sync is
installed, and stopped for real (the register's origin then refuses every connection)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.request
import xmlrpc.client
from pathlib import Path

LOGIN, PASSWORD = "admin", "admin"  # Odoo's demo data


class OdooServer:
    def __init__(self, *, odoo_bin, odoo_python, db, port, config=None, addons_path=None):
        self.cmd = [odoo_python, odoo_bin, *(["-c", config] if config else [])]
        if addons_path:
            self.cmd.append(f"--addons-path={addons_path}")
        self.db = db
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.process = None
        self.starts = 0

    def start(self, logfile: Path) -> None:
        self.starts += 1
        cmd = [
            *self.cmd,
            "-d",
            self.db,
            f"--db-filter=^{re.escape(self.db)}$",
            f"--http-port={self.port}",
            f"--logfile={logfile.with_suffix(f'.{self.starts}.log')}",
            "--log-level=info",
        ]
        # Odoo 19 reads ODOO_<OPTION> variables as options: the ODOO_* this test is given
        # (ODOO_ADDONS_PATH empty above all, which emptied the config's addons path) must not
        # reach it; its options are the argv above.
        env = {k: v for k, v in os.environ.items() if not k.startswith("ODOO_") or k == "ODOO_RC"}
        # A session of its own: stopping it stops this Odoo and nothing else.
        self.process = subprocess.Popen(  # noqa: S603 - our argv
            cmd,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Odoo exited at start; see {logfile}")
            try:
                with urllib.request.urlopen(f"{self.url}/web/login", timeout=5):  # noqa: S310
                    return
            except OSError:
                time.sleep(1)
        raise RuntimeError(f"Odoo did not answer on {self.url} in 180 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        self.process = None

    def refuses(self) -> bool:
        """True when nothing answers on the port any more."""
        try:
            urllib.request.urlopen(f"{self.url}/web/login", timeout=5)  # noqa: S310
        except OSError:
            return True
        return False


class Rpc:
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
