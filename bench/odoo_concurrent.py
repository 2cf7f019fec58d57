"""Many registers at once (issue 10): 4 registers sending 250 offline orders each, at the same
moment, to an Odoo 19 running with `--workers 4`.

    python -m bench.odoo_concurrent --odoo-bin PATH --odoo-python PATH [--odoo-config CFG]
        [--addons-path PATHS] [--db NAME] [--port 8286] [--registers 4] [--orders 250]
        [--reuse-db]

Each register is its own headless Chromium context logged into that Odoo, running the addon's
own browser core (sync_engine.js and offline_store.js, served by Odoo) on its own IndexedDB
store, as bench/odoo_workers.py does for one: its orders are put in the store first, then all
registers start syncing together through `pos.order.offline_sync_orders`, the engine sizing
its batches. The registers share the first POS config and its session (devices of one shop)
and sell the same five goods, so their requests write the same session, products and stock.

Prints `bench concurrent_4x250_s` (from the common start until the last register is done) and
fails (exit 1) unless every order is in the database exactly once, every register's every
order was answered created (no refused or failed order, no request without an answer), and
Odoo's log shows no concurrency failure that Odoo gave up retrying. The retries Odoo made
(serialization failures it replayed) are counted and printed: they are expected, and what the
cashier must never see.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench.odoo_workers import PAGE_SCRIPT, landed, log_lines, prepare_register, report
from tools.odoo_server import LOGIN, PASSWORD, OdooServer, Rpc

ROOT = Path(__file__).resolve().parents[1]
# odoo/service/model.py retrying(): "<PGCODE>, <n> tries left, try again in ..." for each
# replay, "<PGCODE>, maximum number of tries reached!" when it gives up.
RETRIED = re.compile(
    r"(SERIALIZATION_FAILURE|DEADLOCK_DETECTED|LOCK_NOT_AVAILABLE), \d+ tries left"
)
GAVE_UP = re.compile(r"maximum number of tries reached")

# Runs PAGE_SCRIPT (the addon's engine and store) once window.__go() is called.
ARM = (
    "(args) => { window.__run = new Promise((go) => { window.__go = go; })"
    ".then(() => (" + PAGE_SCRIPT + ")(args)); }"
)


def login(page, url: str, db: str) -> None:
    answer = page.request.post(
        f"{url}/web/session/authenticate",
        data={
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"db": db, "login": LOGIN, "password": PASSWORD},
        },
    )
    if not answer.ok or "error" in answer.json():
        raise RuntimeError(f"cannot log into {db}: {answer.text()[:300]}")


def run_registers(url: str, db: str, config: dict, registers: int, orders: int):
    """(seconds from the common start until every register is done, each one's outcome)."""
    sys.path.insert(0, str(ROOT))
    from sandbox.launcher import chromium_options

    with (
        tempfile.TemporaryDirectory(prefix="pos-offline-concurrent-") as tmp,
        sync_playwright() as pw,
    ):
        contexts, pages = [], []
        try:
            for index in range(registers):
                context = pw.chromium.launch_persistent_context(
                    str(Path(tmp) / f"register-{index}"), **chromium_options()
                )
                context.set_default_timeout(0)
                contexts.append(context)
                page = context.new_page()
                login(page, url, db)
                page.goto(f"{url}/web/health")
                page.evaluate(
                    ARM,
                    {"orders": orders, "config": config, "storeName": f"concurrent-{index}"},
                )
                pages.append(page)
            start = time.perf_counter()
            for page in pages:
                page.evaluate("() => { window.__go(); }")
            outcomes = [page.evaluate("() => window.__run") for page in pages]
            return time.perf_counter() - start, outcomes
        finally:
            for context in contexts:
                context.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--odoo-bin", required=True)
    parser.add_argument("--odoo-python", required=True)
    parser.add_argument("--odoo-config")
    parser.add_argument("--addons-path", help="overrides the config's addons_path")
    parser.add_argument("--db", default="pos_offline_sync_concurrent")
    parser.add_argument("--port", type=int, default=8286, help="http; the next one is gevent")
    parser.add_argument("--registers", type=int, default=4)
    parser.add_argument("--orders", type=int, default=250, help="per register")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--reuse-db", action="store_true", help="skip dropping and installing")
    parser.add_argument("--log-dir", default=str(ROOT / "var"))
    args = parser.parse_args(argv)

    # Odoo's default time limits.
    odoo = OdooServer.from_args(args, server_args=["--workers", str(args.workers)])
    log_dir = Path(args.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    logfile = log_dir / f"odoo-concurrent-{args.db}.log"
    logfile.unlink(missing_ok=True)
    if not args.reuse_db:
        odoo.fresh_db(log_dir / f"odoo-concurrent-{args.db}-install.log")
    odoo.start(logfile)
    try:
        rpc = Rpc(odoo.url, args.db)
        config = prepare_register(rpc)
        total = args.registers * args.orders
        print(
            f"Odoo --workers {args.workers}: {args.registers} registers x {args.orders} "
            "offline orders, all starting together ...",
            flush=True,
        )
        seconds, outcomes = run_registers(odoo.url, args.db, config, args.registers, args.orders)
        uuids = [uuid for outcome in outcomes for uuid in outcome["uuids"]]
        found, distinct = landed(rpc, uuids)
    finally:
        odoo.stop()
    killed, _, errors = log_lines(logfile)
    text = logfile.read_text(errors="replace") if logfile.exists() else ""
    retried = len(RETRIED.findall(text))
    gave_up = len(GAVE_UP.findall(text))
    problems = []
    for index, outcome in enumerate(outcomes, start=1):
        calls = outcome["calls"]
        print(
            f"register {index}: {outcome['totalMs'] / 1000:.1f} s, answers {outcome['statuses']}, "
            f"batches " + ",".join(map(str, outcome["batchSizes"])),
            flush=True,
        )
        if outcome["left"] or outcome["statuses"].get("created", 0) != args.orders:
            problems.append(
                f"register {index}: not all created: {outcome['statuses']} {outcome['failed']}"
            )
        missing = [c["error"] for c in calls if c["error"]]
        if missing:
            problems.append(f"register {index}: requests without an answer: {missing[:3]}")
    if found != total or distinct != total:
        problems.append(f"{found} orders found for {total} uuids ({distinct} distinct)")
    if gave_up:
        problems.append(f"Odoo gave up retrying {gave_up} concurrency failures (its log)")
    if killed:
        problems.append(f"{len(killed)} requests killed (Odoo's log)")
    report(
        "concurrent_4x250_s",
        seconds,
        "s",
        f"{args.registers} registers x {args.orders}, --workers {args.workers}, "
        f"{found} landed, {distinct} distinct",
    )
    report("concurrent_orders_per_s", total / seconds, "orders/s")
    report("concurrent_retried_by_odoo", retried, "requests", "serialization failures replayed")
    report("concurrent_log_errors", len(errors), "lines", f"ERROR or CRITICAL in {logfile}")
    for line in errors[:10]:
        print("  " + line, flush=True)
    for problem in problems:
        print("FAIL: " + problem, flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
