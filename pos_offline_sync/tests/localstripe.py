# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""localstripe (PyPI) on 127.0.0.1 at a free port for the card tests.

localstripe is not an Odoo dependency. It is looked for in the interpreter named by
$LOCALSTRIPE_PYTHON, then in Odoo's own interpreter, then in the repository's .venv next to the
addon; without it the tests that charge cards skip, saying so.
"""

import importlib.util
import json
import os
import subprocess
import sys
import unittest
import urllib.request
from pathlib import Path

SECRET_KEY = "sk_test_pos_offline_sync"
VISA_OK = "4242424242424242"
VISA_DECLINED = "4000000000000341"  # localstripe declines it at confirmation

# Upstream binds every interface; bind loopback only and print the port we got. Listening
# before the port is printed: a request sent before aiohttp serves waits instead of being
# refused.
_LAUNCH = (
    "import socket\n"
    "from aiohttp import web\n"
    "from localstripe.server import app\n"
    "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(128)\n"
    "print('PORT=%d' % s.getsockname()[1], flush=True)\n"
    "web.run_app(app, sock=s, print=None)\n"
)


def _has_localstripe(python):
    """True when `python` can import localstripe and the aiohttp it runs on."""
    if python == sys.executable:
        return all(importlib.util.find_spec(m) for m in ("localstripe", "aiohttp"))
    check = subprocess.run(  # noqa: S603 - fixed argv
        [python, "-c", "import localstripe, aiohttp"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    return check.returncode == 0


def localstripe_python():
    """The interpreter to run localstripe with; skips the calling test when there is none."""
    named = os.environ.get("LOCALSTRIPE_PYTHON")
    if named:
        # Named on purpose: a wrong one is an error to fix, not a reason to skip.
        if not (Path(named).exists() and _has_localstripe(named)):
            raise RuntimeError(f"LOCALSTRIPE_PYTHON={named} cannot import localstripe")
        return named
    venv = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "python"
    for candidate in (sys.executable, str(venv)):
        if Path(candidate).exists() and _has_localstripe(candidate):
            return candidate
    raise unittest.SkipTest(
        "localstripe is not installed (pip install localstripe in Odoo's environment, "
        "or set LOCALSTRIPE_PYTHON to an interpreter that has it)"
    )


class LocalStripe:
    def __init__(self):
        self.proc = subprocess.Popen(  # noqa: S603 - fixed argv
            [localstripe_python(), "-c", _LAUNCH],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = self.proc.stdout.readline()
        if not line.startswith("PORT="):
            self.stop()
            raise RuntimeError("localstripe did not start")
        self.url = f"http://127.0.0.1:{int(line.split('=')[1])}"

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def succeeded_intents(self, order_uuid):
        """PaymentIntents of an order that succeeded, read from localstripe itself."""
        found, after = [], None
        while True:
            url = f"{self.url}/v1/payment_intents?limit=100" + (
                f"&starting_after={after}" if after else ""
            )
            request = urllib.request.Request(url, headers={"Authorization": f"Bearer {SECRET_KEY}"})
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                page = json.load(response)
            found += [
                pi
                for pi in page["data"]
                if (pi.get("metadata") or {}).get("pos_order_uuid") == order_uuid
                and pi["status"] == "succeeded"
            ]
            if not page["has_more"] or not page["data"]:
                return found
            after = page["data"][-1]["id"]
