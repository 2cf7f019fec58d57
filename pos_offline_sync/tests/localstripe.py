# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""localstripe (PyPI) on 127.0.0.1 at a free port for the card tests.

localstripe is not an Odoo dependency: it is found in the project's .venv next to the addon, or
in the interpreter named by $LOCALSTRIPE_PYTHON.
"""

import json
import os
import subprocess
import urllib.request
from pathlib import Path

SECRET_KEY = "sk_test_pos_offline_sync"
VISA_OK = "4242424242424242"
VISA_DECLINED = "4000000000000341"  # localstripe declines it at confirmation

# Upstream binds every interface; bind loopback only and print the port we got.
_LAUNCH = (
    "import socket\n"
    "from aiohttp import web\n"
    "from localstripe.server import app\n"
    "s = socket.socket(); s.bind(('127.0.0.1', 0))\n"
    "print('PORT=%d' % s.getsockname()[1], flush=True)\n"
    "web.run_app(app, sock=s, print=None)\n"
)


def localstripe_python():
    candidates = [
        os.environ.get("LOCALSTRIPE_PYTHON"),
        str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "python"),
    ]
    for candidate in filter(None, candidates):
        if Path(candidate).exists():
            return candidate
    raise RuntimeError("localstripe not found: set LOCALSTRIPE_PYTHON")


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
