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
# refused. GET
# /v1/payment_intents/search answers Stripe's search for metadata and created clauses (localstripe
# has none). POST /_test/delay {"path": regex, "ms", "count"} holds the next matching requests
# (a slow Stripe that still processes what the client gave up on; the request is read first,
# the answer is late).
_LAUNCH = (
    "import asyncio, re, socket\n"
    "from aiohttp import web\n"
    "from localstripe.server import app\n"
    "rules = []\n"
    "def search(query):\n"
    "    from localstripe.resources import store\n"
    "    wanted = dict(re.findall(r\"metadata\\['([^']+)'\\]:'([^']*)'\", query))\n"
    "    after = int((re.search(r'created>(\\d+)', query) or [0, 0])[1])\n"
    "    data = [v._export() for k, v in list(store.items()) if k.startswith('payment_intent:')\n"
    "            and all((v.metadata or {}).get(a) == b for a, b in wanted.items())\n"
    "            and v.created > after]\n"
    "    return web.json_response({'object': 'search_result', 'data': data, 'has_more': False,\n"
    "                              'url': '/v1/payment_intents/search'})\n"
    "@web.middleware\n"
    "async def delay(request, handler):\n"
    "    if request.path == '/v1/payment_intents/search' and request.method == 'GET':\n"
    "        return search(request.query.get('query', ''))\n"
    "    if request.path == '/_test/delay':\n"
    "        if request.method == 'DELETE':\n"
    "            rules.clear()\n"
    "            return web.json_response({})\n"
    "        body = await request.json()\n"
    "        rules.append([re.compile(body['path']), body['ms'] / 1000, body.get('count', 1)])\n"
    "        return web.json_response({})\n"
    "    for rule in rules:\n"
    "        if rule[2] > 0 and request.method == 'POST' and rule[0].search(request.path):\n"
    "            rule[2] -= 1\n"
    "            await request.read()\n"
    "            async def late(s=rule[1]):\n"
    "                await asyncio.sleep(s)\n"
    "                return await handler(request)\n"
    "            return await asyncio.shield(asyncio.ensure_future(late()))\n"
    "    return await handler(request)\n"
    "app.middlewares.insert(0, delay)\n"
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

    def delay(self, path, ms, count=1):
        """The next `count` POSTs matching `path` (a regex) are answered `ms` late."""
        body = json.dumps({"path": path, "ms": ms, "count": count}).encode()
        request = urllib.request.Request(f"{self.url}/_test/delay", data=body, method="POST")
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - loopback test server
            pass

    def clear_delays(self):
        request = urllib.request.Request(f"{self.url}/_test/delay", method="DELETE")
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - loopback test server
            pass

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
