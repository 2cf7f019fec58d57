"""Run localstripe on the loopback interface only, keeping its data in memory.

`localstripe --port N` binds every interface ("::") and pickles its whole store, card numbers
included, to /tmp/localstripe.pickle after each write. Tests, the demo and the bench start it
through this module instead:

    python -m sandbox.localstripe_server --host 127.0.0.1 --port 0

prints exactly one line `LOCALSTRIPE_URL=http://127.0.0.1:<port>` once it listens.

`--latency-ms N` holds every answer N ms (without blocking other requests): localstripe answers
in about a millisecond where Stripe's API takes hundreds, and `make bench` uses it to show what
concurrency does when the wait is the network, not the CPU.

Tests play a slow Stripe with `POST /_test/delay` {"method", "path" (a regex), "ms", "count"}:
the next `count` matching requests are held `ms` before localstripe handles them, so a client
that gave up earlier still has its request processed afterwards, as Stripe does. `DELETE
/_test/delay` clears the rules; `GET /_test/delay` answers {"rules", "held"} (held: requests
still being held or handled), so a test can wait until every late request was processed before
it counts what Stripe holds. Only on this loopback test double.
"""

import argparse
import ipaddress
import logging
import socket
import sys


def _loopback(host):
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _latency(seconds):
    import asyncio

    from aiohttp import web

    @web.middleware
    async def delay(request, handler):
        await asyncio.sleep(seconds)
        return await handler(request)

    return delay


def _delays():
    import asyncio
    import re

    from aiohttp import web

    rules = []
    held = [0]

    async def control(request):
        if request.method == "DELETE":
            rules.clear()
        elif request.method == "GET":
            return web.json_response({"rules": len(rules), "held": held[0]})
        else:
            body = await request.json()
            rules.append(
                {
                    "method": body.get("method", "POST"),
                    "path": re.compile(body["path"]),
                    "seconds": float(body["ms"]) / 1000,
                    "count": int(body.get("count", 1)),
                }
            )
        return web.json_response({"rules": len(rules)})

    @web.middleware
    async def delay(request, handler):
        if request.path == "/_test/delay":
            return await control(request)
        if request.path == "/v1/payment_intents/search" and request.method == "GET":
            return _search(request.query.get("query", ""))
        for rule in rules:
            if (
                rule["count"] > 0
                and rule["method"] == request.method
                and rule["path"].search(request.path)
            ):
                rule["count"] -= 1
                await request.read()  # the whole request arrived; only the answer is late

                async def late(seconds=rule["seconds"]):
                    try:
                        await asyncio.sleep(seconds)
                        return await handler(request)
                    finally:
                        held[0] -= 1

                held[0] += 1

                # Shielded: a client that hangs up does not stop Stripe from processing it.
                return await asyncio.shield(asyncio.ensure_future(late()))
        return await handler(request)

    return delay


def _search(query):
    """Stripe's PaymentIntent search, for what we ask of it (localstripe has none): clauses
    `metadata['key']:'value'` and `created>N` joined by AND. Unlike Stripe's, it does not lag."""
    import re

    from aiohttp import web
    from localstripe.resources import store

    wanted = dict(re.findall(r"metadata\['([^']+)'\]:'([^']*)'", query))
    after = re.search(r"created>(\d+)", query)
    found = [
        value._export()
        for key, value in list(store.items())
        if key.startswith("payment_intent:")
        and all((value.metadata or {}).get(k) == v for k, v in wanted.items())
        and (not after or value.created > int(after.group(1)))
    ]
    return web.json_response(
        {
            "object": "search_result",
            "data": found,
            "has_more": False,
            "url": "/v1/payment_intents/search",
        }
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay of every answer")
    args = parser.parse_args(argv)
    if not _loopback(args.host):
        parser.error("localstripe is a test double: bind it to a loopback address only")

    from aiohttp import web
    from localstripe import resources, server

    # In memory only: the store holds raw test card numbers and must never reach the disk.
    resources.Store.dump_to_disk = lambda self: None
    resources.Store.try_load_from_disk = lambda self: None

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    port = sock.getsockname()[1]
    print(f"LOCALSTRIPE_URL=http://{args.host}:{port}", flush=True)
    logging.getLogger("aiohttp").setLevel(logging.WARNING)
    if args.latency_ms > 0:
        server.app.middlewares.insert(0, _latency(args.latency_ms / 1000))
    server.app.middlewares.insert(0, _delays())
    web.run_app(server.app, sock=sock, access_log=None, print=None, handle_signals=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
